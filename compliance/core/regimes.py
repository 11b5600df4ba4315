"""The advanced-computing rules (ECCN 3A090 and its licence policy) as dated, cited data.

Each threshold number appears once below, next to the Federal Register paragraph that sets
it; later paragraphs that reuse a line (e.g. 3A090.b.1's "less than 4800") derive it from
the original so the two can never drift apart.  A ``Regime`` is the rule set in force from
its effective date until the next one; ``regime_in_force`` picks it for a date.

The facts that change by the month (country groups, Part 746 embargoes, is-informed notices,
guidance) are dated rows in ``data/*.yaml`` (see ``ruledata.py``); this module keeps the logic.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from .ruledata import default_rule_data

_OPERATORS: dict[str, Callable[[object, object], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_NEGATION = {">=": "<", "<": ">="}

QUANTITY_LABELS = {
    "tpp": "TPP",
    "performance_density": "performance density",
    "io_bandwidth": "aggregate bidirectional I/O rate (GB/s)",
    "dram_bandwidth": "total DRAM bandwidth (GB/s)",
    "datacenter": "designed or marketed for datacenters",
    "hbm_bandwidth_density": "HBM memory bandwidth density (GB/s/mm2)",
    "fp64_petaflops": "FP64 petaflops",
    "fp32_petaflops": "FP32 petaflops",
}


@dataclass(frozen=True)
class Threshold:
    """One comparison from the rule text: ``<quantity> <operator> <limit>``, with its citation."""

    quantity: str
    operator: str
    limit: float | bool
    citation: str

    def holds(self, measured: float | bool) -> bool:
        return _OPERATORS[self.operator](measured, self.limit)

    def below(self, citation: str) -> Threshold:
        """The complement of a ``>=`` line (".. and less than 4800"), cited where it is reused."""
        return Threshold(self.quantity, _NEGATION[self.operator], self.limit, citation)

    def recited(self, citation: str) -> Threshold:
        return replace(self, citation=citation)

    def __str__(self) -> str:
        return f"{QUANTITY_LABELS[self.quantity]} {self.operator} {self.limit}"


@dataclass(frozen=True)
class Step:
    """One comparison made, as an explanation shows it; ``result`` None = value unknown."""

    test: str
    value: float | bool | str | None
    operator: str
    limit: float | bool | str
    result: bool | None
    citation: str


def evaluate(conditions: tuple[Threshold, ...], subject: object, steps: list[Step]) -> bool | None:
    """All-of, in three-valued logic: False if any known condition fails, None if the answer
    hangs on an unknown value, True if all hold.  Each comparison is appended to ``steps``."""
    results = []
    for threshold in conditions:
        value = getattr(subject, threshold.quantity)
        result = None if value is None else threshold.holds(value)
        steps.append(
            Step(str(threshold), rounded(value), threshold.operator, threshold.limit, result, threshold.citation)
        )
        results.append(result)
    if False in results:
        return False
    return None if None in results else True


def rounded(value):
    """Round computed figures for stable, readable output (comparisons use exact values)."""
    return round(value, 4) if isinstance(value, float) else value


@dataclass(frozen=True)
class Paragraph:
    """A control paragraph: the item is caught when every condition holds."""

    name: str
    eccn: str
    conditions: tuple[Threshold, ...]


@dataclass(frozen=True)
class HbmControl:
    """3A090.c (89 FR 96790): stand-alone HBM; HBM co-packaged with a logic IC is excluded.
    Licence to D:5 and Macau; License Exception HBM (15 CFR 740.25) has conditions beyond the
    density figure, which the determination states rather than assumes."""

    paragraph: Paragraph
    license_exception: str
    license_exception_condition: Threshold
    restricted_groups: tuple[str, ...]
    destination_citation: str
    compliance_date: date
    exception_conditions: tuple[str, ...]


@dataclass(frozen=True)
class AiDiffusion:
    """Framework for AI Diffusion (90 FR 4544): on the books, not enforced since 2025-05-13."""

    citation: str
    compliance_date: date
    non_enforcement_since: date
    non_enforcement_citation: str
    tier1_group: str
    tier3_groups: tuple[str, ...]
    lpp_h100_equivalents: int
    lpp_citation: str
    tier2_cap_tpp: int
    tier2_cap_citation: str


@dataclass(frozen=True)
class Regime:
    name: str
    effective: date
    citation: str
    paragraphs: tuple[Paragraph, ...]
    restricted_groups: tuple[str, ...]
    destination_citation: str
    exempt_groups: tuple[str, ...] = ()
    non_datacenter_exclusion: tuple[Threshold, ...] = ()
    license_exceptions: tuple[str, ...] = ()
    license_exception_conditions: tuple[tuple[str, tuple[Threshold, ...]], ...] = ()
    headquarters_groups: tuple[str, ...] = ()
    headquarters_citation: str | None = None
    # From 90 FR 4544 the requirement for the '.a' items sits in 742.6(a)(6)(iii)(A) (BIS guidance of
    # May 31 2026); '.b' items stay under 744.23(a)(3).
    headquarters_citation_a: str | None = None
    hbm: HbmControl | None = None
    ai_diffusion: AiDiffusion | None = None
    china_case_by_case: tuple[Threshold, ...] = ()
    china_case_by_case_groups: tuple[str, ...] = ()
    note: str | None = None

    def exception_conditions(self, eccn: str) -> tuple[Threshold, ...] | None:
        return dict(self.license_exception_conditions).get(eccn)

    def hq_citation(self, eccn: str | None) -> str | None:
        """Where the headquarters rule sits for this ECCN under this regime."""
        if eccn == "3A090.a" and self.headquarters_citation_a:
            return self.headquarters_citation_a
        return self.headquarters_citation


# --------------------------------------------------------------------------- 87 FR 62186
# Oct 7 2022 IFR.  3A090.a: "aggregate bidirectional transfer rate over all inputs and
# outputs of 600 Gbyte/s or more ... and ... [bits x TOPS] of 4800 or more".
FR22 = "87 FR 62186"
IO_600 = Threshold("io_bandwidth", ">=", 600, f"{FR22}, 3A090.a")
TPP_4800_2022 = Threshold("tpp", ">=", 4800, f"{FR22}, 3A090.a.1-a.4")

AC_2022 = Regime(
    name="Advanced computing IFR (Oct 2022)",
    effective=date(2022, 10, 7),
    citation=FR22,
    paragraphs=(Paragraph("3A090.a", "3A090.a", (IO_600, TPP_4800_2022)),),
    # 87 FR 62186, 15 CFR 742.6(a)(6): licence for China (incl. Hong Kong).
    restricted_groups=("China",),
    destination_citation=f"{FR22}, 15 CFR 742.6(a)(6)",
)

# 88 FR 2821 ("Updates to the Controls To Add Macau", FR Doc 2023-00888): effective 2023-01-17,
# published 2023-01-18 (the Macau row of data/country_groups.yaml carries the same date).
MACAU_2023 = replace(
    AC_2022,
    name="Macau added (Jan 2023)",
    effective=date(2023, 1, 17),
    citation="88 FR 2821",
    restricted_groups=("China", "Macau"),
    destination_citation="88 FR 2821, 15 CFR 742.6(a)(6)",
)

# --------------------------------------------------------------------------- 88 FR 73458
# Oct 17 2023 AC/S IFR, effective Nov 17 2023: the I/O prong is removed; .a/.b by TPP and
# performance density (PD).
FR23 = "88 FR 73458"
A1_TPP = TPP_4800_2022.recited(f"{FR23}, 3A090.a.1")  # the 2022 line of 4800 kept
A2_TPP = Threshold("tpp", ">=", 1600, f"{FR23}, 3A090.a.2")
A2_PD = Threshold("performance_density", ">=", 5.92, f"{FR23}, 3A090.a.2")
B1_TPP = Threshold("tpp", ">=", 2400, f"{FR23}, 3A090.b.1")
B1_PD = Threshold("performance_density", ">=", 1.6, f"{FR23}, 3A090.b.1")
B2_PD = Threshold("performance_density", ">=", 3.2, f"{FR23}, 3A090.b.2")

PARAGRAPHS_2023 = (
    # 3A090.a.1: TPP of 4800 or more.
    Paragraph("3A090.a.1", "3A090.a", (A1_TPP,)),
    # 3A090.a.2: TPP of 1600 or more and PD of 5.92 or more.
    Paragraph("3A090.a.2", "3A090.a", (A2_TPP, A2_PD)),
    # 3A090.b.1: TPP 2400 or more but less than 4800, and PD 1.6 or more but less than 5.92.
    Paragraph(
        "3A090.b.1",
        "3A090.b",
        (B1_TPP, A1_TPP.below(f"{FR23}, 3A090.b.1"), B1_PD, A2_PD.below(f"{FR23}, 3A090.b.1")),
    ),
    # 3A090.b.2: TPP 1600 or more and PD 3.2 or more but less than 5.92.
    Paragraph(
        "3A090.b.2",
        "3A090.b",
        (A2_TPP.recited(f"{FR23}, 3A090.b.2"), B2_PD, A2_PD.below(f"{FR23}, 3A090.b.2")),
    ),
)

# Note 2 to 3A090: "3A090 does not apply to items that are not designed or marketed for use
# in datacenters and do not have a 'total processing performance' of 4800 or more."
NOTE_2 = (
    Threshold("datacenter", "==", False, f"{FR23}, Note 2 to 3A090"),
    A1_TPP.below(f"{FR23}, Note 2 to 3A090"),
)

# License Exception NAC: "Yes, for 3A090.a, if the item is not designed or marketed for use
# in datacenters and has a 'total processing performance' of 4800 or more; yes, for 3A090.b,
# if the item is designed or marketed for use in datacenters."
NAC_CITATION = f"{FR23}, 3A090 License Exceptions (NAC)"
NAC_CONDITIONS = (
    ("3A090.a", (Threshold("datacenter", "==", False, NAC_CITATION), A1_TPP.recited(NAC_CITATION))),
    ("3A090.b", (Threshold("datacenter", "==", True, NAC_CITATION),)),
)

AC_S_2023 = Regime(
    name="AC/S IFR (Oct 2023)",
    effective=date(2023, 11, 17),
    citation=FR23,
    paragraphs=PARAGRAPHS_2023,
    # 15 CFR 742.6(a)(6)(iii): "any destination specified in Country Groups D:1, D:4, or D:5
    # that is not also specified in Country Groups A:5 or A:6", plus Macau.
    restricted_groups=("D:1", "D:4", "D:5", "Macau"),
    exempt_groups=("A:5", "A:6"),
    destination_citation=f"{FR23}, 15 CFR 742.6(a)(6)(iii)",
    non_datacenter_exclusion=NOTE_2,
    license_exceptions=("NAC",),
    license_exception_conditions=NAC_CONDITIONS,
    # 15 CFR 744.23(a)(3): licence to any destination when a party is headquartered in, or
    # has an ultimate parent headquartered in, D:5 or Macau (reaffirmed by BIS, May 31 2026).
    # Review policy: presumption of denial (see HEADQUARTERS_POLICY_NOTE).
    headquarters_groups=("D:5", "Macau"),
    headquarters_citation=f"{FR23}, 15 CFR 744.23(a)(3)",
)

# --------------------------------------------------------------------------- 89 FR 23876
# Apr 4 2024 corrections: NAC (D:5/Macau, notification) split from ACA (D:1/D:4, none).
NAC_ACA_2024 = replace(
    AC_S_2023,
    name="AC/S corrections (Apr 2024)",
    effective=date(2024, 4, 4),
    citation="89 FR 23876",
    license_exceptions=("NAC", "ACA"),
)

# --------------------------------------------------------------------------- 89 FR 96790
# Dec 2 2024 IFR, effective Dec 2 2024 (HBM compliance date Dec 31 2024).  3A090.c: "High
# bandwidth memory (HBM) having a 'memory bandwidth density' greater than 2 gigabytes per
# second per square millimeter."  License Exception HBM (15 CFR 740.25) below 3.3.
FR24 = "89 FR 96790"
HBM_2024 = replace(
    NAC_ACA_2024,
    name="HBM / FDP IFR (Dec 2024)",
    effective=date(2024, 12, 2),
    citation=FR24,
    hbm=HbmControl(
        paragraph=Paragraph(
            "3A090.c", "3A090.c", (Threshold("hbm_bandwidth_density", ">", 2, f"{FR24}, 3A090.c"),)
        ),
        license_exception="HBM",
        license_exception_condition=Threshold("hbm_bandwidth_density", "<", 3.3, f"{FR24}, 15 CFR 740.25"),
        restricted_groups=("D:5", "Macau"),
        destination_citation=f"{FR24}, 15 CFR 742.6(a)(6)",
        compliance_date=date(2024, 12, 31),
        exception_conditions=(
            "memory bandwidth density below 3.3 GB/s/mm2 (15 CFR 740.25)",
            "only for HBM going to the packaging sites 740.25 makes eligible",
            "the notification and recordkeeping conditions of 740.25 are met",
        ),
    ),
)

# --------------------------------------------------------------------------- 90 FR 4544
# Framework for AI Diffusion, effective Jan 13 2025, compliance May 15 2025.  Tier 1 =
# Supp. No. 5 to part 740 para (a); Tier 3 = D:5 + Macau; Tier 2 = everything else.  BIS
# announced non-enforcement on May 13 2025; GAO B-337935 holds the rule still legally in effect.
FR25 = "90 FR 4544"
AI_DIFFUSION_2025 = replace(
    HBM_2024,
    name="Framework for AI Diffusion (Jan 2025)",
    effective=date(2025, 1, 13),
    citation=FR25,
    headquarters_citation_a=f"{FR25}, 15 CFR 742.6(a)(6)(iii)(A)",
    ai_diffusion=AiDiffusion(
        citation=FR25,
        compliance_date=date(2025, 5, 15),
        non_enforcement_since=date(2025, 5, 13),
        non_enforcement_citation="BIS non-enforcement announcement of May 13 2025 (GAO B-337935)",
        tier1_group="AI Tier 1",
        tier3_groups=("D:5", "Macau"),
        # "up to 1,699 H100 equivalents per customer annually" (secondary; exact figure not retrieved)
        lpp_h100_equivalents=1699,
        lpp_citation=f"{FR25}, License Exception LPP",
        # "~790 million TPP cumulative through 2027" for Tier 2 countries (secondary)
        tier2_cap_tpp=790_000_000,
        tier2_cap_citation=f"{FR25}, Tier 2 country allocation",
    ),
)

# --------------------------------------------------------------------------- 91 FR 1684
# Jan 15 2026 final rule, 15 CFR 742.6(b)(10)(iii)(A)(1): case-by-case review (not denial)
# for exports to China or Macau of commodities "with a TPP less than 21,000 ... and a
# 'total DRAM bandwidth' less than 6,500 GB/s".
FR26 = "91 FR 1684"
CASE_BY_CASE_2026 = replace(
    AI_DIFFUSION_2025,
    name="License review policy revision (Jan 2026)",
    effective=date(2026, 1, 15),
    citation=FR26,
    china_case_by_case=(
        Threshold("tpp", "<", 21_000, f"{FR26}, 15 CFR 742.6(b)(10)(iii)(A)(1)"),
        Threshold("dram_bandwidth", "<", 6_500, f"{FR26}, 15 CFR 742.6(b)(10)(iii)(A)(1)"),
    ),
    china_case_by_case_groups=("China", "Macau"),
)

# 91 FR 1684: the case-by-case review is for exports from the United States only, and only when
# the exporter meets the rule's conditions; re-exports and in-country transfers stay under a
# presumption of denial, as do parties headquartered in D:5/Macau located elsewhere.
CASE_BY_CASE_MOVEMENT = "export_from_us"
CASE_BY_CASE_CONDITIONS = (
    "the item is commercially available in the United States",
    "the exporter certifies sufficient US supply and that production will not divert global foundry capacity",
    "the recipient has demonstrated sufficient security procedures",
    "the item undergoes independent third-party testing in the United States",
    "shipments to China/Macau stay within 50 % of the volume shipped to US customers",
)

# Headquarters rule review policy: presumption of denial from 2023-11-17.  91 FR 1684 keeps
# parties headquartered in D:5/Macau under a presumption of denial wherever located, restating
# (not changing) the policy of 742.6(b)(10) for them.
HEADQUARTERS_POLICY_NOTE = (
    "presumption of denial for parties headquartered in D:5/Macau (15 CFR 742.6(b)(10); kept by 91 FR 1684)"
)

REGIMES: tuple[Regime, ...] = (
    AC_2022,
    MACAU_2023,
    AC_S_2023,
    NAC_ACA_2024,
    HBM_2024,
    AI_DIFFUSION_2025,
    CASE_BY_CASE_2026,
)
FIRST_EFFECTIVE = AC_2022.effective


def regime_in_force(as_of: date) -> Regime | None:
    """The latest regime effective on or before ``as_of``; None before 2022-10-07."""
    in_force = [regime for regime in REGIMES if regime.effective <= as_of]
    return in_force[-1] if in_force else None


# --------------------------------------------------------------------------- guidance
# Dated rows in data/guidance.yaml; the GP10 one also feeds the cluster score.


@dataclass(frozen=True)
class Guidance:
    effective: date
    citation: str
    text: str


def _guidance(guidance_id: str) -> Guidance:
    row = default_rule_data().guidance_by_id[guidance_id]
    return Guidance(effective=row.start, citation=row.source, text=row.text)


# BIS guidance of May 13 2025 on PRC advanced-computing ICs (Ascend 910B/910C/910D named).
GP10_GUIDANCE = _guidance("gp10-prc-ics")

# 15 CFR 772.1 'supercomputer' (87 FR 62186): "100 or more double-precision (64-bit)
# petaflops or 200 or more single-precision (32-bit) petaflops within a 41,600 ft3 or smaller
# envelope".  Numbers confirmed by secondary sources; verbatim wording unconfirmed.
SUPERCOMPUTER_FP64 = Threshold("fp64_petaflops", ">=", 100, f"{FR22}, 15 CFR 772.1 'supercomputer'")
SUPERCOMPUTER_FP32 = Threshold("fp32_petaflops", ">=", 200, f"{FR22}, 15 CFR 772.1 'supercomputer'")
