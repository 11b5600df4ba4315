"""Where the chip of a classification request comes from: a US-origin chip is answered as
classified; for a foreign-made one the licence answer becomes undetermined, naming the foreign
direct product paragraphs that could make it subject and the fact that decides."""
from __future__ import annotations

from datetime import date

from .core.catalog import Chip
from .core.classify import Classification
from .core.origin import jurisdiction

LICENCE_FIELDS = ("license_required", "review_policy", "license_exception", "headline", "reasons", "warnings",
                  "missing", "conditions", "unconfirmed", "basis")


def jurisdiction_apply(answer: dict, *, chip: Chip, classification: Classification, as_of: date) -> None:
    """Add ``jurisdiction`` to the answer; when the EAR's reach is undetermined, the licence
    determination moves to ``license_if_subject_to_ear`` and ``license_required`` is None."""
    found = jurisdiction(chip, classification, as_of=as_of, needs_licence_if_subject=answer.get("license_required"))
    answer["jurisdiction"] = found.to_dict()
    if found.subject_to_ear is None and "license_required" in answer:
        answer["license_if_subject_to_ear"] = {name: answer[name] for name in LICENCE_FIELDS if name in answer}
        answer.update({"license_required": None, "review_policy": None, "license_exception": None,
                       "headline": "undetermined: missing whether the chip is subject to the EAR",
                       "reasons": [found.basis], "missing": list(found.deciding_facts),
                       # what rests on unconfirmed data is the answer had the EAR reached the chip
                       "unconfirmed": [f"if the chip is subject to the EAR: {note}" for note in answer["unconfirmed"]]})
