"""transfers — a declared shipment that needed a licence, with none on record.

Pattern.  Every declared transfer (inventory.Transfer: a GPU moved from one site to another on
a date) gets its own licence determination at its own date, origin and destination
(``services.transfer_verdicts``): the GPU's catalog model classified under the rules in force
on the effective date; the movement is an export from the United States when it leaves a US
site, a re-export when it leaves a foreign site for another country, an in-country transfer
when it stays in a foreign country, unknown when no origin site is declared (the 91 FR 1684
case-by-case policy, for one, depends on it); the receiving site's owner (and its ultimate
parent) are the parties.  Raised and closed by ``services.transfers_check``: raised when the
determination says licence required and no licence on record covers it, closed by the system
(naming the licence) once one does.

Rule.  15 CFR 742.6(a)(6), 744.23 and the other requirements ``determine_license`` applies;
15 CFR 758.1 (the export clearance record: the licence number goes with the shipment).

Evidence.  The transfer (id, GPU UUID, date, origin and destination sites and countries,
movement, the licence number it declared), the determination with its reasons, the licences
on record that were checked, and the observation that last described the GPU.

Severity.  Critical when the governing review policy is a presumption of denial; high otherwise.
"""
from __future__ import annotations

from ..core.destinations import PRESUMPTION_OF_DENIAL
from ..findings import FindingSpec
from ._fleet import Severity, Subject
from .licence_gap import COVERED, NOT_REQUIRED, REQUIRED_UNLICENSED

KIND = "transfer.unlicensed"
CITATION = "15 CFR 742.6(a)(6) and 744.23 (licence determination at the transfer's date); 15 CFR 758.1"


def dedup_key(transfer_id: int) -> str:
    return f"{KIND}:transfer{transfer_id}"


def unlicensed_spec(verdict: dict) -> FindingSpec:
    """The finding for a transfer whose determination says licence required and none on record."""
    licence = verdict["license"]
    return FindingSpec(
        kind=KIND,
        severity=Severity.CRITICAL if licence["review_policy"] == PRESUMPTION_OF_DENIAL else Severity.HIGH,
        subject_type=Subject.GPU if verdict["gpu_id"] else Subject.ORGANIZATION,
        subject_id=verdict["gpu_id"] or verdict["to_organization_id"],
        dedup_key=dedup_key(verdict["transfer_id"]),
        title=(f"Transfer of {verdict['catalog_model']} {verdict['gpu_uuid']} from {verdict['origin'] or 'an undeclared origin'}"
               f" to {verdict['destination']} on {verdict['effective_date']} needed a licence "
               f"({licence['review_policy'] or 'policy not published'}) and none is on record"),
        citation=CITATION,
        observation_ids=(verdict["observation_id"],) if verdict["observation_id"] else (),
        figures={k: verdict[k] for k in ("transfer_id", "gpu_uuid", "effective_date", "origin", "destination",
                                         "movement", "from_site_id", "to_site_id", "declared_license_number",
                                         "catalog_model", "licences_on_record", "state", "license")},
        cluster_id=verdict["cluster_id"],
        organization_id=verdict["to_organization_id"],
    )


def ended_evidence(verdict: dict) -> str | None:
    """Why a transfer's finding no longer holds, or None while it holds (or cannot be told)."""
    if verdict["state"] == COVERED:
        return (f"licence(s) on record for the transfer of {verdict['effective_date']}: "
                f"{', '.join(verdict['licences_on_record'])}")
    if verdict["state"] == NOT_REQUIRED:
        return f"the determination at {verdict['effective_date']} no longer requires a licence for this transfer"
    return None


def needs_finding(verdict: dict) -> bool:
    return verdict["state"] == REQUIRED_UNLICENSED
