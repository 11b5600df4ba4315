"""Destinations: dated country groups and the licence determination for a classified item.

``determine_license`` applies, for the date given, the destination scope of the regime in
force, the D:5/Macau headquarters rule, the 91 FR 1684 case-by-case policy, the H20/MI308
is-informed requirement, the (switchable) AI Diffusion rule, the Entity List and the GP10
guidance on PRC-made chips.  Every reason it gives carries its citation.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from pathlib import Path

import yaml

from .catalog import H100_TPP, chip
from .classify import Classification, InsufficientSpec, Spec
from .regimes import (
    GP10_GUIDANCE,
    H20_IS_INFORMED,
    AiDiffusion,
    Regime,
    Threshold,
    evaluate,
    regime_in_force,
)

DESTINATIONS_PATH = Path(__file__).parent / "data" / "destinations.yaml"

PRESUMPTION_OF_DENIAL = "presumption of denial"
CASE_BY_CASE = "case-by-case"
NOT_PUBLISHED = "not published (is-informed notice)"
PRESUMPTION_OF_APPROVAL = "presumption of approval"
# Most restrictive first: when several requirements apply, the strictest policy governs.
_POLICY_ORDER = (PRESUMPTION_OF_DENIAL, CASE_BY_CASE, NOT_PUBLISHED, PRESUMPTION_OF_APPROVAL)

# The default follows BIS's announced non-enforcement of 90 FR 4544 (May 13 2025).
AI_DIFFUSION_ENFORCED_DEFAULT = False

ENTITY_LIST_CITATION = "15 CFR 744.11 and Supp. No. 4 to part 744 (Entity List)"

_ISO_CODE = re.compile(r"^[A-Z]{2}$")


class DestinationDataError(ValueError):
    """The destination data file is malformed."""


@dataclass(frozen=True)
class Membership:
    effective: date
    members: frozenset[str]


@dataclass(frozen=True)
class CountryGroup:
    name: str
    title: str
    citation: str
    versions: tuple[Membership, ...]

    def members(self, as_of: date) -> frozenset[str]:
        current = [v for v in self.versions if v.effective <= as_of]
        return current[-1].members if current else frozenset()


@dataclass(frozen=True)
class Destinations:
    groups: dict[str, CountryGroup]
    aliases: dict[str, str]

    def country(self, code: str) -> str:
        """ISO alpha-2, upper-cased, with EAR aliases applied (Hong Kong is China)."""
        normalized = code.strip().upper()
        if not _ISO_CODE.match(normalized):
            raise ValueError(f"not an ISO 3166-1 alpha-2 code: {code!r}")
        return self.aliases.get(normalized, normalized)

    def in_any(self, code: str | None, group_names: tuple[str, ...], as_of: date) -> bool:
        if code is None:
            return False
        country = self.country(code)
        return any(country in self.groups[name].members(as_of) for name in group_names)


def load_destinations(path: Path | str = DESTINATIONS_PATH) -> Destinations:
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    groups = {}
    for name, group in document["groups"].items():
        versions = []
        for version in group["versions"]:
            if not isinstance(version.get("effective"), date):
                raise DestinationDataError(f"group {name!r}: 'effective' must be a date")
            bad = [code for code in version["members"] if not _ISO_CODE.match(str(code))]
            if bad:
                raise DestinationDataError(f"group {name!r}: not ISO alpha-2 codes: {bad}")
            versions.append(Membership(version["effective"], frozenset(version["members"])))
        versions.sort(key=lambda v: v.effective)
        groups[name] = CountryGroup(name, group["title"], group["citation"], tuple(versions))
    aliases = {code: alias["country"] for code, alias in document.get("aliases", {}).items()}
    return Destinations(groups, aliases)


@cache
def default_destinations() -> Destinations:
    return load_destinations()


@dataclass(frozen=True)
class LicenseDetermination:
    license_required: bool
    review_policy: str | None
    license_exception: str | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        data["warnings"] = list(self.warnings)
        return data


@dataclass
class _Findings:
    """Requirements gathered while walking the rules; folded into a LicenseDetermination."""

    policies: list[str]
    reasons: list[str]
    warnings: list[str]
    exception: str | None = None

    def require(self, policy: str, reason: str) -> None:
        self.policies.append(policy)
        self.reasons.append(reason)

    def result(self) -> LicenseDetermination:
        policy = min(self.policies, key=_POLICY_ORDER.index, default=None)
        return LicenseDetermination(
            license_required=policy is not None,
            review_policy=policy,
            license_exception=None if policy else self.exception,
            reasons=tuple(self.reasons),
            warnings=tuple(self.warnings),
        )


def determine_license(
    classification: Classification,
    *,
    destination: str,
    as_of: date,
    headquarters: str | None = None,
    ultimate_parent_hq: str | None = None,
    entity_listed: bool = False,
    prc_made: bool = False,
    enforce_ai_diffusion: bool = AI_DIFFUSION_ENFORCED_DEFAULT,
    order_tpp: float | None = None,
    destinations: Destinations | None = None,
) -> LicenseDetermination:
    """Does exporting this classified item to ``destination`` (ISO alpha-2) on ``as_of`` need
    a licence, under which review policy, and why?  ``order_tpp`` (total TPP shipped to the
    consignee this year) is only consulted when the AI Diffusion rule is switched on."""
    places = destinations or default_destinations()
    regime = regime_in_force(as_of)
    found = _Findings([], [], [])
    if places.country(destination) == "US":
        found.reasons.append("destination is the United States: no export (15 CFR 734.13)")
        return found.result()
    if entity_listed:
        found.require(PRESUMPTION_OF_DENIAL, f"a party is on the Entity List ({ENTITY_LIST_CITATION})")
    if regime is not None:
        hq_party = _headquartered_party(regime, places, as_of, headquarters, ultimate_parent_hq)
        if classification.eccn in ("3A090.a", "3A090.b"):
            _advanced_computing(classification, regime, places, as_of, destination, hq_party, found)
            _ai_diffusion(classification, regime, places, as_of, destination, enforce_ai_diffusion, order_tpp, found)
        elif classification.eccn is None:
            _is_informed(classification, places, as_of, destination, hq_party, found)
    if prc_made and classification.eccn is not None and as_of >= GP10_GUIDANCE.effective:
        found.warnings.append(f"{GP10_GUIDANCE.text} ({GP10_GUIDANCE.citation})")
    if not found.reasons:
        found.reasons.append(_no_requirement_reason(classification, regime))
    return found.result()


def _headquartered_party(
    regime: Regime, places: Destinations, as_of: date, headquarters: str | None, ultimate_parent_hq: str | None
) -> str | None:
    """The HQ country that triggers the D:5/Macau headquarters rule (15 CFR 744.23(a)(3)), if any."""
    if not regime.headquarters_groups:
        return None
    for code in (headquarters, ultimate_parent_hq):
        if places.in_any(code, regime.headquarters_groups, as_of):
            return places.country(code)
    return None


def _advanced_computing(
    classification: Classification,
    regime: Regime,
    places: Destinations,
    as_of: date,
    destination: str,
    hq_party: str | None,
    found: _Findings,
) -> None:
    restricted = places.in_any(destination, regime.restricted_groups, as_of) and not places.in_any(
        destination, regime.exempt_groups, as_of
    )
    tier3 = restricted and places.in_any(destination, regime.headquarters_groups, as_of)
    item = f"{classification.paragraph} item"

    if classification.license_exception:
        # NAC for D:5/Macau destinations or D:5/Macau-headquartered parties (notification);
        # ACA elsewhere in D:1/D:4 (89 FR 23876 split; before it, NAC covered both).
        if tier3 or hq_party:
            found.exception = "NAC"
            found.reasons.append(
                f"{item} eligible for License Exception NAC: notify BIS at least 25 days before export "
                f"({regime.citation}, 15 CFR 740.8)"
            )
        elif restricted:
            found.exception = "ACA" if "ACA" in classification.license_exception else "NAC"
            found.reasons.append(f"{item} eligible for License Exception {found.exception} ({regime.citation}, 15 CFR 740.8)")
        return

    if restricted:
        found.require(*_restricted_policy(classification, regime, places, as_of, destination, tier3, hq_party, item))
    elif hq_party:
        # Headquarters rule: licence to any destination for a D:5/Macau-headquartered party.
        # 91 FR 1684 keeps such parties under a presumption of denial wherever located.
        policy = PRESUMPTION_OF_DENIAL if regime.china_case_by_case else CASE_BY_CASE
        found.require(
            policy,
            f"{item} for a party headquartered (or with ultimate parent) in {hq_party} "
            f"(D:5/Macau) requires a licence at any destination ({regime.headquarters_citation})",
        )


def _restricted_policy(
    classification: Classification,
    regime: Regime,
    places: Destinations,
    as_of: date,
    destination: str,
    tier3: bool,
    hq_party: str | None,
    item: str,
) -> tuple[str, str]:
    where = f"{item} to {places.country(destination)} ({regime.destination_citation})"
    if not regime.exempt_groups:
        # 87 FR 62186 covered only China (and Macau from 88 FR 2821).
        return PRESUMPTION_OF_DENIAL, f"licence required for {where}; review policy per 15 CFR 742.6(b)(10)"
    if tier3:
        if regime.china_case_by_case and places.in_any(destination, regime.china_case_by_case_groups, as_of):
            below = evaluate(regime.china_case_by_case, classification.spec, [])
            if below is None:
                missing = [t.quantity for t in regime.china_case_by_case if getattr(classification.spec, t.quantity) is None]
                raise InsufficientSpec(missing, "the 91 FR 1684 case-by-case review policy")
            if below:
                return CASE_BY_CASE, (
                    f"licence required for {where}; case-by-case review as TPP < 21,000 and total DRAM "
                    f"bandwidth < 6,500 GB/s for exports from the United States ({regime.china_case_by_case[0].citation})"
                )
        return PRESUMPTION_OF_DENIAL, f"licence required for {where}; presumption of denial for D:5/Macau"
    if hq_party:
        return PRESUMPTION_OF_DENIAL, (
            f"licence required for {where}; presumption of denial as a party is headquartered in "
            f"{hq_party} (D:5/Macau) ({regime.headquarters_citation})"
        )
    return PRESUMPTION_OF_APPROVAL, f"licence required for {where}; presumption of approval for D:1/D:4"


def _ai_diffusion(
    classification: Classification,
    regime: Regime,
    places: Destinations,
    as_of: date,
    destination: str,
    enforce: bool,
    order_tpp: float | None,
    found: _Findings,
) -> None:
    rule: AiDiffusion | None = regime.ai_diffusion
    if rule is None or classification.eccn != "3A090.a" or as_of < rule.compliance_date:
        return
    if not enforce:
        found.warnings.append(
            f"{rule.citation} (AI Diffusion) is on the books but not applied: {rule.non_enforcement_citation}"
        )
        return
    if places.in_any(destination, (rule.tier1_group,), as_of) or places.in_any(destination, rule.tier3_groups, as_of):
        return  # Tier 1: License Exception AIA; Tier 3: already under the D:5/Macau policy.
    lpp_limit = rule.lpp_h100_equivalents * H100_TPP
    if order_tpp is not None and order_tpp <= lpp_limit:
        found.exception = found.exception or "LPP"
        found.reasons.append(
            f"Tier 2 destination; order of {order_tpp:,.0f} TPP within License Exception LPP "
            f"({rule.lpp_h100_equivalents:,} H100-equivalents = {lpp_limit:,} TPP, {rule.lpp_citation})"
        )
        return
    found.require(
        CASE_BY_CASE,
        f"Tier 2 destination under {rule.citation}: licence required, counted against the country "
        f"allocation of {rule.tier2_cap_tpp:,} TPP ({rule.tier2_cap_citation})"
        + ("" if order_tpp is not None else "; LPP not established as the order TPP is unknown"),
    )


def _is_informed(
    classification: Classification,
    places: Destinations,
    as_of: date,
    destination: str,
    hq_party: str | None,
    found: _Findings,
) -> None:
    notice = H20_IS_INFORMED
    spec = classification.spec
    if as_of < notice.effective or not isinstance(spec, Spec):
        return
    if not (places.in_any(destination, notice.groups, as_of) or hq_party):
        return
    if spec.chip in notice.named_chips:
        why = f"{spec.chip} is named"
    elif spec.vendor is None:
        found.warnings.append(f"vendor unknown: the H20/MI308 is-informed requirement was not evaluated ({notice.citation})")
        return
    elif spec.vendor in notice.informed_vendors and _reaches_h20(spec):
        why = f"{spec.vendor} part reaching the H20's memory or interconnect bandwidth"
    else:
        return
    found.require(NOT_PUBLISHED, f"licence required by the is-informed notice: {why} ({notice.citation})")


def _reaches_h20(spec: Spec) -> bool:
    """'Any other circuits achieving the H20's memory bandwidth, interconnect bandwidth, or
    combination thereof': any one bandwidth at or above the H20's, as catalogued."""
    reference = chip(H20_IS_INFORMED.capability_reference_chip)
    return any(
        evaluate(
            (Threshold(quantity, ">=", getattr(Spec.from_chip(reference), quantity), H20_IS_INFORMED.citation),),
            spec,
            [],
        )
        for quantity in H20_IS_INFORMED.capability_quantities
    )


def _no_requirement_reason(classification: Classification, regime: Regime | None) -> str:
    if regime is None:
        return "no advanced-computing licence requirement before 87 FR 62186 (effective 2022-10-07)"
    if classification.eccn is None:
        return f"not classified under 3A090 ({regime.citation}); no advanced-computing licence requirement applies"
    return f"{classification.paragraph} item: destination outside the licence scope of {regime.citation}"
