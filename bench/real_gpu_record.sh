#!/usr/bin/env bash
# Run on a machine with a real NVIDIA GPU (e.g. through the device tool), from the repository root:
#   bash bench/real_gpu_record.sh
# Installs the agent in a throwaway venv, records one NVML snapshot (values *and* errors, with an
# attestation nonce), collects one report from real NVML, runs `nvidia-smi -q -x` for comparison,
# and times both.  Everything lands in $OUT (or ./real-gpu-out): copy the snapshot to
# tests/fixtures/nvml/<gpu>-<driver>.json, where tests/unit/agent/test_real_snapshots.py replays it.
# When the GPUs are in confidential-computing mode it also records, per GPU, the attestation report over a fresh
# nonce and the attestation certificate chain (attestation/gpu<N>-report.bin, gpu<N>-certchain.pem, nonce.hex),
# times report generation on GPU 0 (5 fresh nonces: the processing time a GPU-attested location bound must allow),
# and verifies the evidence with chipwatch's offline verifier: the next device session can add it as a live fixture
# (manage.py verify_attestation --report ... --cert-chain ... --nonce ... --json).
# The attestation part was written without a CC-mode GPU at hand: correct by reading pynvml and NVIDIA's verifier,
# not yet run on hardware.
set -euo pipefail
out="${OUT:-$PWD/real-gpu-out}"
mkdir -p "$out"
venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q ./agents
nonce="$(python3 -c 'import os; print(os.urandom(32).hex())')"
state="$(mktemp -d)"

t0=$(date +%s.%N)
"$venv/bin/chipwatch-agent" record --state-dir "$state" --out "$out/snapshot.json" --nonce "$nonce" --cycles 2 \
  2> "$out/record.stderr"
t1=$(date +%s.%N)
"$venv/bin/chipwatch-agent" collect --state-dir "$state" --json > "$out/report.json" 2> "$out/collect.stderr"
t2=$(date +%s.%N)
nvidia-smi -q -x > "$out/nvidia-smi.xml" 2> "$out/nvidia-smi.stderr" || true
t3=$(date +%s.%N)
nvidia-smi nvlink -s > "$out/nvlink-status.txt" 2>&1 || true
nvidia-smi -q > "$out/nvidia-smi.txt" 2>&1 || true

# Confidential computing: state, and evidence per GPU when CC is on (pynvml, as NVIDIA's verifier reads it:
# verifier/nvml/__init__.py, gpu_cert_chains.py).  Never fails the recording.
nvidia-smi conf-compute -f > "$out/conf-compute.txt" 2>&1 || true
nvidia-smi conf-compute -grs >> "$out/conf-compute.txt" 2>&1 || true
mkdir -p "$out/attestation"
echo "$nonce" > "$out/attestation/nonce.hex"
PYTHONPATH="$PWD" "$venv/bin/python" - "$out/attestation" "$nonce" <<'PY' > "$out/attestation/summary.json" || true
import json, os, sys, time
from datetime import datetime, timezone
import pynvml
out, nonce = sys.argv[1], bytes.fromhex(sys.argv[2])
pynvml.nvmlInit()
try:
    state = pynvml.nvmlSystemGetConfComputeState()
    summary = {"cc_feature": state.ccFeature, "environment": state.environment, "dev_tools_mode": state.devToolsMode}
except pynvml.NVMLError as exc:
    summary = {"cc_state_error": str(exc)}
gpus = []
if summary.get("cc_feature") == 1:
    from compliance.attestation.verifier import verify_evidence  # pure: needs only `cryptography`
    for index in range(pynvml.nvmlDeviceGetCount()):
        entry = {"index": index}
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            report = pynvml.nvmlDeviceGetConfComputeGpuAttestationReport(handle, nonce)
            data = bytes(report.attestationReport[: report.attestationReportSize])
            chain = pynvml.nvmlDeviceGetConfComputeGpuCertificate(handle)
            pem = bytes(chain.attestationCertChain[: chain.attestationCertChainSize])
            open(f"{out}/gpu{index}-report.bin", "wb").write(data)
            open(f"{out}/gpu{index}-certchain.pem", "wb").write(pem)
            result = verify_evidence(report=data, cert_chain=pem, now=datetime.now(timezone.utc), expected_nonce=nonce)
            entry.update(report_bytes=len(data), chain_bytes=len(pem), verified=result.verified, chip=result.chip,
                         reasons=result.reasons, binds=result.binds)
            if index == 0:
                timings = []
                for _ in range(5):
                    fresh = os.urandom(32)
                    start = time.perf_counter()
                    pynvml.nvmlDeviceGetConfComputeGpuAttestationReport(handle, fresh)
                    timings.append(round((time.perf_counter() - start) * 1000, 3))
                entry["report_generation_ms"] = timings
        except pynvml.NVMLError as exc:
            entry["error"] = str(exc)
        gpus.append(entry)
summary["gpus"] = gpus
print(json.dumps(summary, indent=2))
PY

python3 - "$out" "$t0" "$t1" "$t2" "$t3" <<'PY'
import json, sys
out, t0, t1, t2, t3 = sys.argv[1], *map(float, sys.argv[2:])
report = json.load(open(f"{out}/report.json"))
gpus = (report.get("identity") or {}).get("gpus", [])
summary = {
    "record_2_cycles_s": round(t1 - t0, 3), "collect_s": round(t2 - t1, 3), "nvidia_smi_q_x_s": round(t3 - t2, 3),
    "nvml_status": report["nvml_status"], "driver": report["host"].get("driver_version"),
    "gpus": [{"name": g["name"], "pci_device_id": (g["pci"] or {}).get("device_id"),
              "active_links": sum(1 for l in g.get("nvlinks", []) if isinstance(l, dict) and l.get("state") == "active")
              if isinstance(g.get("nvlinks"), list) else g.get("nvlinks")} for g in gpus],
}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
