#!/usr/bin/env bash
# Run on a machine with a real NVIDIA GPU (e.g. through the device tool), from the repository root:
#   bash bench/real_gpu_record.sh
# Installs the agent in a throwaway venv, records one NVML snapshot (values *and* errors, with an
# attestation nonce), collects one report from real NVML, runs `nvidia-smi -q -x` for comparison,
# and times both.  Everything lands in $OUT (or ./real-gpu-out): copy the snapshot to
# tests/fixtures/nvml/<gpu>-<driver>.json, where tests/unit/agent/test_real_snapshots.py replays it.
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
