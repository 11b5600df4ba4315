"""NVIDIA's recorded Hopper evidence (read from the installed nv-local-gpu-verifier, never copied here) and
certificate chains of our own making, for the cases NVIDIA's sample cannot show (another root, an expired or
revoked leaf)."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

from compliance.attestation import c14n, spdm

SAMPLES = resources.files("verifier") / "samples"
# The requester nonce inside NVIDIA's recorded request (bytes 4..35 of hopperAttestationReport.txt).
SAMPLE_NONCE = bytes.fromhex("931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb")
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def sample_report() -> bytes:
    return spdm.decode_report_file((SAMPLES / "hopperAttestationReport.txt").read_bytes())


def sample_chain() -> bytes:
    return (SAMPLES / "hopperCertChain.txt").read_bytes()


def sample_rim(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def flip_bit(data: bytes, offset: int, bit: int = 0) -> bytes:
    return data[:offset] + bytes([data[offset] ^ (1 << bit)]) + data[offset + 1:]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Lab")])


@dataclass
class Pki:
    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (self.leaf, self.intermediate, self.root))

    def crl_revoking(self, serial: int, *, at: datetime = NOW - timedelta(days=1)) -> x509.CertificateRevocationList:
        revoked = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at).build()
        return (x509.CertificateRevocationListBuilder().issuer_name(self.intermediate.subject)
                .last_update(at).next_update(NOW + timedelta(days=30)).add_revoked_certificate(revoked)
                .sign(self.intermediate_key, hashes.SHA384()))


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool, not_before: datetime,
                 not_after: datetime, extensions=()) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA384())


def make_pki(*, root_name: str = "Test Device Identity CA", leaf_not_after: datetime = NOW + timedelta(days=365),
             leaf_fwid: bytes | None = None) -> Pki:
    """root → intermediate → leaf, P-384 like NVIDIA's; the leaf may carry a TCG DICE FWID extension."""
    start = NOW - timedelta(days=400)
    root_key, intermediate_key, leaf_key = (ec.generate_private_key(ec.SECP384R1()) for _ in range(3))
    root = _certificate(root_name, root_key, _name(root_name), root_key, ca=True, not_before=start,
                        not_after=NOW + timedelta(days=3650))
    intermediate = _certificate("Test GH100 Provisioner ICA", intermediate_key, root.subject, root_key, ca=True,
                                not_before=start, not_after=NOW + timedelta(days=3650))
    extensions = []
    if leaf_fwid is not None:
        # DER OCTET STRING-ish payload whose last 48 bytes are the FWID, as NVIDIA's Hopper certificates carry it.
        extensions.append(x509.UnrecognizedExtension(x509.ObjectIdentifier("2.23.133.5.4.1"), b"\x04\x30" + leaf_fwid))
    leaf = _certificate("GH100 A01 GSP FMC LF", leaf_key, intermediate.subject, intermediate_key, ca=False,
                        not_before=start, not_after=leaf_not_after, extensions=extensions)
    return Pki(root, root_key, intermediate, intermediate_key, leaf, leaf_key)


def resign(report: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The same SPDM bytes with the signature replaced by `key`'s (r‖s, 48 bytes each)."""
    body = report[: -spdm.SIGNATURE_LENGTH]
    r, s = utils.decode_dss_signature(key.sign(body, ec.ECDSA(hashes.SHA384())))
    return body + r.to_bytes(48, "big") + s.to_bytes(48, "big")


def with_nonce(report: bytes, nonce: bytes) -> bytes:
    """The request's nonce replaced (the signature then needs `resign`)."""
    return report[:4] + nonce + report[4 + spdm.NONCE_LENGTH:]


def signed_rim(*, version: str, golden: dict[int, bytes], pki: Pki) -> bytes:
    """A RIM in NVIDIA's shape (same namespaces, enveloped XML-DSig, C14N 1.1, ECDSA P-384) signed by `pki`'s leaf."""
    resources_xml = "".join(
        f'<ns0:Resource type="Measurement" index="{index}" active="True" alternatives="1" '
        f'ns2:Hash0="{value.hex()}" name="Measurement_{index}" size="{len(value)}"/>'
        for index, value in sorted(golden.items()))
    document = (
        '<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" '
        'xmlns:ns0="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" '
        'xmlns:ns2="http://www.w3.org/2001/04/xmlenc#sha384" name="GH100" tagId="test" version="1.0">'
        f'<ns0:Meta colloquialVersion="{version}" product="GH100"/>'
        f'<ns0:Payload>{resources_xml}</ns0:Payload>SIGNATURE</SoftwareIdentity>')
    unsigned = c14n.parse(document.replace("SIGNATURE", "").encode())
    digest = base64.b64encode(hashlib.sha384(c14n.canonicalize(unsigned)).digest()).decode()
    signed_info = (
        '<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2006/12/xml-c14n11"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"/>'
        '<ds:Reference URI=""><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '<ds:Transform Algorithm="http://www.w3.org/2006/12/xml-c14n11"/></ds:Transforms>'
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#sha384"/>'
        f'<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>')
    placeholder = document.replace("SIGNATURE", f'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
                                                f'{signed_info}</ds:Signature>')
    tree = c14n.parse(placeholder.encode())
    info = tree.element("ds:Signature").element("ds:SignedInfo")
    r, s = utils.decode_dss_signature(pki.leaf_key.sign(c14n.canonicalize(info), ec.ECDSA(hashes.SHA384())))
    value = base64.b64encode(r.to_bytes(48, "big") + s.to_bytes(48, "big")).decode()
    der = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in (pki.leaf, pki.intermediate)]
    certificates = "".join(f"<ds:X509Certificate>{text}</ds:X509Certificate>" for text in der)
    return document.replace("SIGNATURE", f'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">{signed_info}'
                                         f'<ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>'
                                         f'{certificates}</ds:X509Data></ds:KeyInfo></ds:Signature>').encode()
