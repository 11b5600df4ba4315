"""The audit report as one row per GPU: what was reported, how it classifies, and the licence question.

Read from the canonical report document (compliance.services.cluster_audit_report), never from
current tables, so the rows describe the cluster as of the report's date like the JSON does.
"""
from __future__ import annotations

from .tabular import Table

COLUMNS = (
    "cluster", "site", "country", "operator", "as_of", "rule_in_force", "host", "gpu_uuid", "reported_name",
    "pci_device_id", "active_nvlinks", "catalog_model", "match_basis", "provenance", "observation_id",
    "collected_at", "eccn", "paragraph", "tpp", "performance_density", "license_required", "review_policy",
    "license_exception", "license_reasons", "licenses_on_record", "report_content_sha256",
)


def audit_gpu_table(document: dict) -> Table:
    """`document` is the served body: {"content_sha256": ..., "report": {...}}."""
    report = document["report"]
    cluster = report["cluster"]
    figures = report.get("figures", {})
    verdicts = figures.get("models", {})
    licences = figures.get("licenses_on_record", [])
    rows = []
    for gpu in report["inventory"]:
        verdict = verdicts.get(gpu.get("catalog_model")) if gpu.get("catalog_model") else None
        classification = (verdict or {}).get("classification") or {}
        determination = (verdict or {}).get("license") or {}
        if verdict is None:
            required = "undetermined: the GPU matches no catalog entry"
        elif not determination:
            required = f"undetermined: {verdict.get('undetermined', 'no determination')}"
        elif determination.get("license_required") is None:
            missing = ", ".join(determination.get("missing", []))
            required = determination.get("headline") or f"undetermined: missing {missing or 'a deciding fact'}"
        else:
            required = "yes" if determination["license_required"] else "no"
        rows.append([
            cluster["name"], cluster["site"], cluster["country"], cluster["operator"], report["as_of"],
            report["rule_in_force"], gpu["host"], gpu["uuid"], gpu["reported_name"],
            _hex(gpu.get("pci_device_id")), gpu.get("active_nvlinks"), gpu.get("catalog_model"),
            gpu.get("match_basis"), gpu.get("provenance"), gpu.get("observation_id"), gpu.get("collected_at"),
            classification.get("eccn") or ("not 3A090/4A090" if classification else None),
            classification.get("paragraph"), classification.get("tpp"), classification.get("performance_density"),
            required, determination.get("review_policy"), determination.get("license_exception"),
            determination.get("reasons", []), licences if determination.get("license_required") else [],
            document["content_sha256"],
        ])
    return Table(title=f"audit {cluster['name']} {report['as_of']}", columns=COLUMNS, rows=rows)


def _hex(device_id):
    return f"0x{device_id:08x}" if isinstance(device_id, int) else device_id
