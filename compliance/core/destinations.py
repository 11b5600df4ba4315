"""Destinations: the licence determination for a classified item, a place, the parties and a date.

``determine_license`` applies, for the date given, the Part 746 embargoes, the destination scope of the
regime in force (3A090.a/.b to D:1/D:4/D:5/Macau minus A:5/A:6; 3A090.c HBM to D:5/Macau), the D:5/Macau
headquarters rule, the 91 FR 1684 case-by-case policy (exports from the US only), the is-informed notices,
the (switchable) AI Diffusion rule, the Entity List and the GP10 guidance on PRC-made chips.  Every reason
carries its citation; the dated facts come from ``ruledata`` rows, each shown with its confidence.

Two rules keep answers honest:
- *Right or undetermined*: a fact the answer needs but nobody gave (the movement kind, a figure, an ECCN
  outside 3A090) makes the answer undetermined with ``missing`` naming it, never "not required".
  ``license_required`` is True, False, or None (undetermined); ``review_policy`` "undetermined" means a
  licence is required but its review policy hangs on a missing fact.
- *Unconfirmed data never silently decides*: the answer is recomputed with each unconfirmed row that
  concerns the countries involved reverted; if that changes it, the stricter answer is given and
  ``unconfirmed`` says which row it rests on ("licence required per X (unconfirmed: ...)").

Public API (kept stable; other modules build on it)
    determine_license(classification, *, destination, as_of, headquarters=None, ultimate_parent_hq=None,
        entity_listed=False, prc_made=False, enforce_ai_diffusion=False, order_tpp=None, movement=None,
        contained=(), destinations=None) -> LicenseDetermination
        movement: one of MOVEMENTS or None (unknown); contained: catalog keys of chips inside a system
    LicenseDetermination: license_required, review_policy, license_exception, reasons, warnings, missing,
        conditions, unconfirmed, basis; .headline; .to_dict()
    default_destinations() -> RuleData (country(), in_any(), groups[...].members())
    policies: POLICY_OF_DENIAL, PRESUMPTION_OF_DENIAL, UNDETERMINED, CASE_BY_CASE, NOT_PUBLISHED,
        PRESUMPTION_OF_APPROVAL (strictest first, POLICY_ORDER)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from .catalog import H100_TPP, UnknownChip, chip
from .classify import Classification, Spec
from .regimes import (
    CASE_BY_CASE_CONDITIONS,
    CASE_BY_CASE_MOVEMENT,
    GP10_GUIDANCE,
    HEADQUARTERS_POLICY_NOTE,
    QUANTITY_LABELS,
    AiDiffusion,
    Regime,
    Threshold,
    evaluate,
    regime_in_force,
)
from .ruledata import CONFIRMED, Membership, Reach, RuleData, RuleDataError, default_rule_data

POLICY_OF_DENIAL = "policy of denial"
PRESUMPTION_OF_DENIAL = "presumption of denial"
UNDETERMINED = "undetermined"
CASE_BY_CASE = "case-by-case"
NOT_PUBLISHED = "not published (is-informed notice)"
PRESUMPTION_OF_APPROVAL = "presumption of approval"
# Most restrictive first: when several requirements apply, the strictest policy governs.  An
# undetermined policy is at least case-by-case and at most a presumption of denial.
POLICY_ORDER = (POLICY_OF_DENIAL, PRESUMPTION_OF_DENIAL, UNDETERMINED, CASE_BY_CASE, NOT_PUBLISHED,
                PRESUMPTION_OF_APPROVAL)

_POLICY_ORDER = POLICY_ORDER  # the earlier private name, still imported by systems.py

MOVEMENTS = ("export_from_us", "reexport", "transfer_in_country")
HQ_GROUPS = ("D:5", "Macau")

# The default follows BIS's announced non-enforcement of 90 FR 4544 (May 13 2025).
AI_DIFFUSION_ENFORCED_DEFAULT = False

ENTITY_LIST_CITATION = "15 CFR 744.11 and Supp. No. 4 to part 744 (Entity List)"

# Kept names: the country groups are rule data now (ruledata.py).
Destinations = RuleData
DestinationDataError = RuleDataError
default_destinations = default_rule_data


@dataclass(frozen=True)
class LicenseDetermination:
    license_required: bool | None
    review_policy: str | None
    license_exception: str | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    missing: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()
    basis: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # Lines gathered from several hypotheses or chips often coincide; an officer reads each once.
        for name in ("reasons", "warnings", "missing", "conditions", "unconfirmed", "basis"):
            object.__setattr__(self, name, tuple(dict.fromkeys(getattr(self, name))))

    @property
    def headline(self) -> str:
        """One line an officer reads first; it never hides a notification or a missing fact."""
        missing = "; ".join(self.missing)  # a missing fact may itself list things with commas
        if self.license_required is None:
            text = f"undetermined: missing {missing}"
        elif self.license_required and self.review_policy == UNDETERMINED:
            text = f"licence required; review policy undetermined (missing {missing})"
        elif self.license_required:
            text = f"licence required ({self.review_policy})"
            if self.conditions:
                text += "; conditions apply (see conditions)"
        elif self.license_exception == "NAC":
            text = "no licence, but License Exception NAC: notify BIS at least 25 days before export"
        elif self.license_exception:
            text = f"no licence required: License Exception {self.license_exception}"
        else:
            text = "no licence required"
        if self.unconfirmed:
            text += " (rests on unconfirmed data, see unconfirmed)"
        return text

    def to_dict(self) -> dict:
        return {
            "license_required": self.license_required,
            "review_policy": self.review_policy,
            "license_exception": self.license_exception,
            "headline": self.headline,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "missing": list(self.missing),
            "conditions": list(self.conditions),
            "unconfirmed": list(self.unconfirmed),
            "basis": list(self.basis),
        }


@dataclass
class _Findings:
    """Requirements gathered while walking the rules; folded into a LicenseDetermination."""

    policies: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    basis: list[str] = field(default_factory=list)
    unknown: bool = False
    exception: str | None = None

    def require(self, policy: str, reason: str) -> None:
        self.policies.append(policy)
        self.reasons.append(reason)

    def undetermined(self, reason: str, missing: str) -> None:
        """A licence may be required, depending on a fact nobody gave."""
        self.unknown = True
        self.reasons.append(reason)
        self.lack(missing)

    def lack(self, missing: str) -> None:
        if missing not in self.missing:
            self.missing.append(missing)

    def result(self) -> LicenseDetermination:
        policy = min(self.policies, key=POLICY_ORDER.index, default=None)
        required = True if policy else (None if self.unknown else False)
        return LicenseDetermination(
            license_required=required,
            review_policy=policy,
            license_exception=None if required is not False else self.exception,
            reasons=tuple(self.reasons),
            warnings=tuple(self.warnings),
            missing=tuple(self.missing) if required is not False else (),
            conditions=tuple(self.conditions),
            basis=tuple(self.basis),
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
    movement: str | None = None,
    contained: tuple[str, ...] = (),
    destinations: RuleData | None = None,
) -> LicenseDetermination:
    """Does moving this classified item to ``destination`` (ISO alpha-2) on ``as_of`` need a licence,
    under which review policy, and why?  ``movement`` is how it moves (MOVEMENTS; None = unknown);
    ``order_tpp`` (total TPP shipped to the consignee this year) only matters when AI Diffusion is on."""
    if movement is not None and movement not in MOVEMENTS:
        raise ValueError(f"movement must be one of {', '.join(MOVEMENTS)}, not {movement!r}")
    data = destinations or default_rule_data()
    facts = dict(destination=destination, as_of=as_of, headquarters=headquarters,
                 ultimate_parent_hq=ultimate_parent_hq, entity_listed=entity_listed, prc_made=prc_made,
                 enforce=enforce_ai_diffusion, order_tpp=order_tpp, movement=movement, contained=tuple(contained))
    answer = _determine(data, classification, **facts)
    differing = []
    for rows, variant in data.variants((destination, headquarters, ultimate_parent_hq), as_of):
        other = _determine(variant, classification, **facts)
        if (other.license_required, other.review_policy) != (answer.license_required, answer.review_policy):
            differing.append((rows, other))
    return _resting_on_unconfirmed(answer, differing) if differing else answer


def _resting_on_unconfirmed(answer: LicenseDetermination, differing) -> LicenseDetermination:
    """The stricter of the answers with and without the unconfirmed rows, saying which rows decide."""
    notes = []
    strictest = answer
    for rows, other in differing:
        described = "; ".join(row.describe() for row in rows)
        if _stricter(answer, other):
            notes.append(f"the answer rests on {described}: without it, {other.headline}")
        else:
            notes.append(f"{other.headline} unless this unconfirmed data holds: {described}")
            if _stricter(other, strictest):
                strictest = other
    return replace(strictest, unconfirmed=tuple(notes), reasons=strictest.reasons + answer.reasons)


def _stricter(a: LicenseDetermination, b: LicenseDetermination) -> bool:
    """Is ``a`` at least as strict as ``b``?  Required > undetermined > not required; then by policy."""
    rank = {True: 2, None: 1, False: 0}
    if rank[a.license_required] != rank[b.license_required]:
        return rank[a.license_required] > rank[b.license_required]
    if a.review_policy and b.review_policy:
        return POLICY_ORDER.index(a.review_policy) <= POLICY_ORDER.index(b.review_policy)
    return True


def _determine(data: RuleData, classification: Classification, **facts) -> LicenseDetermination:
    if classification.undetermined:
        return _whatever_the_classification(data, classification, **facts)
    destination, as_of = facts["destination"], facts["as_of"]
    country = data.country(destination)
    regime = regime_in_force(as_of)
    found = _Findings()
    if country == "US":
        found.reasons.append("destination is the United States: no export (15 CFR 734.13)")
        return found.result()
    hq_country = _headquartered_in(data, as_of, facts["headquarters"], facts["ultimate_parent_hq"])
    found.basis += _basis(data, (destination, facts["headquarters"], facts["ultimate_parent_hq"]), as_of)
    if facts["entity_listed"]:
        found.require(PRESUMPTION_OF_DENIAL, f"a party is on the Entity List ({ENTITY_LIST_CITATION})")
    _embargoes(data, classification, country, as_of, found)
    if regime is not None:
        hq_party = hq_country if regime.headquarters_groups else None
        if classification.eccn in ("3A090.a", "3A090.b"):
            _advanced_computing(classification, regime, data, as_of, country, hq_party, facts["movement"], found)
            _ai_diffusion(classification, regime, data, as_of, country, facts["enforce"], facts["order_tpp"], found)
        elif classification.eccn == "3A090.c":
            _hbm(classification, regime, data, as_of, country, found)
        if hq_party and classification.eccn in ("3A090.a", "3A090.b"):
            _guidance_warning(data, "hq-rule-guidance", as_of, found)
    _notices(data, classification, country, as_of, hq_country, facts["contained"], found)
    if facts["prc_made"] and classification.eccn is not None and as_of >= GP10_GUIDANCE.effective:
        found.warnings.append(f"{GP10_GUIDANCE.text} ({GP10_GUIDANCE.citation})")
    if not found.reasons:
        found.reasons.append(_no_requirement_reason(classification, regime))
    return found.result()


def _basis(data: RuleData, countries: tuple[str | None, ...], as_of: date) -> list[str]:
    """The dated rows about these countries in force that day, a membership narrowed to them."""
    codes = {data.country(c) for c in countries if c}
    out = []
    for row in data.rows_naming(countries, as_of):
        if isinstance(row, Membership):
            row = replace(row, countries=tuple(c for c in row.countries if c in codes))
        out.append(row.describe())
    return out


def _headquartered_in(data: RuleData, as_of: date, headquarters: str | None, parent: str | None) -> str | None:
    """The HQ country in D:5/Macau of the party or its ultimate parent, if any."""
    for code in (headquarters, parent):
        if data.in_any(code, HQ_GROUPS, as_of):
            return data.country(code)
    return None


def _whatever_the_classification(data: RuleData, classification: Classification, **facts) -> LicenseDetermination:
    """The ECCN is unknown (a figure is missing): answer if every possible classification gives the same
    answer, otherwise say undetermined and what each would give."""
    unknown = ", ".join(QUANTITY_LABELS.get(name, name) for name in classification.missing)
    outcomes = [(label, _determine(data, hypothesis, **facts))
                for label, hypothesis in _hypotheses(classification)]
    first = outcomes[0][1]
    lead = f"classification undetermined ({unknown} unknown, needed for {classification.needed_for})"
    if all((o.license_required, o.review_policy) == (first.license_required, first.review_policy)
           for _, o in outcomes):
        return replace(first, reasons=(f"{lead}; every possible classification gives the same answer",
                                       *first.reasons))
    required = {o.license_required for _, o in outcomes}
    found = _Findings(warnings=[w for _, o in outcomes for w in o.warnings])
    found.basis = [b for _, o in outcomes for b in o.basis]
    for name in classification.missing:
        found.lack(QUANTITY_LABELS.get(name, name))
    found.reasons.append(lead)
    found.reasons += [r for r in first.reasons if all(r in o.reasons for _, o in outcomes)]
    found.reasons += [f"if {label}: {o.headline}" for label, o in outcomes]
    if required == {True}:
        found.policies.append(UNDETERMINED)
    else:
        found.unknown = True
    return found.result()


def _hypotheses(classification: Classification):
    regime = regime_in_force(classification.as_of)
    outside = replace(classification, missing=())
    if regime is None:
        return [("outside 3A090", outside)]
    paragraphs = [("3A090.a", "3A090.a")]
    if any(p.eccn == "3A090.b" for p in regime.paragraphs):
        paragraphs.append(("3A090.b", "3A090.b"))
    out = [(f"{eccn} without a licence exception", replace(outside, eccn=eccn, paragraph=eccn))
           for eccn, _ in paragraphs]
    if regime.license_exceptions:
        out.append((f"3A090 eligible for License Exception {'/'.join(regime.license_exceptions)}",
                    replace(outside, eccn="3A090.a", paragraph="3A090.a", license_exception=regime.license_exceptions)))
    out.append(("outside 3A090", outside))
    return out


def _sourced(row) -> str:
    """The row's source, said once, after its confidence unless it is confirmed."""
    return row.source if row.confidence == CONFIRMED else f"{row.confidence}: {row.source}"


def _embargoes(data: RuleData, classification: Classification, country: str, as_of: date, found: _Findings) -> None:
    """Part 746: a licence whatever 3A090 says.  A 3A090 item is on the CCL; another item may be too."""
    for embargo in data.embargoes_on(country, as_of):
        where = f"{embargo.title} ({embargo.section}; {_sourced(embargo)})"
        if embargo.scope == "all_items" or classification.eccn is not None:
            found.require(embargo.policy, f"licence required for any item subject to the EAR to {country}: {where}"
                          if embargo.scope == "all_items" else
                          f"licence required for {classification.eccn} (on the CCL) to {country}: {where}")
        else:
            found.undetermined(
                f"licence required to {country} if the item is on the CCL (e.g. 3A991, 4A994, 5A992.c) or its HTS "
                f"code is listed in the part 746 supplements: {where}; this engine classifies only 3A090",
                "the item's ECCN outside 3A090 (or its HTS code)")


def _advanced_computing(
    classification: Classification,
    regime: Regime,
    data: RuleData,
    as_of: date,
    country: str,
    hq_party: str | None,
    movement: str | None,
    found: _Findings,
) -> None:
    restricted = data.in_any(country, regime.restricted_groups, as_of) and not data.in_any(
        country, regime.exempt_groups, as_of
    )
    tier3 = restricted and data.in_any(country, regime.headquarters_groups, as_of)
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
        _restricted_policy(classification, regime, data, as_of, country, tier3, hq_party, movement, item, found)
    elif hq_party:
        # Headquarters rule: licence to any destination for a D:5/Macau-headquartered party, reviewed
        # with a presumption of denial in both periods (744.23(a)(3), then 742.6(a)(6)(iii)(A) for .a).
        found.require(
            PRESUMPTION_OF_DENIAL,
            f"{item} for a party headquartered (or with ultimate parent) in {hq_party} (D:5/Macau) requires a "
            f"licence at any destination ({regime.hq_citation(classification.eccn)}); {HEADQUARTERS_POLICY_NOTE}",
        )


def _restricted_policy(
    classification: Classification,
    regime: Regime,
    data: RuleData,
    as_of: date,
    country: str,
    tier3: bool,
    hq_party: str | None,
    movement: str | None,
    item: str,
    found: _Findings,
) -> None:
    where = f"{item} to {country} ({regime.destination_citation})"
    if not regime.exempt_groups:
        # 87 FR 62186 covered only China (and Macau from 88 FR 2821).
        found.require(PRESUMPTION_OF_DENIAL, f"licence required for {where}; review policy per 15 CFR 742.6(b)(10)")
        return
    if tier3:
        if regime.china_case_by_case and data.in_any(country, regime.china_case_by_case_groups, as_of):
            _china_case_by_case(classification, regime, where, movement, found)
            return
        found.require(PRESUMPTION_OF_DENIAL, f"licence required for {where}; presumption of denial for D:5/Macau")
        return
    if hq_party:
        found.require(PRESUMPTION_OF_DENIAL, (
            f"licence required for {where}; presumption of denial as a party is headquartered in "
            f"{hq_party} (D:5/Macau) ({regime.hq_citation(classification.eccn)})"
        ))
        return
    found.require(PRESUMPTION_OF_APPROVAL, f"licence required for {where}; presumption of approval for D:1/D:4")


def _china_case_by_case(classification: Classification, regime: Regime, where: str, movement: str | None,
                        found: _Findings) -> None:
    """91 FR 1684: case-by-case for exports from the US within the TPP/DRAM lines, with conditions;
    presumption of denial otherwise (re-exports, in-country transfers, items above the lines)."""
    citation = regime.china_case_by_case[0].citation
    below = evaluate(regime.china_case_by_case, classification.spec, [])
    if below is False:
        found.require(PRESUMPTION_OF_DENIAL, f"licence required for {where}; presumption of denial: TPP >= 21,000 "
                      f"or total DRAM bandwidth >= 6,500 GB/s, outside the case-by-case policy ({citation})")
        return
    if below is None:
        for threshold in regime.china_case_by_case:
            if getattr(classification.spec, threshold.quantity) is None:
                found.lack(QUANTITY_LABELS[threshold.quantity])
        found.require(UNDETERMINED, f"licence required for {where}; case-by-case if TPP < 21,000 and total DRAM "
                      f"bandwidth < 6,500 GB/s, presumption of denial otherwise: a figure is unknown ({citation})")
        return
    if movement == CASE_BY_CASE_MOVEMENT:
        found.conditions += list(CASE_BY_CASE_CONDITIONS)
        found.require(CASE_BY_CASE, f"licence required for {where}; case-by-case review for an export from the "
                      f"United States as TPP < 21,000 and total DRAM bandwidth < 6,500 GB/s, on the conditions "
                      f"listed ({citation}); presumption of denial if they are not met")
        return
    if movement is None:
        found.lack("movement (export_from_us, reexport or transfer_in_country)")
        found.conditions += list(CASE_BY_CASE_CONDITIONS)
        found.require(UNDETERMINED, f"licence required for {where}; case-by-case only for an export from the "
                      f"United States on the conditions listed, presumption of denial for a re-export or in-country "
                      f"transfer: the movement is not given ({citation})")
        return
    found.require(PRESUMPTION_OF_DENIAL, f"licence required for {where}; presumption of denial: the case-by-case "
                  f"policy covers only exports from the United States, not a {movement.replace('_', ' ')} ({citation})")


def _hbm(classification: Classification, regime: Regime, data: RuleData, as_of: date, country: str,
         found: _Findings) -> None:
    """3A090.c (89 FR 96790): licence to D:5 and Macau; License Exception HBM only on its conditions."""
    hbm = regime.hbm
    if not data.in_any(country, hbm.restricted_groups, as_of):
        found.reasons.append(f"3A090.c item to {country}: licence required only to D:5 and Macau ({hbm.destination_citation})")
        return
    compliance = f"; compliance date {hbm.compliance_date.isoformat()}" if as_of < hbm.compliance_date else ""
    reason = f"licence required for 3A090.c HBM to {country} (D:5/Macau; {hbm.destination_citation}{compliance})"
    if classification.license_exception:
        found.conditions += [f"License Exception HBM may authorise it instead if: {c}" for c in hbm.exception_conditions]
        reason += "; License Exception HBM (15 CFR 740.25) may apply instead, on the conditions listed (not checked here)"
    else:
        reason += "; License Exception HBM is not available (memory bandwidth density 3.3 GB/s/mm2 or more)"
    found.require(PRESUMPTION_OF_DENIAL, reason)


def _ai_diffusion(
    classification: Classification,
    regime: Regime,
    data: RuleData,
    as_of: date,
    country: str,
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
    if data.in_any(country, (rule.tier1_group,), as_of) or data.in_any(country, rule.tier3_groups, as_of):
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


def _notices(
    data: RuleData,
    classification: Classification,
    country: str,
    as_of: date,
    hq_country: str | None,
    contained: tuple[str, ...],
    found: _Findings,
) -> None:
    spec = classification.spec
    key = getattr(spec, "chip", None)
    for notice in data.notices_on(as_of):
        to_place = data.in_any(country, notice.destinations, as_of) and not data.in_any(
            country, notice.exempt_groups, as_of)
        if not (to_place or (notice.hq_parties and hq_country)):
            continue
        if notice.names(key, contained):
            why = f"{key} is named" if key in notice.items else f"contains {', '.join(c for c in contained if c in notice.items)}"
        elif notice.reaches and classification.eccn is None and isinstance(spec, Spec):
            if spec.vendor is None:
                found.warnings.append(f"vendor unknown: '{notice.title}' was not evaluated ({notice.source})")
                continue
            if spec.vendor not in notice.reaches.vendors or not _reaches(spec, notice.reaches):
                continue
            why = f"{spec.vendor} part reaching the {notice.reaches.reference.upper()}'s memory or interconnect bandwidth"
        else:
            continue
        whom = "" if to_place else f" (party headquartered in {hq_country})"
        found.basis.append(notice.describe())
        found.require(NOT_PUBLISHED, f"licence required by {notice.title}{whom}: {why} ({_sourced(notice)})")


def _reaches(spec: Spec, reach: Reach) -> bool:
    """'Any other circuits achieving the H20's memory bandwidth, interconnect bandwidth, or
    combination thereof': any one bandwidth at or above the reference chip's, as catalogued."""
    try:
        reference = Spec.from_chip(chip(reach.reference))
    except UnknownChip:
        return False
    return any(
        evaluate((Threshold(quantity, ">=", getattr(reference, quantity), "is-informed notice"),), spec, [])
        for quantity in reach.quantities
    )


def _guidance_warning(data: RuleData, guidance_id: str, as_of: date, found: _Findings) -> None:
    row = data.guidance_by_id.get(guidance_id)
    if row is not None and row.active(as_of):
        found.warnings.append(f"{row.text} ({row.source})")


def _no_requirement_reason(classification: Classification, regime: Regime | None) -> str:
    if regime is None:
        return "no advanced-computing licence requirement before 87 FR 62186 (effective 2022-10-07)"
    if classification.eccn is None:
        return f"not classified under 3A090 ({regime.citation}); no advanced-computing licence requirement applies"
    return f"{classification.paragraph} item: destination outside the licence scope of {regime.citation}"


__all__ = [
    "CASE_BY_CASE",
    "MOVEMENTS",
    "NOT_PUBLISHED",
    "POLICY_OF_DENIAL",
    "POLICY_ORDER",
    "PRESUMPTION_OF_APPROVAL",
    "PRESUMPTION_OF_DENIAL",
    "UNDETERMINED",
    "LicenseDetermination",
    "default_destinations",
    "determine_license",
]
