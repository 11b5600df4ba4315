"""Systems (4A090 and the .z paragraphs): the core, `manage.py classify --json` and `GET /api/v1/classify`."""
import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from compliance.core import chip
from compliance.core.systems import (
    SystemDataError,
    classify_components,
    classify_system,
    default_systems,
    determine_system_license,
    find_system,
    load_systems,
)

SYSTEMS = {
    # model: (GPU chip, count, ECCN on 2024-06-01, paragraph of the chip inside)
    "NVIDIA DGX H100": ("h100-sxm", 8, "4A090.a", "3A090.a.1"),
    "NVIDIA DGX H800": ("h800-sxm", 8, "4A090.a", "3A090.a.1"),
    "NVIDIA HGX H100 8-GPU": ("h100-sxm", 8, "4A090.a", "3A090.a.1"),
    "NVIDIA HGX H20 8-GPU": ("h20", 8, None, None),
    "NVIDIA DGX B200": ("b200", 8, "4A090.a", "3A090.a.1"),
    "NVIDIA GB200 NVL72": ("gb200", 72, "4A090.a", "3A090.a.1"),
}


def classify_json(*args):
    out = StringIO()
    call_command("classify", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("model", sorted(SYSTEMS))
def test_every_listed_system_is_catalogued_with_its_gpus_and_source(model):
    system = find_system(model)
    gpu, count, _, _ = SYSTEMS[model]
    assert system.gpus == ((gpu, count),)
    assert system.source and system.confidence in ("confirmed", "secondary", "unconfirmed")


@pytest.mark.parametrize("model", sorted(SYSTEMS))
def test_system_classifies_through_the_command(model):
    gpu, count, eccn, chip_paragraph = SYSTEMS[model]
    answer = classify_json("--model", model, "--as-of", "2024-06-01")
    assert answer["eccn"] == eccn and answer["paragraph"] == eccn
    assert answer["components"] == [{"chip": gpu, "count": count, "eccn": chip_paragraph and "3A090.a",
                                     "paragraph": chip_paragraph, "undetermined": None}]
    assert answer["classification_reasons"]
    if eccn:
        assert "4A090.a" in answer["classification_reasons"][0] and "88 FR 73458" in answer["classification_reasons"][0]
        assert any(".z paragraph" in reason for reason in answer["classification_reasons"])
    else:
        assert "not 4A090" in answer["classification_reasons"][0]


def test_dgx_h800_is_4a090_from_the_2023_rule_and_not_before():
    before = classify_json("--model", "NVIDIA DGX H800", "--as-of", "2023-11-16")
    after = classify_json("--model", "NVIDIA DGX H800", "--as-of", "2023-11-17")
    assert before["eccn"] is None  # the H800's 400 GB/s NVLink kept it under the 2022 I/O prong
    assert after["eccn"] == "4A090.a" and after["rule"] == "88 FR 73458"


def test_system_licence_determination_by_destination_and_through_the_notice():
    dgx = classify_json("--model", "DGX H100", "--as-of", "2024-06-01", "--destination", "CN")
    assert dgx["license_required"] is True and dgx["review_policy"] == "presumption of denial"
    assert any("4A090.a computer" in reason and "742.6(a)(6)(iii)" in reason for reason in dgx["reasons"])
    assert classify_json("--model", "DGX H100", "--as-of", "2024-06-01", "--destination", "DE")[
        "license_required"] is False
    h20 = classify_json("--model", "HGX H20", "--as-of", "2025-06-01", "--destination", "CN")
    assert h20["eccn"] is None and h20["license_required"] is True
    assert any("unconfirmed" in warning for warning in h20["warnings"])  # the notice's reach to systems


def test_system_with_chip_figures_is_refused():
    with pytest.raises(CommandError, match="catalogued system: --die-area do not apply"):
        classify_json("--model", "NVIDIA DGX B200", "--die-area", "100")


def test_z_paragraph_when_the_system_would_otherwise_be_an_encryption_item():
    verdict = classify_components([(chip("h100-sxm"), 8)], date(2024, 6, 1), otherwise_eccn="5A992.c")
    assert (verdict.eccn, verdict.paragraph) == ("5A992.z", "4A090.a")
    assert "5A992.z" in verdict.reasons[1]
    # The .z paragraphs came with 88 FR 73458: before it, 4A090 itself.
    assert classify_components([(chip("h100-sxm"), 8)], date(2023, 6, 1), otherwise_eccn="5A992.c").eccn == "4A090.a"


def test_every_z_paragraph_of_the_issue_is_in_the_data():
    assert {z.eccn for z in default_systems().z_paragraphs} == {
        "3A001.z", "4A003.z", "4A004.z", "4A005.z", "5A002.z", "5A004.z", "5A992.z", "5D002.z", "5D992.z"}
    assert all(z.source and z.confidence for z in default_systems().z_paragraphs)


def test_most_capable_chip_decides_and_an_unknown_one_leaves_it_undetermined():
    mixed = classify_components([(chip("l40"), 4), (chip("h100-sxm"), 1)], date(2024, 6, 1))
    assert mixed.eccn == "4A090.a" and mixed.governing.chip == "h100-sxm"
    only_b = classify_components([(chip("l40"), 4)], date(2024, 6, 1))
    assert only_b.eccn == "4A090.b"
    unknown = chip("mi308x")  # catalogued without the figures 3A090 needs
    with_b = classify_components([(chip("l40"), 4), (unknown, 1)], date(2024, 6, 1))
    assert with_b.eccn is None and with_b.paragraph == "undetermined" and "mi308x" in with_b.undetermined
    assert determine_system_license(with_b, destination="DE", as_of=date(2024, 6, 1)).license_required is None
    with_a = classify_components([(chip("h100-sxm"), 1), (unknown, 1)], date(2024, 6, 1))
    assert with_a.eccn == "4A090.a"  # an .a IC inside decides whatever the other one is


def test_nothing_before_the_first_rule():
    assert classify_system(find_system("DGX H100"), date(2022, 10, 6)).eccn is None
    assert classify_system(find_system("DGX H100"), date(2022, 10, 7)).eccn == "4A090.a"


@pytest.mark.parametrize("row, message", [
    ({"key": "x", "model": "X", "vendor": "V", "form": "computer", "gpus": {"chip": "nope", "count": 8},
      "source": "s", "confidence": "secondary"}, "chip 'nope' is not in the chip catalog"),
    ({"key": "x", "model": "X", "vendor": "V", "form": "rack", "gpus": {"chip": "h100-sxm", "count": 8},
      "source": "s", "confidence": "secondary"}, "form must be one of"),
    ({"key": "x", "model": "X", "vendor": "V", "form": "computer", "gpus": {"chip": "h100-sxm", "count": 8},
      "confidence": "secondary"}, "missing source"),
    ({"key": "x", "model": "X", "vendor": "V", "form": "computer", "gpus": {"chip": "h100-sxm", "count": 8},
      "source": "s", "confidence": "sure"}, "confidence must be one of"),
])
def test_bad_system_row_names_file_and_row(tmp_path, row, message):
    import yaml

    path = tmp_path / "systems.yaml"
    path.write_text(yaml.safe_dump({"paragraphs": [], "z_paragraphs": [], "systems": [row]}))
    with pytest.raises(SystemDataError, match=rf"systems.yaml: systems\[0\]: .*{message}"):
        load_systems(path)


@pytest.mark.django_db
def test_system_through_the_api(users):
    from tests.api.fleet import api_client

    response = api_client(users["officer"]).get(
        "/api/v1/classify", {"model": "NVIDIA GB200 NVL72", "as_of": "2024-06-01", "destination": "AE"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["eccn"] == "4A090.a" and body["components"][0] == {
        "chip": "gb200", "count": 72, "eccn": "3A090.a", "paragraph": "3A090.a.1", "undetermined": None}
    assert body["license_required"] is True
    assert body == classify_json("--model", "NVIDIA GB200 NVL72", "--as-of", "2024-06-01", "--destination", "AE")


@pytest.mark.django_db
@pytest.mark.parametrize("model", sorted(SYSTEMS))
def test_every_listed_system_through_the_api_as_through_the_command(users, model):
    from tests.api.fleet import api_client

    params = {"model": model, "as_of": "2024-06-01", "destination": "CN", "movement": "export_from_us"}
    response = api_client(users["officer"]).get("/api/v1/classify", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["eccn"], body["paragraph"]) == (SYSTEMS[model][2], SYSTEMS[model][2])
    # China before the H20 notice (2025-04-09): a 4A090 system needs a licence, the HGX H20 none.
    assert body["classification_reasons"] and body["license_required"] is (body["eccn"] is not None)
    assert body == classify_json("--model", model, "--as-of", "2024-06-01", "--destination", "CN",
                                 "--movement", "export_from_us")
