"""The agent's side of location verification: answer a landmark's nonce at once, signed.

A landmark (a chipwatch server at a declared, trusted location) sends a fresh
32-byte nonce; the agent answers with the nonce signed by its enrolled Ed25519 key
and, where the GPU supports confidential computing, the GPU's attestation report
over that same nonce.  The landmark times the round trip: the answer cannot have
been produced farther away than light travels in half that time.

Transport: the agent dials OUT to each landmark (plain TCP, one canonical-JSON
object per line) and keeps the connection open; the landmark sends nonces down it.
GPU hosts sit behind NAT and firewalls that allow outbound connections only, and
the direction of the connection does not change the measurement: the landmark's
clock starts when it writes the nonce and stops when the answer arrives.  TCP, not
UDP, so lost packets show up as slow rounds (the landmark keeps the minimum) rather
than as a protocol to get right; Nagle is switched off on both ends.

    agent → landmark   {"type":"hello","agent_id":…,"protocol":1}
    landmark → agent   {"type":"challenge","nonce":<64 hex>}
    agent → landmark   {"type":"answer","nonce":…,"signature":<b64>,"gpu_evidence":{…}}

What the signature proves, and what it does not: the agent key lives on a host the
operator controls, so a host owner can copy it to a machine near a landmark.  Only
the GPU's attestation key (NVIDIA confidential-computing attestation, SPDM) ties the answer to the chip; the server
never treats evidence it could not verify as a pass.

Shared with the landmark (compliance/location/landmark.py) like protocol.py is:
the signed bytes and the framing are defined once, here.  Standard library and
`cryptography` only.
"""
from __future__ import annotations

import argparse
import base64
import json
import logging
import random
import socket
import threading
import time
from typing import Any, Optional

from . import protocol

PROTOCOL_VERSION = 1
NONCE_BYTES = 32  # NVML_CC_GPU_CEC_NONCE_SIZE: the same nonce can go to the GPU unchanged
# The server's challenge fills the first half of every nonce, the landmark's fresh randomness the rest.
CHALLENGE_BYTES = 16
MAX_LINE_BYTES = 64 * 1024
# Domain separation: a location answer can never be mistaken for a signed report.
SIGNED_PREFIX = b"chipwatch.location/v1\n"

log = logging.getLogger("chipwatch_agent.challenge")


def unsupported() -> dict:
    """The marker for "no GPU evidence": the same shape the collector uses for NotSupported."""
    return {"unsupported": True}


def sign_nonce(private_key, nonce: bytes) -> str:
    return base64.b64encode(private_key.sign(SIGNED_PREFIX + nonce)).decode("ascii")


def verify_nonce(public_key_b64: str, nonce: bytes, signature_b64: str) -> bool:
    """True when `signature_b64` is the enrolled key's signature of this nonce."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(base64.b64decode(signature_b64, validate=True), SIGNED_PREFIX + nonce)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class LineSocket:
    """One JSON object per line over a TCP socket, with a read deadline that survives timeouts."""

    def __init__(self, sock: socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._buffer = b""

    def send(self, message: dict) -> None:
        self.sock.sendall(protocol.canonical_json(message) + b"\n")

    def receive(self, timeout: Optional[float] = None) -> Optional[dict]:
        """The next object, or None on timeout; ConnectionError when the peer is gone or speaks nonsense."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ConnectionError("line too long")
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.sock.settimeout(remaining)
            else:
                self.sock.settimeout(None)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                raise ConnectionError("peer closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise ConnectionError(f"not JSON: {exc}") from None
        if not isinstance(message, dict):
            raise ConnectionError("not a JSON object")
        return message

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class GpuEvidence:
    """The GPU's confidential-computing attestation report over a nonce, or a marker.

    One GPU per round, in turn, so each round's answer stays one report long.
    NotSupported (no CC mode, pre-Hopper, no NVML) is remembered: the capability does
    not change while the host runs, and asking again would only add to the timing.
    Reports from the fake NVML backend are marked `synthetic` and the server never
    counts them as attestation.
    """

    def __init__(self, nvml: Any = None, *, synthetic: bool = False):
        self.synthetic = synthetic
        self._collector = None
        self._unsupported = nvml is None
        if nvml is not None:
            from .collector import Collector

            self._collector = Collector(nvml)

    def over(self, nonce: bytes, round_index: int) -> dict:
        if self._unsupported:
            return unsupported()
        from .collector import is_marker

        collector = self._collector
        if not collector.init()["ok"]:
            return {"error": "NvmlInit"}
        count = collector.read("nvmlDeviceGetCount")
        if is_marker(count):
            self._unsupported = bool(count.get("unsupported"))
            return count
        if count == 0:
            self._unsupported = True
            return unsupported()
        index = round_index % count
        handle = collector.read("nvmlDeviceGetHandleByIndex", index)
        if is_marker(handle):
            return handle
        report = collector.read("nvmlDeviceGetConfComputeGpuAttestationReport", handle, nonce, convert=lambda r: (
            base64.b64encode(bytes(r.attestationReport[: r.attestationReportSize])).decode("ascii")))
        if is_marker(report):
            self._unsupported = bool(report.get("unsupported"))
            return report
        return {"gpu_index": index, "report_b64": report, "synthetic": self.synthetic}


def answer(message: dict, *, private_key, evidence: GpuEvidence, round_index: int) -> Optional[dict]:
    """The reply to one landmark message: a signed answer to a challenge, None to anything else."""
    if message.get("type") != "challenge":
        return None
    try:
        nonce = bytes.fromhex(message["nonce"])
    except (KeyError, TypeError, ValueError):
        return None
    if len(nonce) != NONCE_BYTES:
        return None
    return {"type": "answer", "nonce": message["nonce"], "signature": sign_nonce(private_key, nonce),
            "gpu_evidence": evidence.over(nonce, round_index)}


def serve_connection(link: LineSocket, *, agent_id: str, private_key, evidence: GpuEvidence) -> None:
    """Say hello, then answer every challenge on this connection until it closes."""
    link.send({"type": "hello", "agent_id": agent_id, "protocol": PROTOCOL_VERSION})
    rounds = 0
    while True:
        reply = answer(link.receive(), private_key=private_key, evidence=evidence, round_index=rounds)
        if reply is not None:
            link.send(reply)
            rounds += 1


def serve_landmark(address: tuple[str, int], *, agent_id: str, private_key, evidence: GpuEvidence,
                   stop: threading.Event, backoff_s: tuple[float, float] = (1.0, 60.0)) -> None:
    """Keep one connection to a landmark open, reconnecting with full-jitter backoff."""
    attempt = 0
    while not stop.is_set():
        try:
            sock = socket.create_connection(address, timeout=10)
        except OSError as exc:
            log.warning("landmark %s:%s unreachable: %s", *address, exc)
        else:
            attempt = 0
            link = LineSocket(sock)
            closer = threading.Thread(target=lambda: (stop.wait(), link.close()), daemon=True)
            closer.start()
            try:
                serve_connection(link, agent_id=agent_id, private_key=private_key, evidence=evidence)
            except (ConnectionError, OSError) as exc:
                log.info("landmark %s:%s connection ended: %s", *address, exc)
            finally:
                link.close()
        attempt += 1
        stop.wait(random.uniform(0, min(backoff_s[1], backoff_s[0] * 2 ** min(attempt, 16))))


def serve_challenges(*, landmarks: list[tuple[str, int]], agent_id: str, private_key,
                     evidence: Optional[GpuEvidence] = None, stop: Optional[threading.Event] = None) -> threading.Event:
    """Answer challenges from every landmark, one daemon thread each; returns the event that stops them."""
    stop = stop or threading.Event()
    evidence = evidence or GpuEvidence()
    for address in landmarks:
        threading.Thread(target=serve_landmark, args=(address,), daemon=True, name=f"landmark-{address[0]}",
                         kwargs=dict(agent_id=agent_id, private_key=private_key, evidence=evidence, stop=stop)).start()
    return stop


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _evidence_from_args(args: argparse.Namespace) -> GpuEvidence:
    if args.fake_nvml:
        from .nvml_fake import FakeNvml

        return GpuEvidence(FakeNvml.from_profile(args.fake_nvml), synthetic=True)
    if args.no_gpu:
        return GpuEvidence()
    try:
        import pynvml
    except ImportError:
        return GpuEvidence()
    return GpuEvidence(pynvml)


def main(argv: Optional[list[str]] = None) -> int:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    parser = argparse.ArgumentParser(prog="python -m chipwatch_agent.challenge", description=__doc__.split("\n\n")[0])
    parser.add_argument("--landmark", action="append", type=_address, required=True, help="HOST:PORT, repeatable")
    parser.add_argument("--agent-id", required=True)
    parser.add_argument("--key-file", required=True, help="the agent's enrolled Ed25519 key, PEM (PKCS#8)")
    parser.add_argument("--fake-nvml", metavar="PROFILE", help="answer GPU evidence from a fake NVML profile")
    parser.add_argument("--no-gpu", action="store_true", help="never ask NVML (answers carry the unsupported marker)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with open(args.key_file, "rb") as handle:
        private_key = load_pem_private_key(handle.read(), password=None)
    stop = serve_challenges(landmarks=args.landmark, agent_id=args.agent_id, private_key=private_key,
                            evidence=_evidence_from_args(args))
    try:
        stop.wait()
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
