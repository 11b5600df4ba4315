"""import_csl: both published formats, idempotence, and all-or-nothing on bad input."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from compliance.screening.models import ListEntry, ListEntryKey, ScreeningList

from .conftest import CSL_CSV, CSL_JSON

COMPARED_FIELDS = ("entry_key", "source_id", "source_list", "source_code", "entity_number", "entry_type", "name",
                   "alt_names", "addresses", "countries", "programs", "federal_register_notice", "start_date",
                   "remarks", "source_list_url", "source_information_url", "normalized_name", "fingerprint",
                   "license_requirement", "license_policy")


def entries_of(screening_list):
    return sorted(ListEntry.objects.filter(screening_list=screening_list).values(*COMPARED_FIELDS),
                  key=lambda row: row["entry_key"])


def test_csv_and_json_of_the_same_list_give_the_same_entries(import_list):
    from_json, from_csv = import_list(CSL_JSON), import_list(CSL_CSV)
    assert (from_json.file_format, from_csv.file_format) == ("json", "csv")
    assert from_json.entry_count == from_csv.entry_count == 11
    assert entries_of(from_json) == entries_of(from_csv)
    sugon = ListEntry.objects.get(screening_list=from_csv, name="Sugon")
    assert "Zhongke Shuguang" in sugon.alt_names and sugon.countries == ["CN"]
    assert sugon.addresses[1] == {"line": "15 Haitai Huake Street, Huayuan Industrial Zone, Tianjin, 300384, CN",
                                  "country": "CN"}
    # An Entity List entry's own licence requirement and review policy, as the list publishes them.
    assert (sugon.license_requirement, sugon.license_policy) == (
        "For all items subject to the EAR. (See §§ 734.9(e) and 744.11 of the EAR).", "Presumption of denial.")
    assert ListEntry.objects.get(screening_list=from_json, name="ROSOBORONEXPORT OAO").license_policy == ""


def test_version_comes_from_the_file_else_from_its_date(import_list):
    assert import_list(CSL_JSON).version == "2026-05-29T13:09:14+00:00"
    assert len(import_list(CSL_CSV).version) == len("2026-05-30")  # the CSV says none: the file's date


def test_the_same_file_twice_is_one_list(db):
    out = StringIO()
    call_command("import_csl", str(CSL_JSON), stdout=out)
    call_command("import_csl", str(CSL_JSON), stdout=out)
    assert ScreeningList.objects.count() == 1
    assert "already imported" in out.getvalue()
    assert ScreeningList.objects.get().sha256 in {
        __import__("hashlib").sha256(CSL_JSON.read_bytes()).hexdigest()}


def test_progress_counter_goes_to_stderr_when_asked(db):
    err = StringIO()
    call_command("import_csl", str(CSL_CSV), "--progress", stdout=StringIO(), stderr=err)
    assert "\rimporting entries 11/11" in err.getvalue()


def test_only_screenable_types_are_indexed(write_csl, csl_document, import_list):
    csl_document["results"][0]["type"] = "Individual"
    screening_list = import_list(write_csl(csl_document))
    individual = ListEntry.objects.get(screening_list=screening_list, name="Huawei Technologies Co., Ltd.")
    assert not ListEntryKey.objects.filter(entry=individual).exists()
    assert ListEntryKey.objects.filter(screening_list=screening_list).exists()


def _broken_json(csl_document, mutate):
    mutate(csl_document)
    return json.dumps(csl_document).encode()


BROKEN = {
    "unknown format": ("list.txt", b"hello, this is not a list\n", "unknown format"),
    "missing column": ("list.csv", b"_id,source,title\n1,EL,x\n", "missing required column(s) name"),
    "invalid utf-8": ("list.csv", CSL_CSV.read_bytes()[:300] + b"\xff\xfe" + CSL_CSV.read_bytes()[300:],
                      "not valid UTF-8"),
    "short row": ("list.csv", CSL_CSV.read_bytes() + b"abc,Entity List (EL) - Bureau of Industry and Security,1\n",
                  "row 13: expected 29 fields"),
    "bad date": ("list.csv", CSL_CSV.read_bytes().replace(b"2019-06-24", b"24/06/2019", 1),
                 "row 6: start_date '24/06/2019' is not a date"),
    "invalid json": ("list.json", b'{"results": [', "invalid JSON at line 1"),
    "deep nesting": ("list.json", b'{"results": ' * 5000, "JSON nested too deeply"),
    "nul in a csv cell": ("list.csv", CSL_CSV.read_bytes().replace(b"Inspur Group", b"Inspur\x00Group"),
                          "row 5: name contains a NUL character"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_input_exits_non_zero_naming_file_row_and_problem_and_writes_nothing(db, tmp_path, case):
    file_name, content, problem = BROKEN[case]
    path = tmp_path / file_name
    path.write_bytes(content)
    with pytest.raises(CommandError) as failure:
        call_command("import_csl", str(path), stdout=StringIO())
    assert str(path) in str(failure.value) and problem in str(failure.value)
    assert "nothing was imported" in str(failure.value)
    assert not ScreeningList.objects.exists() and not ListEntry.objects.exists()


@pytest.mark.parametrize("mutate, problem", [
    (lambda d: d["results"][3].update(name=""), "row 4: name is empty"),
    (lambda d: d["results"][5].update(id=d["results"][2]["id"]), "row 6: duplicate id"),
    (lambda d: d["results"][1].update(addresses=["Shenzhen"]), "row 2: addresses must hold objects"),
    (lambda d: d["results"][2].update(alt_names=["SMIC\x00"]), "row 3: alt_names contains a NUL character"),
])
def test_a_broken_json_row_is_named_and_nothing_written(db, write_csl, csl_document, mutate, problem):
    mutate(csl_document)
    path = write_csl(csl_document)
    with pytest.raises(CommandError, match=problem):
        call_command("import_csl", str(path), stdout=StringIO())
    assert not ScreeningList.objects.exists()


def test_a_missing_file_is_reported(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read the file"):
        call_command("import_csl", str(tmp_path / "absent.csv"), stdout=StringIO())
