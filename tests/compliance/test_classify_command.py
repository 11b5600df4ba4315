"""`manage.py classify`: the exact interface, JSON fields, and clear errors."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def classify_json(*args):
    out = StringIO()
    call_command("classify", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_h800_by_nvml_name_before_and_after_2023():
    before = classify_json("--model", "NVIDIA H800", "--as-of", "2023-11-16")
    after = classify_json("--model", "NVIDIA H800", "--as-of", "2023-11-17")
    assert before["eccn"] is None and before["rule"] in ("87 FR 62186", "88 FR 2821")  # 2022 rule (+ Macau)
    assert (after["eccn"], after["paragraph"]) == ("3A090.a", "3A090.a.1")
    assert after["rule"].startswith("88 FR 73458")
    assert after["tpp"] == pytest.approx(15832, rel=0.01)
    for key in ("eccn", "paragraph", "rule", "tpp", "performance_density", "license_exception"):
        assert key in after


def test_catalog_key_and_pci_id_give_the_same_answer():
    assert classify_json("--model", "h800-sxm", "--as-of", "2024-06-01")["eccn"] == \
        classify_json("--pci-device-id", "0x2324", "--as-of", "2024-06-01")["eccn"] == "3A090.a"


def test_destination_adds_the_licence_determination():
    answer = classify_json("--model", "NVIDIA H800", "--as-of", "2024-06-01", "--destination", "CN")
    assert answer["license_required"] is True
    assert answer["review_policy"]
    assert answer["reasons"] and all(isinstance(r, str) for r in answer["reasons"])
    singapore = classify_json("--model", "NVIDIA H800", "--as-of", "2024-06-01", "--destination", "SG")
    assert singapore["license_required"] is False
    hq_rule = classify_json("--model", "NVIDIA H800", "--as-of", "2024-06-01", "--destination", "SG",
                            "--ultimate-parent-hq", "CN")
    assert hq_rule["license_required"] is True


def test_bare_figures_at_the_2022_threshold():
    at = classify_json("--tpp", "4800", "--io-bandwidth", "600", "--as-of", "2023-01-01")
    below = classify_json("--tpp", "4799.9", "--io-bandwidth", "600", "--as-of", "2023-01-01")
    assert at["eccn"] == "3A090.a" and below["eccn"] is None


@pytest.mark.parametrize("args, message", [
    (["--model", "NVIDIA H9000"], "no catalog chip or NVML name 'NVIDIA H9000'; did you mean"),
    (["--model", "h100-sxm", "--die-area", "800"], "only go with --tpp"),
    (["--tpp", "5000", "--as-of", "2024-01-01"], "unknown but needed"),
    (["--model", "h100-sxm", "--as-of", "2024-13-01"], "not a date"),
    (["--model", "h100-sxm", "--destination", "XX"], "not an ISO 3166-1"),
    (["--model", "h100-sxm", "--headquarters", "CN"], "need a --destination"),
    (["--model", "h100-sxm", "--movement", "export_from_us"], "need a --destination"),
    (["--pci-device-id", "0xZZZZ"], "not a PCI id"),
    (["--tpp", "-5", "--io-bandwidth", "1"], "finite number"),
])
def test_bad_input_exits_with_a_message(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("classify", *args)


@pytest.mark.django_db
def test_the_api_gives_the_command_answer(admin_client):
    response = admin_client.get("/api/v1/classify", {"model": "NVIDIA H800", "as_of": "2024-06-01",
                                                     "destination": "CN"})
    assert response.status_code == 200
    assert response.json() == classify_json("--model", "NVIDIA H800", "--as-of", "2024-06-01", "--destination", "CN")
    bad = admin_client.get("/api/v1/classify", {"model": "NVIDIA H800", "tpp": "5"})
    assert bad.status_code == 400 and "exactly one of model" in bad.json()["detail"]
    assert admin_client.get("/api/v1/classify", {"as_of": "soon", "model": "x"}).status_code == 400


def test_short_name_text_output_and_list():
    out = StringIO()
    call_command("classify", "--model", "H100", "--as-of", "2024-06-01", "--destination", "CN", stdout=out)
    text = out.getvalue()
    assert "ECCN 3A090.a (paragraph 3A090.a.1)" in text and "3A090.a 3A090.a.1" not in text
    assert "licence to CN: licence required (presumption of denial)" in text
    listing = StringIO()
    call_command("classify", "--list", "--json", stdout=listing)
    chips = {c["key"]: c for c in json.loads(listing.getvalue())}
    assert "H100" in chips["h100-sxm"]["aliases"] and "mi308x" in chips


def test_named_chip_without_figures_still_answers():
    answer = classify_json("--model", "MI308X", "--as-of", "2025-06-01")
    assert answer["eccn"] is None and answer["missing"] == ["tpp"]
