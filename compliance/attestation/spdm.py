"""NVIDIA GPU attestation reports: the SPDM 1.1 GET_MEASUREMENTS request followed by the signed response.

Pure (no Django).  Layout as NVIDIA's local verifier reads it (nv-local-gpu-verifier 2.7.3,
verifier/attestation/spdm_msrt_req_msg.py and spdm_msrt_resp_msg.py; DMTF DSP0274 SPDM 1.1 §10.11):

request (37 bytes):  version 1 | code 0xE0 1 | param1 1 | param2 1 | nonce 32 | slot 1
response:            version 1 | code 0x60 1 | param1 1 | param2 1 | number of blocks 1 | record length 3 (LE)
                     | measurement record | nonce 32 | opaque length 2 (LE) | opaque data (TLVs) | signature 96
measurement block:   index 1 | specification 1 (bit 0 = DMTF) | size 2 (LE) | value type 1 | value size 2 | value

The signature is ECDSA P-384 / SHA-384 (r‖s, 48 bytes each) over request ‖ response without the signature.
"""
from __future__ import annotations

from dataclasses import dataclass

REQUEST_LENGTH = 37
NONCE_LENGTH = 32
SIGNATURE_LENGTH = 96  # P-384: r and s, 48 bytes each (verifier/config.py HopperSettings.signature_length)
GET_MEASUREMENTS = 0xE0
MEASUREMENTS = 0x60
DMTF_SPECIFICATION = 0x01

# OpaqueData TLV types (verifier/attestation/spdm_msrt_resp_msg.py, OpaqueData.OPAQUE_DATA_TYPES).
OPAQUE_FIELDS = {
    1: "cert_issuer_name", 2: "cert_authority_key_identifier", 3: "driver_version", 4: "gpu_info", 5: "sku",
    6: "vbios_version", 7: "manufacturer_id", 8: "tamper_detection", 9: "smc", 10: "vpr", 11: "nvdec0_status",
    12: "msrscnt", 13: "cprinfo", 14: "board_id", 15: "chip_sku", 16: "chip_sku_mod", 17: "project",
    18: "project_sku", 19: "project_sku_mod", 20: "fwid", 21: "protected_pcie_status", 22: "switch_pdi",
    23: "floorswept_ports", 24: "position_id", 25: "lock_switch_status", 32: "gpu_link_conn",
    33: "sys_enable_status", 34: "opaque_data_version", 35: "chip_info", 36: "feature_flag",
}
NVDEC0_DISABLED = b"\x55"  # verifier/config.py NVDEC_STATUS: with NVDEC0 off, measurement 35 is not compared
NVDEC_MEASUREMENT_INDEX = 35


class ReportFormatError(ValueError):
    pass


@dataclass(frozen=True)
class AttestationReport:
    request: bytes
    response: bytes
    nonce: bytes  # the requester's nonce inside the signed request: the one the server issued
    measurements: dict[int, bytes]  # DMTF block index (1-based) → measurement value
    opaque: dict[str, bytes]
    signature: bytes

    @property
    def signed_bytes(self) -> bytes:
        return self.request + self.response[: -SIGNATURE_LENGTH]

    def text(self, name: str) -> str | None:
        value = self.opaque.get(name)
        return value.split(b"\x00", 1)[0].decode("ascii", "replace").strip() if value is not None else None

    @property
    def vbios_version(self) -> str | None:
        """xx.xx.xx.xx.xx as NVML prints it (verifier/utils.format_vbios_version): the 8 bytes are little endian,
        the first four bytes' value printed first, then the fifth byte."""
        raw = self.opaque.get("vbios_version")
        if raw is None or len(raw) < 5:
            return None
        value = raw[::-1].hex()
        digits = value[len(value) // 2:] + value[len(value) // 2 - 2: len(value) // 2]
        return ".".join(digits[i: i + 2] for i in range(0, len(digits), 2)).upper()

    @property
    def board_id(self) -> int | None:
        raw = self.opaque.get("board_id")
        return int.from_bytes(raw, "little") if raw else None


def decode_report_file(data: bytes) -> bytes:
    """A report as NVIDIA's samples store it (hex text, optional 0x/whitespace) or raw bytes."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return data
    compact = "".join(text.split()).replace("0x", "").replace("\\x", "")
    try:
        return bytes.fromhex(compact)
    except ValueError:
        return data


def _little(data: bytes) -> int:
    return int.from_bytes(data, "little")


def _take(data: bytes, offset: int, size: int, what: str) -> bytes:
    if offset + size > len(data):
        raise ReportFormatError(f"report truncated in {what} (needs {offset + size} bytes, has {len(data)})")
    return data[offset: offset + size]


def parse_report(data: bytes) -> AttestationReport:
    """Split and check the structure; every length is bounded by the data (a malformed report raises)."""
    if len(data) <= REQUEST_LENGTH + SIGNATURE_LENGTH:
        raise ReportFormatError(f"report of {len(data)} bytes is too short for an SPDM request and signed response")
    request, response = data[:REQUEST_LENGTH], data[REQUEST_LENGTH:]
    if request[1] != GET_MEASUREMENTS:
        raise ReportFormatError(f"request code 0x{request[1]:02x} is not GET_MEASUREMENTS (0xe0)")
    if response[1] != MEASUREMENTS:
        raise ReportFormatError(f"response code 0x{response[1]:02x} is not MEASUREMENTS (0x60)")
    if response[0] != request[0]:
        raise ReportFormatError(f"SPDM version 0x{response[0]:02x} in the response differs from the request's")
    blocks, record_length = response[4], _little(response[5:8])
    record = _take(response, 8, record_length, "the measurement record")
    measurements = _measurements(record, blocks)
    offset = 8 + record_length
    _take(response, offset, NONCE_LENGTH, "the responder nonce")
    offset += NONCE_LENGTH
    opaque_length = _little(_take(response, offset, 2, "the opaque length"))
    offset += 2
    opaque = _opaque(_take(response, offset, opaque_length, "the opaque data"))
    offset += opaque_length
    if len(response) - offset != SIGNATURE_LENGTH:
        raise ReportFormatError(f"{len(response) - offset} bytes after the opaque data; expected a "
                                f"{SIGNATURE_LENGTH}-byte signature")
    return AttestationReport(request=request, response=response, nonce=request[4: 4 + NONCE_LENGTH],
                             measurements=measurements, opaque=opaque, signature=response[offset:])


def _measurements(record: bytes, count: int) -> dict[int, bytes]:
    measurements: dict[int, bytes] = {}
    offset = 0
    for _ in range(count):
        header = _take(record, offset, 4, "a measurement block header")
        index, specification, size = header[0], header[1], _little(header[2:4])
        if specification != DMTF_SPECIFICATION:
            raise ReportFormatError(f"measurement block {index} does not follow the DMTF specification")
        block = _take(record, offset + 4, size, f"measurement block {index}")
        value_size = _little(block[1:3]) if len(block) >= 3 else -1
        if value_size != size - 3:
            raise ReportFormatError(f"measurement block {index}: value size {value_size} in a {size}-byte block")
        if index in measurements:
            raise ReportFormatError(f"measurement block {index} appears twice")
        measurements[index] = block[3:]
        offset += 4 + size
    if offset != len(record):
        raise ReportFormatError(f"{len(record) - offset} bytes left after {count} measurement blocks")
    return measurements


def _opaque(data: bytes) -> dict[str, bytes]:
    fields: dict[str, bytes] = {}
    offset = 0
    while offset < len(data):
        kind = _little(_take(data, offset, 2, "an opaque field type"))
        size = _little(_take(data, offset + 2, 2, "an opaque field size"))
        fields[OPAQUE_FIELDS.get(kind, f"type_{kind}")] = _take(data, offset + 4, size, f"opaque field {kind}")
        offset += 4 + size
    return fields
