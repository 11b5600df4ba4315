"""The pure verifier on NVIDIA's real Hopper sample, and each way evidence must fail (with its reason)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from compliance.attestation import rim, spdm
from compliance.attestation.verifier import RIM_ROOT_FILE, pinned_root, verify_evidence

from .evidence import (NOW, SAMPLE_NONCE, flip_bit, make_pki, resign, sample_chain, sample_report, sample_rim,
                       signed_rim, with_nonce)


def codes(verification) -> list[str]:
    return [reason.split(":", 1)[0] for reason in verification.reasons]


def test_nvidia_sample_verifies_offline_with_its_own_nonce():
    result = verify_evidence(report=sample_report(), cert_chain=sample_chain(), now=NOW, expected_nonce=SAMPLE_NONCE)
    assert result.verified, result.reasons
    assert result.reasons == []
    assert result.chip == "GH100"
    assert result.binds["nonce"] == SAMPLE_NONCE.hex()
    assert result.binds["vbios_version"] == "96.00.9F.00.01"
    assert result.binds["driver_version"] == "550.90.07"
    assert (result.binds["project"], result.binds["project_sku"], result.binds["chip_sku"]) == ("1010", "0200", "882")
    assert result.binds["device_certificate_serial"] == "53c22ba15e5d68088282da074ed9fb37aa585771"
    assert len(result.binds["fwid"]) == 96
    # No RIM for this VBIOS/driver is at hand, and revocation needs OCSP: both said, neither silently passed.
    assert result.measurements["status"] == "unchecked"
    assert any(n.startswith("vbios_rim_unavailable") for n in result.notes)
    assert any(n.startswith("device_revocation_not_checked") for n in result.notes)


@pytest.mark.parametrize("offset", [
    37 + 8 + 20,  # inside measurement block 1
    37 + 2,       # the response's param1
    4,            # the request nonce
    -1,           # the signature's last byte
])
def test_one_bit_changed_anywhere_signed_fails_the_signature(offset):
    changed = flip_bit(sample_report(), offset % len(sample_report()))
    result = verify_evidence(report=changed, cert_chain=sample_chain(), now=NOW, expected_nonce=changed[4:36])
    assert not result.verified
    assert codes(result) == ["signature_invalid"]


def test_wrong_nonce_fails_with_the_nonce_reason_only():
    result = verify_evidence(report=sample_report(), cert_chain=sample_chain(), now=NOW, expected_nonce=b"\x00" * 32)
    assert not result.verified
    assert codes(result) == ["nonce_mismatch"]
    assert SAMPLE_NONCE.hex() in result.reasons[0]


def test_without_a_nonce_the_replay_risk_is_stated():
    result = verify_evidence(report=sample_report(), cert_chain=sample_chain(), now=NOW)
    assert result.verified and not result.nonce_checked
    assert any(n.startswith("nonce_not_checked") for n in result.notes)


def test_evidence_signed_under_another_root_fails_against_the_pinned_nvidia_root():
    pki = make_pki(root_name="NVIDIA Device Identity CA")  # same name, different key: the pin is the key
    report = resign(sample_report(), pki.leaf_key)
    trusted_elsewhere = verify_evidence(report=report, cert_chain=pki.chain_pem(), now=NOW,
                                        expected_nonce=SAMPLE_NONCE, roots=[pki.root])
    assert trusted_elsewhere.verified, trusted_elsewhere.reasons  # the forged chain is otherwise well made
    result = verify_evidence(report=report, cert_chain=pki.chain_pem(), now=NOW, expected_nonce=SAMPLE_NONCE)
    assert codes(result) == ["device_chain_untrusted_root"]


def test_nvidia_chain_with_its_root_swapped_fails():
    pki = make_pki(root_name="NVIDIA Device Identity CA")
    certificates = x509.load_pem_x509_certificates(sample_chain())
    forged = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates[:-1] + [pki.root])
    result = verify_evidence(report=sample_report(), cert_chain=forged, now=NOW, expected_nonce=SAMPLE_NONCE)
    assert "device_chain_untrusted_root" in codes(result)
    assert "device_chain_broken" in codes(result)


def test_expired_leaf_fails_with_its_date():
    pki = make_pki(leaf_not_after=NOW - timedelta(days=1))
    result = verify_evidence(report=resign(sample_report(), pki.leaf_key), cert_chain=pki.chain_pem(), now=NOW,
                             expected_nonce=SAMPLE_NONCE, roots=[pki.root])
    assert codes(result) == ["device_certificate_expired"]
    assert "leaf" in result.reasons[0]


def test_revoked_leaf_fails_when_the_crl_is_given():
    pki = make_pki()
    report = resign(sample_report(), pki.leaf_key)
    crl = pki.crl_revoking(pki.leaf.serial_number)
    result = verify_evidence(report=report, cert_chain=pki.chain_pem(), now=NOW, expected_nonce=SAMPLE_NONCE,
                             roots=[pki.root], crls=[crl])
    assert codes(result) == ["device_certificate_revoked"]
    other = pki.crl_revoking(pki.leaf.serial_number + 1)
    clean = verify_evidence(report=report, cert_chain=pki.chain_pem(), now=NOW, expected_nonce=SAMPLE_NONCE,
                            roots=[pki.root], crls=[other])
    assert clean.verified and not any(n.startswith("device_revocation_not_checked") for n in clean.notes)


def test_firmware_id_must_match_the_attestation_certificate():
    report = sample_report()
    fwid = spdm.parse_report(report).opaque["fwid"]
    matching = make_pki(leaf_fwid=fwid)
    ok = verify_evidence(report=resign(report, matching.leaf_key), cert_chain=matching.chain_pem(), now=NOW,
                         expected_nonce=SAMPLE_NONCE, roots=[matching.root])
    assert ok.verified, ok.reasons
    other = make_pki(leaf_fwid=bytes(48))
    bad = verify_evidence(report=resign(report, other.leaf_key), cert_chain=other.chain_pem(), now=NOW,
                          expected_nonce=SAMPLE_NONCE, roots=[other.root])
    assert codes(bad) == ["fwid_mismatch"]


def test_a_fresh_nonce_needs_a_fresh_signature():
    nonce = bytes(range(32))
    replayed = with_nonce(sample_report(), nonce)  # the nonce edited into NVIDIA's signed bytes
    result = verify_evidence(report=replayed, cert_chain=sample_chain(), now=NOW, expected_nonce=nonce)
    assert codes(result) == ["signature_invalid"]


@pytest.mark.parametrize("data", [b"", b"\x11\xe0" + bytes(200), sample_report()[:-1], sample_report() + b"\x00"])
def test_malformed_reports_are_a_reason_not_a_crash(data):
    result = verify_evidence(report=data, cert_chain=sample_chain(), now=NOW, expected_nonce=SAMPLE_NONCE)
    assert not result.verified
    assert codes(result) == ["report_malformed"]


def test_unreadable_chain_is_a_reason():
    result = verify_evidence(report=sample_report(), cert_chain=b"not a pem", now=NOW, expected_nonce=SAMPLE_NONCE)
    assert not result.verified
    assert codes(result) == ["certificate_chain_unreadable"]


# --- RIMs -----------------------------------------------------------------------------------------


def test_nvidia_rims_signatures_verify_and_their_signers_have_since_expired():
    root = pinned_root(RIM_ROOT_FILE)
    then = NOW.replace(year=2025, month=1)
    loaded = rim.load_rim(sample_rim("1010_0200_882_96005E0001_PROD.swidtag"), name="vbios", roots=[root], now=then)
    assert loaded.trusted, loaded.problems
    assert (loaded.kind, loaded.version, len(loaded.golden)) == ("vbios", "96.00.5E.00.01", 12)
    driver = rim.load_rim(sample_rim("Driver_RIM_test_no_gpu.swidtag"), name="driver", roots=[root], now=then)
    assert driver.trusted and driver.kind == "driver"
    today = rim.load_rim(sample_rim("1010_0200_882_96005E0001_PROD.swidtag"), name="vbios", roots=[root], now=NOW)
    assert [p.split(":", 1)[0] for p in today.problems] == ["rim_certificate_expired", "rim_certificate_expired"]


def test_an_altered_rim_fails_its_digest():
    data = sample_rim("1010_0200_882_96005E0001_PROD.swidtag")
    altered = data.replace(b'ns2:Hash0="c3f65ef7', b'ns2:Hash0="c3f65ef8', 1)
    assert altered != data
    loaded = rim.load_rim(altered, name="altered", roots=[pinned_root(RIM_ROOT_FILE)], now=NOW.replace(year=2025))
    assert [p.split(":", 1)[0] for p in loaded.problems] == ["rim_signature_invalid"]
    assert "digest" in loaded.problems[0]


def test_a_rim_under_another_root_is_not_trusted():
    pki = make_pki()
    data = signed_rim(version="96.00.9F.00.01", golden={1: bytes(48)}, pki=pki)
    loaded = rim.load_rim(data, name="foreign", roots=[pinned_root(RIM_ROOT_FILE)], now=NOW)
    assert [p.split(":", 1)[0] for p in loaded.problems] == ["rim_chain_untrusted_root"]


def test_sample_measurements_differ_from_another_vbios_golden_values():
    root = pinned_root(RIM_ROOT_FILE)
    other = rim.load_rim(sample_rim("1010_0200_882_96005E0001_PROD.swidtag"), name="96.00.5E.00.01", roots=[root],
                         now=NOW.replace(year=2025))
    problems = rim.compare([other], spdm.parse_report(sample_report()).measurements)
    mismatched = sorted(int(p.split("measurement ")[1].split(" ")[0]) for p in problems)
    assert mismatched == [1, 2, 9, 11]


def _rims_for_sample(pki, *, alter_index=None):
    measurements = spdm.parse_report(sample_report()).measurements
    vbios = {i - 1: v for i, v in measurements.items() if 1 <= i <= 12}
    driver = {i - 1: v for i, v in measurements.items() if 13 <= i <= 30}
    if alter_index is not None:
        vbios[alter_index] = bytes(48)
    return [rim.load_rim(signed_rim(version="96.00.9F.00.01", golden=vbios, pki=pki), name="vbios", roots=[pki.root],
                         now=NOW),
            rim.load_rim(signed_rim(version="550.90.07", golden=driver, pki=pki), name="driver", roots=[pki.root],
                         now=NOW)]


def test_measurements_match_trusted_golden_values_for_the_measured_versions():
    pki = make_pki()
    result = verify_evidence(report=sample_report(), cert_chain=sample_chain(), now=NOW, expected_nonce=SAMPLE_NONCE,
                             rims=_rims_for_sample(pki))
    assert result.verified, result.reasons
    assert result.measurements == {"status": "match", "compared": ["driver", "vbios"], "rims": ["vbios", "driver"]}


def test_a_measurement_off_its_golden_value_fails():
    pki = make_pki()
    result = verify_evidence(report=sample_report(), cert_chain=sample_chain(), now=NOW, expected_nonce=SAMPLE_NONCE,
                             rims=_rims_for_sample(pki, alter_index=3))
    assert codes(result) == ["measurement_mismatch"]
    assert result.measurements["status"] == "mismatch"
    assert "measurement 3" in result.reasons[0]
