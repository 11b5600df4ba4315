"""The pinned roots are NVIDIA's published ones, and the README states their hashes truthfully."""
import hashlib
from importlib import resources
from pathlib import Path

import pytest

import compliance.attestation

ROOTS = Path(compliance.attestation.__file__).parent / "roots"


@pytest.mark.parametrize("pinned, published", [
    ("nvidia_device_identity_ca.pem", "verifier_device_root.pem"),
    ("nvidia_corim_signing_root_ca.pem", "verifier_RIM_root.pem"),
])
def test_pinned_root_is_nvidias_file_and_its_hash_is_documented(pinned, published):
    data = (ROOTS / pinned).read_bytes()
    assert data == (resources.files("verifier") / "certs" / published).read_bytes()
    assert hashlib.sha256(data).hexdigest() in (ROOTS / "README.md").read_text()
