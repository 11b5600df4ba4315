"""The agent's files: configuration, signing key and a small state file.

Everything is written atomically (temp file, fsync, rename, fsync of the
directory), so a crash or power cut leaves either the old or the new content,
and secrets are 0600 in a 0700 directory.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import List, Optional

log = logging.getLogger("chipwatch_agent")

DEFAULT_STATE_DIR = "/var/lib/chipwatch-agent"
STATE_DIR_ENV = "CHIPWATCH_AGENT_STATE_DIR"


class ConfigError(Exception):
    """The configuration or key cannot be used; the message says what to do."""


def resolve_state_dir(explicit: Optional[str] = None) -> Path:
    return Path(explicit or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` so that readers see the old or the new file, never a torn one."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def ensure_private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


@dataclass
class Config:
    """Operator settings plus what enrollment learned (server URL, agent id)."""

    server_url: str = ""
    agent_id: str = ""
    host_id: Optional[int] = None
    interval_seconds: float = 60.0
    spool_max_files: int = 10000
    spool_max_bytes: int = 256 * 1024 * 1024
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 600.0
    request_timeout_seconds: float = 30.0
    # How often to ask the server for a nonce the GPUs sign (CC-mode attestation); NVIDIA's fleet agent: 24 h.
    attestation_interval_seconds: float = 86400.0
    # "HOST:PORT" of location-verification landmarks the agent dials out to (works through NAT).
    landmarks: List[str] = field(default_factory=list)

    @property
    def enrolled(self) -> bool:
        return bool(self.server_url and self.agent_id)

    @classmethod
    def load(cls, path: Path) -> "Config":
        """The config at `path`; a missing file is an empty (not enrolled) config."""
        try:
            raw = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"config {path} must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ConfigError(f"config {path}: unknown setting(s) {', '.join(unknown)}")
        config = cls(**raw)
        for name in ("interval_seconds", "spool_max_files", "spool_max_bytes", "backoff_base_seconds",
                     "backoff_cap_seconds", "request_timeout_seconds", "attestation_interval_seconds"):
            value = getattr(config, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"config {path}: {name} must be a positive number, not {value!r}")
        if not isinstance(config.landmarks, list) or not all(
            isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in config.landmarks
        ):
            raise ConfigError(f"config {path}: landmarks must be a list of \"HOST:PORT\" strings")
        return config

    def save(self, path: Path) -> None:
        write_atomic(path, (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode("utf-8"))


def load_private_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ConfigError(f"no agent key at {path}: run `chipwatch-agent enroll` first") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read agent key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"agent key {path} is not an Ed25519 key")
    return key


def save_private_key(path: Path, key) -> None:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomic(path, pem, mode=0o600)


@dataclass
class AgentState:
    """What survives a restart besides the spool: the sequence counter and what
    `chipwatch-agent status` shows."""

    next_sequence: int = 1
    dropped_total: int = 0  # reports ever dropped (spool full or unwritable); only grows
    dropped_acknowledged: int = 0  # the dropped_total the server has acknowledged a report for
    rejected_reports: int = 0
    last_success_at: Optional[str] = None
    last_error: Optional[str] = None
    last_error_at: Optional[str] = None
    unauthorized: bool = False
    spool_error: Optional[str] = None
    attestation_nonce: Optional[str] = None
    attestation_requested_at: Optional[float] = None  # agent clock, seconds

    @property
    def dropped_unacknowledged(self) -> int:
        return self.dropped_total - self.dropped_acknowledged

    @classmethod
    def load(cls, path: Path) -> "AgentState":
        try:
            raw = json.loads(path.read_text("utf-8"))
            known = {f.name for f in fields(cls)}
            return cls(**{key: value for key, value in raw.items() if key in known})
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, TypeError) as exc:
            log.error("state file %s unreadable (%s); starting from defaults", path, exc)
            return cls()

    def save(self, path: Path) -> None:
        write_atomic(path, (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode("utf-8"))


@dataclass(frozen=True)
class Paths:
    state_dir: Path
    config: Path

    @classmethod
    def resolve(cls, state_dir: Optional[str] = None, config: Optional[str] = None) -> "Paths":
        directory = resolve_state_dir(state_dir)
        return cls(directory, Path(config) if config else directory / "config.json")

    @property
    def key(self) -> Path:
        return self.state_dir / "agent_key.pem"

    @property
    def state(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def spool(self) -> Path:
        return self.state_dir / "spool"
