"""chipwatch-agent command line: collect, record, enroll, run, status.

Exit codes: 0 success, 1 runtime failure (server refused, I/O error),
2 bad input (usage, unknown profile), 3 not enrolled or unusable config/key,
4 `collect` found NVML unusable (no driver or library; the status report is still printed).
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Optional, Tuple

from . import __version__, protocol
from . import snapshot as snap
from .collector import Collector
from .report import NIL_AGENT_ID, build_report, pynvml_version
from .spool import Spool
from .state import AgentState, Config, ConfigError, Paths, load_private_key

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_NOT_ENROLLED, EXIT_NO_NVML = 0, 1, 2, 3, 4

log = logging.getLogger("chipwatch_agent")


class UsageError(Exception):
    """Bad input on the command line (exit 2)."""


class AlreadyRunning(Exception):
    """Another `run` holds the state directory (exit 1)."""


def open_nvml(fake: Optional[str]) -> Tuple[Any, str]:
    """The NVML module and the backend name the reports will carry."""
    if fake is None:
        import pynvml

        return pynvml, "nvml"
    from .nvml_fake import FakeNvml

    try:
        return FakeNvml.from_profile(fake), "fake"
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from exc
    except ValueError as exc:
        raise UsageError(f"{fake}: {exc}") from exc


def parse_nonce(text: Optional[str]) -> Optional[bytes]:
    if text is None:
        return None
    try:
        nonce = bytes.fromhex(text)
    except ValueError:
        nonce = b""
    if len(nonce) != 32:
        raise UsageError("--nonce must be 64 hex digits (32 bytes)")
    return nonce


# -- commands --------------------------------------------------------------------


def cmd_collect(args: argparse.Namespace) -> int:
    nvml, backend = open_nvml(args.fake_nvml)
    collector = Collector(nvml)
    try:
        collection = collector.collect(parse_nonce(args.nonce))
    finally:
        collector.close()
    config = Config.load(args.paths.config)
    report = build_report(collection, agent_id=config.agent_id or NIL_AGENT_ID, sequence=0, backend=backend)
    status = report["nvml_status"]
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    else:
        print(f"NVML: {'ok' if status['ok'] else status['error'] + ' - ' + status.get('message', '')}")
        for gpu in report["identity"]["gpus"]:
            links = gpu.get("nvlinks", [])
            active = sum(1 for link in links if link.get("state") == "active") if isinstance(links, list) else links
            print(f"GPU {gpu['index']}: {gpu['name']} {gpu['uuid']} active NVLinks: {active}")
    if not status["ok"]:
        # A script or an installer checking this host must not read "no GPUs" as success.
        print(f"chipwatch-agent: NVML unusable: {status['error']} {status.get('message', '')}".rstrip(),
              file=sys.stderr)
        return EXIT_NO_NVML
    return EXIT_OK


def cmd_record(args: argparse.Namespace) -> int:
    nvml, backend = open_nvml(args.fake_nvml)
    recorder = snap.RecordingNvml(nvml)
    collector = Collector(recorder)
    nonce = parse_nonce(args.nonce)
    for _ in range(args.cycles):
        collector.collect(nonce)
    collector.close()
    data = snap.dumps(recorder.snapshot(source="chipwatch-agent record", backend=backend,
                                        pynvml_version=pynvml_version(), synthetic=backend != "nvml"))
    Path(args.out).write_bytes(data)
    print(f"recorded {len(recorder.calls)} NVML calls to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_enroll(args: argparse.Namespace) -> int:
    from .enrollment import enroll

    if args.secret_file:
        source = sys.stdin if args.secret_file == "-" else open(args.secret_file, encoding="utf-8")
        with source:
            secret = source.read().strip()
    else:
        secret = args.secret
    config = enroll(args.paths, args.server, secret, force=args.force)
    print(f"enrolled as agent {config.agent_id} (host {config.host_id}) with {config.server_url}")
    print(f"config: {args.paths.config}  key: {args.paths.key}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .daemon import Agent
    from .transport import Sender

    config = Config.load(args.paths.config)
    if not config.enrolled:
        raise ConfigError(f"not enrolled (no server/agent id in {args.paths.config}): run `chipwatch-agent enroll`")
    key = load_private_key(args.paths.key)
    nvml, backend = open_nvml(args.fake_nvml)
    lock = _single_instance_lock(args.paths.state_dir)
    sender = Sender(config.server_url, config.agent_id, key, config.request_timeout_seconds)
    with lock:
        agent = Agent(args.paths, config, nvml, backend, sender)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if config.landmarks:
            from .challenge import GpuEvidence, serve_challenges

            landmarks = [(a.rpartition(":")[0].strip("[]"), int(a.rpartition(":")[2])) for a in config.landmarks]
            # The landmarks' answers get their own NVML view: the fake backend's replay is not thread-safe.
            evidence_nvml = open_nvml(args.fake_nvml)[0] if args.fake_nvml else nvml
            serve_challenges(landmarks=landmarks, agent_id=config.agent_id, private_key=key, stop=stop,
                             evidence=GpuEvidence(evidence_nvml, synthetic=backend != "nvml"))
        interval = args.interval or config.interval_seconds
        log.info("chipwatch-agent %s running: every %ss to %s (backend %s)", __version__, interval,
                 config.server_url, backend)
        agent.run(interval, stop, once=args.once)
    log.info("stopped; %d report(s) left in the spool", len(agent.spool.entries()))
    return EXIT_OK


def _single_instance_lock(state_dir: Path):
    """One `run` per state directory: two would hand out the same sequence numbers."""
    import fcntl

    handle = open(state_dir / "run.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunning(f"another chipwatch-agent run is using {state_dir}") from None
    return handle


def cmd_status(args: argparse.Namespace) -> int:
    config = Config.load(args.paths.config)
    state = AgentState.load(args.paths.state)
    spool = Spool(args.paths.spool, config.spool_max_files, config.spool_max_bytes)
    entries = spool.entries()
    status = {
        "enrolled": config.enrolled,
        "server_url": config.server_url or None,
        "agent_id": config.agent_id or None,
        "key_present": args.paths.key.exists(),
        "spool_depth": len(entries),
        "spool_bytes": sum(entry.size for entry in entries),
        "dropped_reports": state.dropped_unacknowledged,
        "dropped_total": state.dropped_total,
        "rejected_reports": state.rejected_reports,
        "last_success_at": state.last_success_at,
        "last_error": state.last_error,
        "last_error_at": state.last_error_at,
        "unauthorized": state.unauthorized,
        "spool_error": state.spool_error,
        "next_sequence": state.next_sequence,
    }
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        for key, value in status.items():
            print(f"{key:17} {value if value is not None else '-'}")
    return EXIT_OK if config.enrolled else EXIT_NOT_ENROLLED


# -- parser ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", help="state directory (default $CHIPWATCH_AGENT_STATE_DIR or "
                                            "/var/lib/chipwatch-agent)")
    common.add_argument("--config", help="config file (default STATE_DIR/config.json)")
    common.add_argument("--fake-nvml", metavar="PROFILE_OR_FILE",
                        help="replay a shipped profile or a snapshot file instead of the GPU "
                             "(reports are marked synthetic)")
    common.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    parser = argparse.ArgumentParser(prog="chipwatch-agent", description="chipwatch GPU host agent")
    parser.add_argument("--version", action="version", version=f"chipwatch-agent {__version__} "
                                                               f"(report {protocol.SCHEMA_ID})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    collect = commands.add_parser("collect", parents=[common], help="print one report (unsigned)")
    collect.add_argument("--json", action="store_true", help="the full report as JSON")
    collect.add_argument("--nonce", help="64 hex digits: also collect attestation evidence over it")
    collect.set_defaults(func=cmd_collect)

    record = commands.add_parser("record", parents=[common], help="write every NVML call to a snapshot")
    record.add_argument("--out", required=True, help="snapshot file to write")
    record.add_argument("--cycles", type=int, default=1, help="collection cycles to record (default 1)")
    record.add_argument("--nonce", help="64 hex digits: also record attestation calls")
    record.set_defaults(func=cmd_record)

    enroll = commands.add_parser("enroll", parents=[common], help="register this host's key with the server")
    enroll.add_argument("--server", required=True, help="server URL, e.g. https://chipwatch.example.com")
    secret = enroll.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret", help="enrollment secret (visible in the process list; prefer --secret-file)")
    secret.add_argument("--secret-file", help="file holding the enrollment secret, '-' for stdin")
    enroll.add_argument("--force", action="store_true", help="enroll again with a new key")
    enroll.set_defaults(func=cmd_enroll)

    run = commands.add_parser("run", parents=[common], help="collect and deliver reports until stopped")
    run.add_argument("--interval", type=float, help="seconds between collections (default from config)")
    run.add_argument("--once", action="store_true", help="one cycle, one delivery attempt, then exit")
    run.set_defaults(func=cmd_run)

    status = commands.add_parser("status", parents=[common], help="enrollment, spool and delivery state")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s chipwatch-agent %(levelname)s %(message)s")
    args.paths = Paths.resolve(args.state_dir, args.config)
    if getattr(args, "cycles", 1) < 1 or (getattr(args, "interval", None) or 1) <= 0:
        print("chipwatch-agent: --cycles and --interval must be positive", file=sys.stderr)
        return EXIT_USAGE
    from .enrollment import EnrollmentError

    try:
        return args.func(args)
    except UsageError as exc:
        print(f"chipwatch-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"chipwatch-agent: {exc}", file=sys.stderr)
        return EXIT_NOT_ENROLLED
    except (EnrollmentError, AlreadyRunning, OSError) as exc:
        print(f"chipwatch-agent: {exc}", file=sys.stderr)
        return EXIT_FAILURE
