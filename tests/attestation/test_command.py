"""manage.py verify_attestation: JSON for officers and third parties, exit status by outcome."""
from __future__ import annotations

import json
from importlib import resources

import pytest
from django.core.management import CommandError, call_command

from .evidence import SAMPLE_NONCE, flip_bit, sample_report

SAMPLES = resources.files("verifier") / "samples"


def run(*args) -> tuple[dict | None, int]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_attestation", *args, "--json", stdout=out)
        code = 0
    except CommandError as error:
        code = error.returncode
    text = out.getvalue()
    return (json.loads(text) if text else None), code


@pytest.fixture
def sample_files():
    with resources.as_file(SAMPLES / "hopperAttestationReport.txt") as report, \
            resources.as_file(SAMPLES / "hopperCertChain.txt") as chain:
        yield str(report), str(chain)


def test_sample_verifies_and_prints_what_it_binds(sample_files):
    report, chain = sample_files
    result, code = run("--report", report, "--cert-chain", chain, "--nonce", SAMPLE_NONCE.hex())
    assert code == 0
    assert (result["verified"], result["chip"], result["reasons"]) == (True, "GH100", [])
    assert result["binds"]["device_certificate_serial"] == "53c22ba15e5d68088282da074ed9fb37aa585771"
    assert (result["binds"]["vbios_version"], result["binds"]["driver_version"]) == ("96.00.9F.00.01", "550.90.07")
    assert result["binds"]["fwid"] and result["nonce_checked"] is True


def test_wrong_nonce_prints_the_reason_and_exits_1(sample_files):
    report, chain = sample_files
    result, code = run("--report", report, "--cert-chain", chain, "--nonce", "00" * 32)
    assert code == 1
    assert result["verified"] is False and result["reasons"][0].startswith("nonce_mismatch")


def test_one_bit_changed_exits_1_with_the_signature_reason(sample_files, tmp_path):
    _, chain = sample_files
    changed = tmp_path / "report.bin"
    changed.write_bytes(flip_bit(sample_report(), 60))
    result, code = run("--report", str(changed), "--cert-chain", chain)
    assert code == 1 and [r.split(":")[0] for r in result["reasons"]] == ["signature_invalid"]


def test_rim_files_are_checked_offline(sample_files):
    report, chain = sample_files
    with resources.as_file(SAMPLES / "1010_0200_882_96005E0001_PROD.swidtag") as rim:
        result, code = run("--report", report, "--cert-chain", chain, "--rim", str(rim), "--as-of", "2025-01-15")
    assert code == 0  # a RIM for another VBIOS version is not applied to this one
    assert result["measurements"]["status"] == "unchecked"


@pytest.mark.parametrize("args", [
    ("--report", "/nonexistent", "--cert-chain", "/nonexistent"),
    ("--report", "/nonexistent", "--cert-chain", "/nonexistent", "--nonce", "abc"),
])
def test_bad_input_exits_2_naming_the_problem(args):
    with pytest.raises(CommandError) as error:
        call_command("verify_attestation", *args)
    assert error.value.returncode == 2
