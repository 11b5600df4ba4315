"""Enrollment: the agent makes its own Ed25519 key and registers only the public half."""
from __future__ import annotations

import ipaddress
import logging
import uuid
from typing import Optional
from urllib.parse import urlsplit

import requests

from . import protocol
from .report import host_facts
from .state import Config, ConfigError, Paths, ensure_private_dir, save_private_key

log = logging.getLogger("chipwatch_agent")


class EnrollmentError(Exception):
    """The server did not accept the enrollment; the message carries its answer."""


def check_server_url(url: str) -> str:
    """A bare http(s)://host[:port][/prefix] URL; plain http only draws a warning off loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"server URL {url!r} must look like https://chipwatch.example.com")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"server URL {url!r} must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        log.warning("server URL %s is plain http: reports are signed but not confidential", url)
    return url.rstrip("/")


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def enroll(paths: Paths, server_url: str, secret: str, *, force: bool = False,
           session: Optional[requests.Session] = None, timeout_s: float = 30.0) -> Config:
    """Register a fresh key with the server and store key and config (0600)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    server_url = check_server_url(server_url)
    if not secret:
        raise ConfigError("an enrollment secret is required")
    config = Config.load(paths.config)
    if config.enrolled and paths.key.exists() and not force:
        raise ConfigError(f"already enrolled as agent {config.agent_id} with {config.server_url}; "
                          "pass --force to enroll again with a new key")
    key = Ed25519PrivateKey.generate()
    facts = host_facts()
    body = {
        "secret": secret,
        "public_key": protocol.public_key_b64(key),
        "hostname": facts["hostname"],
        "machine_id": facts["machine_id"] if isinstance(facts["machine_id"], str) else "",
    }
    try:
        response = (session or requests.Session()).post(
            server_url + "/api/v1/agents/enroll", json=body, timeout=timeout_s, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise EnrollmentError(f"cannot reach {server_url}: {exc}") from exc
    if response.status_code != 201:
        raise EnrollmentError(f"server refused enrollment: HTTP {response.status_code} {response.text[:300]}")
    try:
        answer = response.json()
        agent_id = str(uuid.UUID(answer["agent_id"]))
        host_id = answer.get("host_id")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EnrollmentError(f"unexpected enrollment answer: {response.text[:300]}") from exc
    ensure_private_dir(paths.state_dir)
    ensure_private_dir(paths.config.parent)
    save_private_key(paths.key, key)  # the key first: a config must never point at a missing key
    config.server_url, config.agent_id, config.host_id = server_url, agent_id, host_id
    config.save(paths.config)
    return config
