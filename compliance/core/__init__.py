"""compliance.core: the export-control law for AI chips as pure Python (no Django).

Everything here is a pure function of its inputs and a date, so the same inputs and
``as_of`` always give the same answer (and the same ``to_dict()`` output).

Catalog (``catalog.py``, data in ``data/chips.yaml`` checked against ``data/chips.schema.json``)
    chip(key) -> Chip                               raises UnknownChip
    find_by_nvml_name(name) -> Chip | None          case/whitespace-insensitive
    default_catalog().lookup(name) -> Chip | None   key, NVML name or alias ('H100', 'NVIDIA H100')
    default_catalog().near(name) -> [names]         suggestions on a miss
    find_by_pci_id(0x2330 | "0x2330" | 0x233010DE | "10de:2330") -> tuple[Chip, ...]
                                                    all candidates when variants share an id
    load_catalog(path) -> Catalog                   raises CatalogError naming entry and field
    H100_TPP = 15832                                the H100-equivalent divisor
    Chip: .tpp, .tpp_basis, .applicable_die_area, .performance_density, .io_bandwidth,
          .rates, .provenance, .unconfirmed(), and the catalogued specs

Rules (``regimes.py``: the logic, thresholds and paragraphs)
    regime_in_force(as_of) -> Regime | None         None before 2022-10-07
    REGIMES, Threshold, Paragraph, Regime           dated, cited rule versions
    GP10_GUIDANCE, SUPERCOMPUTER_FP64, SUPERCOMPUTER_FP32, CASE_BY_CASE_CONDITIONS

Rule data (``ruledata.py``, data in ``data/country_groups.yaml``, ``embargoes.yaml``, ``notices.yaml``,
``guidance.yaml`` checked against ``data/rules.schema.json``): dated rows, each with source and confidence
    default_rule_data() -> RuleData                 raises RuleDataError naming file and row
        .groups[name].members(as_of), .in_any(code, groups, as_of), .country(code),
        .embargoes_on(code, as_of), .notices_on(as_of), .guidance_by_id, .variants(countries, as_of)

Timeline (``timeline.py``): every dated change with its source
    timeline(country=None, since=None) -> tuple[Event, ...];  render_markdown() -> docs/rules.md text

Classification (``classify.py``)
    classify(Chip | Spec | HbmStack, as_of) -> Classification     raises InsufficientSpec
    classify_or_undetermined(item, as_of) -> Classification        .missing names unknown inputs
        Classification: eccn, paragraph, rule, as_of, tpp, performance_density,
        license_exception, explanation (Steps: test, value, operator, limit, result,
        citation), spec, missing, needed_for; .to_dict()
    Spec(tpp, die_area=None, io_bandwidth=None, dram_bandwidth=None, datacenter=None,
         vendor=None, chip=None);  HbmStack(hbm_bandwidth_density)
    InsufficientSpec: an input the regime needs is unknown (.missing, .needed_for)

Destinations (``destinations.py``, dated facts from ``ruledata.py``)
    determine_license(classification, *, destination, as_of, headquarters=None,
        ultimate_parent_hq=None, entity_listed=False, prc_made=False,
        enforce_ai_diffusion=False, order_tpp=None, movement=None, contained=()) -> LicenseDetermination
        movement: "export_from_us" | "reexport" | "transfer_in_country" | None (unknown)
        LicenseDetermination: license_required (True/False/None = undetermined), review_policy,
        license_exception, reasons, warnings, missing, conditions, unconfirmed, basis;
        .headline; .to_dict()

Scoring (``scoring.py``)
    score_cluster([(chip, count), ...], *, as_of, licence_gap=None) -> ClusterScore
        licence_gap: LicenceGap(models, review_policy, citation) from the licence determination
        gpus_by_model, gpu_count, aggregate_tpp, h100_equivalents, fp64/fp32 petaflops
        vs the 'supercomputer' lines, controlled share, risk_score and the contributions
        ({points, reason, citation}) that sum to it; .to_dict()
"""

from .catalog import H100_TPP, CatalogError, Chip, UnknownChip, chip, find_by_nvml_name, find_by_pci_id, load_catalog
from .classify import Classification, HbmStack, InsufficientSpec, Spec, classify, classify_or_undetermined
from .destinations import MOVEMENTS, LicenseDetermination, determine_license
from .regimes import regime_in_force
from .scoring import ClusterScore, LicenceGap, score_cluster

__all__ = [
    "H100_TPP",
    "CatalogError",
    "Chip",
    "Classification",
    "ClusterScore",
    "HbmStack",
    "InsufficientSpec",
    "LicenceGap",
    "LicenseDetermination",
    "MOVEMENTS",
    "Spec",
    "UnknownChip",
    "chip",
    "classify",
    "classify_or_undetermined",
    "determine_license",
    "find_by_nvml_name",
    "find_by_pci_id",
    "load_catalog",
    "regime_in_force",
    "score_cluster",
]
