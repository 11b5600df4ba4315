"""NVIDIA Reference Integrity Manifests (TCG SWID tags, `.swidtag`): golden measurements for one VBIOS or one
driver, signed with XML-DSig (enveloped, C14N 1.1, ECDSA P-384 / SHA-384).  Pure (no Django).

What NVIDIA's verifier checks (verifier/rim/__init__.py): schema, signature with the key of the first
X509Certificate in KeyInfo, that certificate chain up to the CoRIM root, OCSP.  Here: the reference digest, the
signature over the canonical SignedInfo, the chain up to the pinned CoRIM root at the given time (offline; no OCSP).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from . import c14n
from .chain import verify_chain

DS = "ds:"
C14N11 = "http://www.w3.org/2006/12/xml-c14n11"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
HASH_NAMESPACE = "http://www.w3.org/2001/04/xmlenc#sha384"
VBIOS_VERSION = re.compile(r"^[0-9A-Fa-f]{2}(\.[0-9A-Fa-f]{2}){4}$")


class RimError(ValueError):
    pass


@dataclass(frozen=True)
class Golden:
    index: int  # RIM index, 0-based: measurement block index - 1 (verifier/verifier.py)
    values: tuple[str, ...]  # hex alternatives
    size: int
    name: str


@dataclass(frozen=True)
class Rim:
    name: str  # file name or RIM id, for the record
    kind: str  # "vbios" or "driver"
    version: str  # Meta colloquialVersion
    product: str
    golden: tuple[Golden, ...]  # active measurements only
    problems: tuple[str, ...]  # why its golden values may not be trusted; empty when signed and chained
    notes: tuple[str, ...]

    @property
    def trusted(self) -> bool:
        return not self.problems


def _attributes(element: c14n.Element) -> dict[str, str]:
    return dict(element.attributes)


def _algorithm(element: c14n.Element, expected: str, what: str) -> None:
    algorithm = _attributes(element).get("Algorithm")
    if algorithm != expected:
        raise RimError(f"{what} {algorithm!r} is not {expected}")


def _signature_element(root: c14n.Element) -> c14n.Element:
    return root.element(DS + "Signature")


def _check_signature(root: c14n.Element) -> list[x509.Certificate]:
    """Verify digest and signature; the signing chain as carried in KeyInfo (signer first)."""
    signature = _signature_element(root)
    signed_info = signature.element(DS + "SignedInfo")
    _algorithm(signed_info.element(DS + "CanonicalizationMethod"), C14N11, "canonicalization")
    _algorithm(signed_info.element(DS + "SignatureMethod"), ECDSA_SHA384, "signature method")
    reference = signed_info.element(DS + "Reference")
    if _attributes(reference).get("URI") != "":
        raise RimError("the signature does not reference the whole document")
    transforms = [_attributes(t).get("Algorithm")
                  for t in reference.element(DS + "Transforms").elements(DS + "Transform")]
    if transforms != [ENVELOPED, C14N11]:
        raise RimError(f"unexpected transforms {transforms}")
    _algorithm(reference.element(DS + "DigestMethod"), SHA384, "digest method")
    expected = base64.b64decode(reference.element(DS + "DigestValue").text())
    digest = hashlib.sha384(c14n.canonicalize(root, omit=signature)).digest()
    if not hmac.compare_digest(digest, expected):
        raise RimError("the document's SHA-384 digest differs from the signed DigestValue (the RIM was altered)")
    x509_data = signature.element(DS + "KeyInfo").element(DS + "X509Data")
    certificates = [x509.load_der_x509_certificate(base64.b64decode(c.text()))
                    for c in x509_data.elements(DS + "X509Certificate")]
    if not certificates:
        raise RimError("no signing certificate in KeyInfo")
    value = base64.b64decode(signature.element(DS + "SignatureValue").text())
    half = len(value) // 2
    der = utils.encode_dss_signature(int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big"))
    key = certificates[0].public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise RimError("the RIM signing key is not an EC key")
    try:
        key.verify(der, c14n.canonicalize(signed_info), ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as exc:
        raise RimError("the XML signature does not verify with the RIM signing certificate") from exc
    return certificates


def _golden(root: c14n.Element) -> tuple[Golden, ...]:
    payload = root.element("ns0:Payload") if root.elements("ns0:Payload") else root.element("Payload")
    scope = payload.in_scope()
    hash_prefixes = {prefix for prefix, uri in scope.items() if uri == HASH_NAMESPACE and prefix}
    golden = []
    for resource in (c for c in payload.children if isinstance(c, c14n.Element)):
        attributes = _attributes(resource)
        digests = {name.rpartition(":")[2]: value for name, value in attributes.items()
                   if name.rpartition(":")[0] in hash_prefixes}
        if attributes.get("active") != "True":
            continue
        count = int(attributes["alternatives"])
        golden.append(Golden(index=int(attributes["index"]), size=int(attributes["size"]), name=attributes["name"],
                             values=tuple(digests[f"Hash{i}"].lower() for i in range(count))))
    return tuple(golden)


def load_rim(data: bytes, *, name: str, roots: list[x509.Certificate], now: datetime) -> Rim:
    """Parse and check one RIM; raises RimError only when it cannot be read at all."""
    try:
        root = c14n.parse(data)
        meta = _attributes(root.element("ns0:Meta") if root.elements("ns0:Meta") else root.element("Meta"))
        version, product = meta.get("colloquialVersion", ""), meta.get("product", "")
        golden = _golden(root)
    except (c14n.CanonicalizationError, KeyError, ValueError) as exc:
        raise RimError(f"{name}: unreadable RIM: {exc}") from exc
    problems, notes = [], []
    try:
        certificates = _check_signature(root)
    except (RimError, c14n.CanonicalizationError, ValueError) as exc:
        problems.append(f"rim_signature_invalid: {name}: {exc}")
    else:
        result = verify_chain(certificates, roots=roots, now=now, what="rim")
        problems.extend(f"{p} ({name})" for p in result.problems)
        notes.extend(result.notes[:1])
    kind = "vbios" if VBIOS_VERSION.match(version) else "driver"
    return Rim(name=name, kind=kind, version=version, product=product, golden=golden,
               problems=tuple(problems), notes=tuple(notes))


def compare(rims: list[Rim], measurements: dict[int, bytes], *,
            skip_indexes: frozenset[int] = frozenset()) -> list[str]:
    """Mismatches between runtime measurements and the union of the RIMs' active golden values."""
    problems = []
    seen: dict[int, str] = {}
    for rim in rims:
        for golden in rim.golden:
            if golden.index in seen:
                problems.append(f"rim_index_conflict: index {golden.index} is in both {seen[golden.index]} "
                                f"and {rim.name}")
                continue
            seen[golden.index] = rim.name
            if golden.index in skip_indexes:
                continue
            runtime = measurements.get(golden.index + 1)
            if runtime is None:
                problems.append(f"measurement_missing: the report has no measurement {golden.index} that "
                                f"{rim.name} gives a golden value for")
            elif len(runtime) != golden.size or runtime.hex() not in golden.values:
                problems.append(f"measurement_mismatch: measurement {golden.index} ({golden.name}, {rim.kind}) is "
                                f"{runtime.hex()[:16]}…, not a golden value of {rim.name}")
    return problems
