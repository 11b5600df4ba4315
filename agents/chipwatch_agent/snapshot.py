"""NVML snapshots: every call the collector made, with its arguments and its answer.

A snapshot is the log a `RecordingNvml` proxy keeps while the collector runs
against a real (or fake) `pynvml`.  `nvml_fake.FakeNvml` answers from such a
log, so a host recorded once can be replayed anywhere without a GPU.

Values are stored so that replay gives back the very objects pynvml returns:
ctypes structs keep their class name and their raw field bytes (a string field
that is not clean UTF-8 stays bytes, so a UnicodeDecodeError replays too),
errors keep their NVML return code.

File format (JSON, one call per line so that diffs stay readable)::

    {"format": "chipwatch.nvml-snapshot/v1", ..., "calls": [
    ["nvmlDeviceGetName", [{"$handle": 0}], {"return": "NVIDIA H800"}],
    ["nvmlDeviceGetNvLinkState", [{"$handle": 0}, 8], {"error": 2}],
    ...]}

An outcome is `{"return": value}` (plus `"out": {arg position: struct}` for
structs the call filled through `byref`), `{"error": nvml_return_code}`, or
`{"raise": "NVMLLibraryMismatchError"}`.  An argument `{"$any": true}` matches
any value (profiles use it for the attestation nonce).
"""
from __future__ import annotations

import ctypes
import json
from typing import Any, Callable, Optional

import pynvml

FORMAT = "chipwatch.nvml-snapshot/v1"

_BYREF_TYPE = type(ctypes.byref(ctypes.c_int()))
_NUMBER_TYPES = (int, float)


def is_nvml_function(name: str, attr: Any) -> bool:
    """The wrappers worth recording: `nvml*` functions, not `nvml*` constants or structs."""
    return name.startswith("nvml") and callable(attr) and not isinstance(attr, type)


# -- values ------------------------------------------------------------------

def _trimmed_hex(raw: bytes) -> str:
    return raw.rstrip(b"\0").hex()


def _field_location(cls: type, name: str):
    field = getattr(cls, name)
    return field.offset, field.size


def _encode_struct(struct: ctypes.Structure) -> dict:
    """Sparse field map: zero fields are left out, byte fields stay byte-exact."""
    cls = type(struct)
    fields = {}
    base = ctypes.addressof(struct)
    for spec in cls._fields_:
        name, ctype = spec[0], spec[1]
        offset, size = _field_location(cls, name)
        raw = ctypes.string_at(base + offset, size)
        if not any(raw):
            continue
        if issubclass(ctype, (ctypes._SimpleCData,)) and ctype is not ctypes.c_char:
            fields[name] = ctypes.Structure.__getattribute__(struct, name)
        elif issubclass(ctype, ctypes.Array) and ctype._type_ is ctypes.c_char:
            text, _, padding = raw.partition(b"\0")
            try:
                clean = text.decode("utf-8") if not any(padding) else None
            except UnicodeDecodeError:
                clean = None
            fields[name] = clean if clean is not None else {"$hex": _trimmed_hex(raw)}
        else:
            fields[name] = {"$hex": _trimmed_hex(raw)}
    return {"$struct": cls.__name__, "fields": fields}


def _decode_struct(encoded: dict) -> ctypes.Structure:
    cls = getattr(pynvml, encoded["$struct"])
    struct = cls.from_buffer_copy(bytes(ctypes.sizeof(cls)))
    base = ctypes.addressof(struct)
    for name, value in encoded["fields"].items():
        if isinstance(value, _NUMBER_TYPES):
            ctypes.Structure.__setattr__(struct, name, value)
            continue
        raw = value.encode("utf-8") if isinstance(value, str) else bytes.fromhex(value["$hex"])
        offset, size = _field_location(cls, name)
        if len(raw) > size:
            raise ValueError(f"{encoded['$struct']}.{name}: {len(raw)} bytes do not fit in {size}")
        ctypes.memmove(base + offset, raw, len(raw))
    return struct


def encode(value: Any, handle_index: Callable[[Any], Optional[int]]) -> Any:
    """A JSON form of an argument or a return value of a pynvml call."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, (list, tuple)):
        return [encode(item, handle_index) for item in value]
    if isinstance(value, ctypes.Structure):
        return _encode_struct(value)
    if isinstance(value, ctypes.Array) and issubclass(value._type_, ctypes.Structure):
        return {"$array": value._type_.__name__, "items": [_encode_struct(item) for item in value]}
    if isinstance(value, _BYREF_TYPE):
        return {"$byref": type(value._obj).__name__}
    if isinstance(value, pynvml.nvmlFriendlyObject):
        return {"$object": {key: encode(item, handle_index) for key, item in sorted(vars(value).items())}}
    index = handle_index(value)
    if index is not None:
        return {"$handle": index}
    raise TypeError(f"cannot record a {type(value).__name__} in an NVML snapshot")


def decode(value: Any, make_handle: Callable[[int], Any]) -> Any:
    """The pynvml-shaped object for an encoded value (a fresh one on every call)."""
    if isinstance(value, list):
        return [decode(item, make_handle) for item in value]
    if not isinstance(value, dict):
        return value
    if "$struct" in value:
        return _decode_struct(value)
    if "$array" in value:
        items = [_decode_struct(item) for item in value["items"]]
        array = (getattr(pynvml, value["$array"]) * len(items))()
        for position, item in enumerate(items):
            array[position] = item
        return array
    if "$handle" in value:
        return make_handle(value["$handle"])
    if "$bytes" in value:
        return bytes.fromhex(value["$bytes"])
    if "$object" in value:
        return pynvml.nvmlFriendlyObject({key: decode(item, make_handle) for key, item in value["$object"].items()})
    raise ValueError(f"unknown encoded value {sorted(value)}")


def freeze(encoded: Any) -> Any:
    """A hashable key for encoded arguments."""
    if isinstance(encoded, list):
        return tuple(freeze(item) for item in encoded)
    if isinstance(encoded, dict):
        return tuple(sorted((key, freeze(item)) for key, item in encoded.items()))
    return encoded


# -- recording -----------------------------------------------------------------

def _missing_wrapper(*args: Any) -> Any:
    raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)


class RecordingNvml:
    """Stands in front of an NVML module and logs every `nvml*` call and its outcome.

    Everything else (constants, struct classes, error classes) is the wrapped
    module's own, so the collector cannot tell the difference.
    """

    def __init__(self, nvml: Any):
        self._nvml = nvml
        self._handles: dict = {}
        self._wrappers: dict = {}
        self.calls: list = []

    def __getattr__(self, name: str) -> Any:
        wrapper = self._wrappers.get(name)
        if wrapper is not None:
            return wrapper
        try:
            attr = getattr(self._nvml, name)
        except AttributeError:
            if not name.startswith("nvml"):
                raise
            attr = _missing_wrapper  # an older pynvml: the same answer as a driver without the symbol
        if not is_nvml_function(name, attr):
            return attr

        def wrapper(*args, _name=name, _fn=attr):
            return self._call(_name, _fn, args)
        self._wrappers[name] = wrapper
        return wrapper

    @staticmethod
    def _handle_key(obj: Any) -> Any:
        if isinstance(obj, ctypes._Pointer):
            return ctypes.cast(obj, ctypes.c_void_p).value
        return id(obj)

    def _handle_index(self, obj: Any) -> Optional[int]:
        return self._handles.get(self._handle_key(obj))

    def _call(self, name: str, fn: Callable, args: tuple) -> Any:
        encoded_args = encode(list(args), self._handle_index)
        try:
            result = fn(*args)
        except self._nvml.NVMLError as exc:
            self.calls.append([name, encoded_args, {"error": exc.value}])
            raise
        except self._nvml.NVMLLibraryMismatchError:
            self.calls.append([name, encoded_args, {"raise": "NVMLLibraryMismatchError"}])
            raise
        if name == "nvmlDeviceGetHandleByIndex":
            self._handles[self._handle_key(result)] = args[0]
        outcome: dict = {"return": encode(result, self._handle_index)}
        filled = {
            str(position): _encode_struct(arg._obj)
            for position, arg in enumerate(args)
            if isinstance(arg, _BYREF_TYPE) and isinstance(arg._obj, ctypes.Structure)
        }
        if filled:
            outcome["out"] = filled
        self.calls.append([name, encoded_args, outcome])
        return result

    def snapshot(self, **header: Any) -> dict:
        return dict(header, format=FORMAT, calls=self.calls)


def dumps(snapshot: dict) -> bytes:
    """Deterministic bytes: sorted header keys, then one call per line."""
    header = {key: value for key, value in snapshot.items() if key != "calls"}
    head = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    lines = [json.dumps(call, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for call in snapshot["calls"]]
    return (head[:-1] + ',"calls":[\n' + ",\n".join(lines) + "\n]}\n").encode("utf-8")


def loads(data: bytes) -> dict:
    snapshot = json.loads(data)
    if snapshot.get("format") != FORMAT:
        raise ValueError(f"not an NVML snapshot (format {snapshot.get('format')!r}, expected {FORMAT})")
    return snapshot
