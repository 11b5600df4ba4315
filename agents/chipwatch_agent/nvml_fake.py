"""A stand-in for the `pynvml` module that replays an NVML snapshot.

It answers with pynvml's own ctypes structs and raises pynvml's own
`NVMLError_*` classes, so the collector runs the exact code it runs on a GPU
host.  Constants, struct classes and error classes are pynvml's; only the
`nvml*` functions are replaced.  Each (function, arguments) pair answers its
recorded outcomes in order and then keeps repeating the last one, which is how
a snapshot says "this GPU is lost from this call on".

Reports made from this backend are marked `synthetic: true` by the agent.
"""
from __future__ import annotations

import ctypes
import hashlib
import itertools
import uuid
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any, Union

import pynvml

from . import snapshot as snap

ANY = {"$any": True}


class NVMLError_NotRecorded(pynvml.NVMLError):
    """The snapshot has no answer for this call: a replay can only say what was recorded."""

    def __new__(cls, *args):
        error = Exception.__new__(cls)
        error.value = pynvml.NVML_ERROR_UNKNOWN
        return error

    def __str__(self):
        return "call not recorded in the NVML snapshot"


class FakeHandle:
    """An opaque device handle, like pynvml's `c_nvmlDevice_t`."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __repr__(self):
        return f"FakeHandle({self.index})"


def profile_names() -> list:
    folder = resources.files("chipwatch_agent").joinpath("profiles")
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".json"))


def load_snapshot(profile_or_file: Union[str, Path]) -> dict:
    """A shipped profile by name (`hgx-h800`) or a snapshot file by path."""
    name = str(profile_or_file)
    shipped = resources.files("chipwatch_agent").joinpath("profiles", name + ".json")
    if "/" not in name and shipped.is_file():
        return snap.loads(shipped.read_bytes())
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"no NVML profile or snapshot file {name!r}; shipped profiles: {', '.join(profile_names())}"
        )
    return snap.loads(path.read_bytes())


class FakeNvml:
    """Drop-in for the `pynvml` module, answering from a snapshot."""

    def __init__(self, snapshot: dict):
        self.snapshot = snapshot
        self.misses: list = []
        self._answers: dict = defaultdict(list)
        self._wildcards: dict = defaultdict(list)
        self._cursor: dict = defaultdict(itertools.count)
        self._handles: dict = {}
        self._functions: dict = {}
        for name, args, outcome in snapshot["calls"]:
            if _has_wildcard(args):
                self._wildcards[name].append((args, outcome))
            else:
                self._answers[(name, snap.freeze(args))].append(outcome)

    @classmethod
    def from_profile(cls, profile_or_file: Union[str, Path]) -> "FakeNvml":
        return cls(load_snapshot(profile_or_file))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(pynvml, name)
        if not snap.is_nvml_function(name, attr):
            return attr
        function = self._functions.get(name)
        if function is None:
            def function(*args, _name=name):
                return self._replay(_name, args)
            function.__name__ = name
            self._functions[name] = function
        return function

    def _handle(self, index: int) -> FakeHandle:
        return self._handles.setdefault(index, FakeHandle(index))

    @staticmethod
    def _handle_index(obj: Any):
        return obj.index if isinstance(obj, FakeHandle) else None

    def _outcome(self, name: str, encoded_args: list):
        key = (name, snap.freeze(encoded_args))
        answers = self._answers.get(key)
        if answers is None:
            answers = [outcome for args, outcome in self._wildcards.get(name, ()) if _matches(args, encoded_args)]
            if not answers:
                return None
        return answers[min(next(self._cursor[key]), len(answers) - 1)]

    def _replay(self, name: str, args: tuple) -> Any:
        encoded_args = snap.encode(list(args), self._handle_index)
        outcome = self._outcome(name, encoded_args)
        if outcome is None:
            self.misses.append((name, encoded_args))
            raise NVMLError_NotRecorded()
        if "error" in outcome:
            raise pynvml.NVMLError(outcome["error"])
        if "raise" in outcome:
            raise pynvml.NVMLLibraryMismatchError(f"{name}: recorded {outcome['raise']}")
        for position, struct in outcome.get("out", {}).items():
            target = args[int(position)]._obj
            filled = snap.decode(struct, self._handle)
            ctypes.memmove(ctypes.addressof(target), ctypes.addressof(filled), ctypes.sizeof(target))
        return snap.decode(outcome["return"], self._handle)


def _has_wildcard(encoded: Any) -> bool:
    if isinstance(encoded, list):
        return any(_has_wildcard(item) for item in encoded)
    return encoded == ANY


def _matches(pattern: Any, encoded: Any) -> bool:
    if pattern == ANY:
        return True
    if isinstance(pattern, list) and isinstance(encoded, list):
        return len(pattern) == len(encoded) and all(_matches(p, e) for p, e in zip(pattern, encoded))
    return pattern == encoded


def _derived_uuid(tag: str, original: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tag}/{original}"))


def own_identity(snapshot: dict, tag: str) -> dict:
    """Give a profile's GPUs identities of their own (UUID, serial, NVLink fabric) so that
    several hosts can replay one profile without looking like clones of each other."""
    for call in snapshot["calls"]:
        name, _, outcome = call
        if "return" not in outcome:
            continue
        if name == "nvmlDeviceGetUUID":
            outcome["return"] = "GPU-" + _derived_uuid(tag, outcome["return"])
        elif name == "nvmlDeviceGetSerial" and isinstance(outcome["return"], str):
            digest = hashlib.sha256(f"{tag}/{outcome['return']}".encode()).hexdigest()
            outcome["return"] = str(int(digest, 16))[:13]
        elif name == "nvmlDeviceGetGpuFabricInfoV":
            for struct in outcome.get("out", {}).values():
                fields = struct["fields"]
                if "clusterUuid" in fields:
                    fields["clusterUuid"] = {"$hex": uuid.UUID(_derived_uuid(tag, "fabric")).hex}
    return snapshot


NVLINK_CALLS = ("nvmlDeviceGetNvLinkState", "nvmlDeviceGetNvLinkVersion", "nvmlDeviceGetNvLinkRemoteDeviceType",
                "nvmlDeviceGetNvLinkRemotePciInfo", "nvmlDeviceGetFieldValues")


def unlock_nvlinks(snapshot: dict, donor: str = "hgx-h100") -> dict:
    """Give every GPU the NVLink answers of `donor`: an H800 whose links 8-17 answer active NVLink4,
    the relabelled or unlocked part the identity detector exists for (tests and the demo plant it)."""
    donated = [call for call in load_snapshot(donor)["calls"] if call[0] in NVLINK_CALLS]
    snapshot["calls"] = [call for call in snapshot["calls"] if call[0] not in NVLINK_CALLS] + donated
    return snapshot
