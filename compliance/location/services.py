"""Location verification: register landmarks, issue challenges, store signed measurements, judge hosts.

Keyword-only functions; each write is one transaction, and the evaluation it
triggers is enqueued on commit.  Refusals store nothing: a landmark's report is
either fully verified (its signature, every agent signature, every nonce, the
challenge fresh and unused) or answered with a 4xx naming what is wrong.
"""
from __future__ import annotations

import base64
import math
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from chipwatch_agent import challenge as wire
from chipwatch_agent import protocol
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from compliance.attestation.location import location_proof
from compliance.core.destinations import default_destinations
from compliance.findings import FindingSpec, finding_raise
from compliance.models import Finding
from config.parsers import json_loads
from inventory.models import Agent, Host

from . import bounds
from .landmark import CLAIM_SCHEMA, LANDMARK_HEADER, MEASUREMENT_SCHEMA
from .models import Challenge, Landmark, Measurement

MAX_ROUNDS = 64
MAX_BODY_BYTES = 512 * 1024
_HEX_NONCE = re.compile(r"^[0-9a-f]{%d}$" % (2 * wire.NONCE_BYTES))

# Where the region check says "licence-required": Country Group D:5 and Macau, less countries also in A:5/A:6
# (Cyprus), with the EAR's aliases (Hong Kong is China), from compliance.core.destinations as of the day judged.
LICENCE_GROUPS = ("D:5", "Macau")
EXCEPTED_GROUPS = ("A:5", "A:6")
CITATION = ("Chip Security Act (S.1705 / H.R.3447, 119th Cong.): location verification of covered ICs; "
            "BIS 'Know Your Customer' red flags (Supp. No. 3 to part 732) on diversion; "
            "delay bound c·(RTT−t)/2, docs/location-verification.md")


def _setting(name: str, default):
    return getattr(settings, name, default)


def challenge_ttl() -> timedelta:
    """How long a landmark may take to put a challenge and report it: older reports are stale."""
    return timedelta(seconds=_setting("CHIPWATCH_LOCATION_CHALLENGE_TTL_S", 600))


def challenge_interval() -> timedelta:
    """The server's schedule: at most one new challenge per landmark and agent per interval."""
    return timedelta(seconds=_setting("CHIPWATCH_LOCATION_CHALLENGE_INTERVAL_S", 3600))


def measurement_max_age() -> timedelta:
    """Measurements older than this no longer say where a host is now."""
    return timedelta(seconds=_setting("CHIPWATCH_LOCATION_MAX_AGE_S", 7 * 86400))


def processing_allowance_ms() -> float:
    """A LOWER bound on the responder's processing time; 0 unless measured on the fastest hardware."""
    return float(_setting("CHIPWATCH_LOCATION_PROCESSING_ALLOWANCE_MS", 0.0))


class LocationError(Exception):
    """A refused landmark request: HTTP status, a stable code, and what is wrong."""

    def __init__(self, status: int, code: str, detail):
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


# --- landmarks -------------------------------------------------------------------


def landmark_register(*, name: str, latitude: float, longitude: float, country: str, public_key: str,
                      address: str = "") -> Landmark:
    """Record a landmark at its declared position with the public half of its signing key."""
    try:
        if len(base64.b64decode(public_key, validate=True)) != 32:
            raise ValueError
    except (ValueError, TypeError):
        raise ValidationError({"public_key": "must be a base64 raw 32-byte Ed25519 key"})
    landmark = Landmark(name=name, latitude=latitude, longitude=longitude, country=country.upper(),
                        public_key=public_key, address=address)
    landmark.full_clean()
    with transaction.atomic():
        landmark.save()
    return landmark


_LANDMARK_ID = re.compile(r"[0-9]{1,18}")


def _signed_request(*, landmark_id: str, signature: str, body: bytes, schema: str) -> tuple[Landmark, dict]:
    """Authenticate a landmark's request: the body is its canonical JSON, signed with its key."""
    if len(body) > MAX_BODY_BYTES:
        raise LocationError(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
    try:
        payload = json_loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LocationError(400, "malformed_json", str(exc)[:200])
    if not isinstance(payload, dict) or payload.get("schema") != schema:
        raise LocationError(400, "invalid_request", f"expected a JSON object with schema {schema!r}")
    if landmark_id and not _LANDMARK_ID.fullmatch(landmark_id):  # "²".isdigit() is true, int("²") raises
        raise LocationError(400, "invalid_header", f"{LANDMARK_HEADER} must be a landmark id in ASCII digits")
    landmark = Landmark.objects.filter(pk=int(landmark_id)).first() if landmark_id else None
    if landmark is None:
        raise LocationError(401, "unknown_landmark", f"no landmark {landmark_id!r}")
    if not signature or not protocol.verify(landmark.public_key, payload, signature):
        raise LocationError(401, "bad_signature", "signature does not verify against the landmark's key")
    if payload.get("landmark_id") != landmark.pk:
        raise LocationError(401, "landmark_mismatch", "the body names another landmark than the signer")
    if landmark.retired_at is not None:
        raise LocationError(403, "landmark_retired", f"landmark retired at {landmark.retired_at.isoformat()}")
    return landmark, payload


# --- challenges ------------------------------------------------------------------


def challenges_claim(*, landmark_id: str, signature: str, body: bytes, now: datetime | None = None) -> list[Challenge]:
    """The challenges a landmark should put now to the agents connected to it.

    An unused, unexpired challenge is handed out again (the landmark may have lost
    it); a new one is issued only when the last for that pair is older than the
    interval, so the server, not the landmark or the agent, sets the schedule.
    """
    landmark, payload = _signed_request(landmark_id=landmark_id, signature=signature, body=body, schema=CLAIM_SCHEMA)
    agent_ids = payload.get("agent_ids")
    if not isinstance(agent_ids, list) or not all(isinstance(a, str) for a in agent_ids) or len(agent_ids) > 1000:
        raise LocationError(400, "invalid_request", "agent_ids must be a list of at most 1000 strings")
    now = now or timezone.now()
    agents = Agent.objects.filter(pk__in=[a for a in agent_ids if _is_uuid(a)], revoked_at__isnull=True)
    claimed = []
    with transaction.atomic():
        for agent in agents:
            last = Challenge.objects.filter(landmark=landmark, agent=agent).order_by("-issued_at").first()
            if last is not None and last.used_at is None and last.expires_at > now:
                claimed.append(last)
            elif last is None or last.issued_at <= now - challenge_interval():
                claimed.append(Challenge.objects.create(
                    landmark=landmark, agent=agent, nonce=secrets.token_hex(wire.CHALLENGE_BYTES),
                    issued_at=now, expires_at=now + challenge_ttl()))
    return claimed


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --- measurements ----------------------------------------------------------------


def _rounds_checked(payload: dict, challenge: Challenge) -> list[dict]:
    """Every round names a fresh nonce under this challenge and carries the agent's signature of it."""
    rounds = payload.get("rounds")
    if not isinstance(rounds, list) or not 1 <= len(rounds) <= MAX_ROUNDS:
        raise LocationError(400, "invalid_request", f"rounds must be a list of 1-{MAX_ROUNDS} rounds")
    seen = set()
    for index, entry in enumerate(rounds):
        where = f"rounds[{index}]"
        if not isinstance(entry, dict):
            raise LocationError(400, "invalid_request", f"{where} is not an object")
        nonce, rtt = entry.get("nonce"), entry.get("rtt_ms")
        if not isinstance(nonce, str) or not _HEX_NONCE.match(nonce):
            raise LocationError(400, "invalid_request", f"{where}.nonce must be {wire.NONCE_BYTES} bytes of hex")
        if not nonce.startswith(challenge.nonce) or nonce in seen:
            raise LocationError(409, "nonce_reused", f"{where}.nonce is not a fresh nonce under this challenge")
        seen.add(nonce)
        if isinstance(rtt, bool) or not isinstance(rtt, (int, float)) or not math.isfinite(rtt) or rtt <= 0:
            raise LocationError(400, "invalid_request", f"{where}.rtt_ms must be a positive number")
        if not isinstance(entry.get("gpu_evidence"), dict):
            raise LocationError(400, "invalid_request", f"{where}.gpu_evidence must be an object (or a marker)")
        if not wire.verify_nonce(challenge.agent.public_key, bytes.fromhex(nonce), str(entry.get("signature", ""))):
            raise LocationError(422, "agent_signature_invalid",
                                f"{where}.signature is not the enrolled agent key's signature of its nonce")
    return rounds


def _gpu_attestation(rounds: list[dict]) -> str:
    """What the GPU evidence is, as stored; whether it proves the GPU itself answered is judged against the host's
    attested GPUs when the host is located (HostLocation.proof, compliance/attestation/location.py)."""
    reports = [r["gpu_evidence"] for r in rounds if "report_b64" in r["gpu_evidence"]]
    if not reports:
        return Measurement.GpuAttestation.UNSUPPORTED
    if any(report.get("synthetic", True) for report in reports):
        return Measurement.GpuAttestation.SYNTHETIC
    return Measurement.GpuAttestation.UNVERIFIED


def measurement_ingest(*, landmark_id: str, signature: str, body: bytes,
                       received_at: datetime | None = None) -> Measurement:
    """Verify and store one landmark's signed report of the round trips it timed for a challenge."""
    received_at = received_at or timezone.now()
    landmark, payload = _signed_request(landmark_id=landmark_id, signature=signature, body=body,
                                        schema=MEASUREMENT_SCHEMA)
    measured_at = parse_datetime(str(payload.get("measured_at", "")))
    if measured_at is None or measured_at.tzinfo is None:
        raise LocationError(400, "invalid_request", "measured_at must be an ISO 8601 timestamp with a zone")
    with transaction.atomic():
        challenge = (Challenge.objects.select_for_update().select_related("agent__host")
                     .filter(nonce=str(payload.get("challenge_nonce", "")), landmark=landmark).first())
        if challenge is None:
            raise LocationError(404, "unknown_challenge", "this landmark was issued no such challenge")
        if str(challenge.agent_id) != payload.get("agent_id"):
            raise LocationError(400, "agent_mismatch", "the challenge was issued for another agent")
        if challenge.used_at is not None:
            raise LocationError(409, "challenge_used", f"challenge already reported at {challenge.used_at.isoformat()}")
        if received_at > challenge.expires_at:
            raise LocationError(410, "challenge_stale", f"challenge expired at {challenge.expires_at.isoformat()}")
        if challenge.agent.revoked_at is not None:
            raise LocationError(403, "agent_revoked", "the agent's key is revoked")
        rounds = _rounds_checked(payload, challenge)
        samples = [float(r["rtt_ms"]) for r in rounds]
        measurement = Measurement.objects.create(
            challenge=challenge, landmark=landmark, agent=challenge.agent, host=challenge.agent.host,
            rtt_samples_ms=samples, rtt_min_ms=min(samples), rounds=rounds, gpu_attestation=_gpu_attestation(rounds),
            payload=payload, payload_sha256=protocol.sha256_hex(protocol.canonical_json(payload)),
            landmark_signature=signature, measured_at=measured_at, verified_at=received_at,
        )
        challenge.used_at = received_at
        challenge.save(update_fields=["used_at"])
        host_id = measurement.host_id
        transaction.on_commit(lambda: _enqueue_location_evaluation(host_id))
    return measurement


def _enqueue_location_evaluation(host_id: int) -> None:
    from .tasks import evaluate_host_location

    evaluate_host_location.delay(host_id)


# --- judging a host ----------------------------------------------------------------


@dataclass(frozen=True)
class HostLocation:
    """The latest measurement per landmark, their discs, and what they say about the declared site."""

    host: Host
    site: object
    measurements: list[Measurement]
    discs: list[bounds.Disc]
    likely_discs: list[bounds.Disc]
    assessment: bounds.Assessment

    @cached_property
    def proof(self) -> dict:
        """What the bound rests on: the agent key ("host-signed") or an attested GPU's key ("GPU-attested")."""
        return location_proof(self.measurements)


def licence_required_countries(*, codes: list[str], as_of: date) -> frozenset[str]:
    """The codes among `codes` (the atlas's) that are D:5 or Macau, and not A:5/A:6, on `as_of`."""
    groups = default_destinations()
    return frozenset(code for code in codes if groups.in_any(code, LICENCE_GROUPS, as_of)
                     and not groups.in_any(code, EXCEPTED_GROUPS, as_of))


def host_location(*, host: Host, now: datetime | None = None) -> HostLocation | None:
    """Judge a host from each active landmark's most recent measurement; None without measurements."""
    now = now or timezone.now()
    since = now - measurement_max_age()
    latest: dict[int, Measurement] = {}
    for measurement in (Measurement.objects.filter(host=host, verified_at__gte=since, landmark__retired_at__isnull=True)
                        .select_related("landmark").order_by("landmark_id", "-verified_at")):
        latest.setdefault(measurement.landmark_id, measurement)
    if not latest:
        return None
    measurements = sorted(latest.values(), key=lambda m: m.rtt_min_ms)
    allowance = processing_allowance_ms()
    discs, likely = ([bounds.Disc.from_rtt(landmark=m.landmark.name, latitude=m.landmark.latitude,
                                           longitude=m.landmark.longitude, rtt_min_ms=m.rtt_min_ms,
                                           processing_allowance_ms=allowance, kind=kind)
                      for m in measurements] for kind in (bounds.SOUND, bounds.LIKELY))
    site = host.cluster.site if host.cluster_id else None
    declared = (site.latitude, site.longitude) if site is not None and site.latitude is not None else None
    atlas = bounds.CountryAtlas.load()
    assessment = bounds.assess(discs=discs, likely_discs=likely, site=declared, atlas=atlas,
                               licence_countries=licence_required_countries(codes=atlas.codes, as_of=now.date()))
    return HostLocation(host, site, measurements, discs, likely, assessment)


_REGION_FINDINGS = {
    bounds.Assessment.INCONSISTENT: ("location_landmarks_inconsistent", Finding.Severity.MEDIUM),
    bounds.Assessment.LICENCE_ONLY: ("location_in_licence_destination", Finding.Severity.HIGH),
    bounds.Assessment.UNRESOLVED: ("location_unresolved", Finding.Severity.INFO),
}


def _region_title(located: HostLocation) -> str:
    assessment = located.assessment
    if assessment.region_verdict == bounds.Assessment.INCONSISTENT:
        return f"{located.host}: landmark discs do not intersect — a landmark's position or clock is wrong"
    if assessment.region_verdict == bounds.Assessment.LICENCE_ONLY:
        return (f"{located.host}: measured location lies only in licence-required destinations "
                f"({', '.join(assessment.countries)})")
    return (f"{located.host}: measured location cannot be tied to a destination that needs no licence "
            f"(region touches {', '.join(assessment.countries) or 'no land'})")


def _impossible_title(located: HostLocation) -> str:
    worst = max(located.assessment.excluding_discs, key=lambda d: d["distance_km"] - d["radius_km"])
    return (f"{located.host}: declared site {located.site} is physically impossible — {worst['landmark']} timed "
            f"{worst['rtt_min_ms']} ms, so the host is within {worst['radius_km']:.0f} km of it, "
            f"but the site is {worst['distance_km']:.0f} km away")


def host_location_evaluate(*, host_id: int) -> HostLocation | None:
    """Raise (or refresh) the findings the host's current discs call for; nothing when they agree with it.

    Two questions, two findings: is the declared site possible at all (strong, physics),
    and which destinations can the host be in (licence-only: strong; unresolved: evidence only).
    """
    host = Host.objects.select_related("cluster__site").filter(pk=host_id).first()
    located = host_location(host=host) if host is not None else None
    if located is None:
        return located
    assessment = located.assessment
    raised = []
    if assessment.site_excluded:
        raised.append(("location_impossible", Finding.Severity.HIGH, _impossible_title(located)))
    if assessment.region_verdict in _REGION_FINDINGS:
        raised.append((*_REGION_FINDINGS[assessment.region_verdict], _region_title(located)))
    figures = {
        "measurement_ids": [m.id for m in located.measurements],
        "discs": [{"landmark": d.landmark, "latitude": d.latitude, "longitude": d.longitude,
                   "rtt_min_ms": round(d.rtt_min_ms, 3), "radius_km": round(d.radius_km, 1), "speed": "vacuum"}
                  for d in located.discs],
        "processing_allowance_ms": processing_allowance_ms(),
        "declared_site": None if located.site is None else {
            "id": located.site.id, "country": located.site.country,
            "latitude": located.site.latitude, "longitude": located.site.longitude},
        "excluding_discs": assessment.excluding_discs,
        "region_countries": assessment.countries,
        "gpu_attestation": sorted({m.gpu_attestation for m in located.measurements}),
        "proof": located.proof,
    }
    for kind, severity, title in raised:
        finding_raise(spec=FindingSpec(
            kind=kind, severity=severity, subject_type=Finding.Subject.HOST, subject_id=host.id,
            dedup_key=f"{kind}:host:{host.id}", title=title, citation=CITATION, figures=figures,
            cluster_id=host.cluster_id, organization_id=host.cluster.operator_id if host.cluster_id else None,
        ))
    return located
