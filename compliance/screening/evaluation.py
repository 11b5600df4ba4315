"""Precision and recall of the matcher on the labelled set, used to choose and check the threshold.

Pure Python: the labelled pairs (tests/fixtures/screening/labelled.csv) are screened
against the CSL fixture through the same blocking index production uses.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from . import csl, matching


@dataclass(frozen=True)
class Evaluation:
    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int
    errors: tuple[str, ...]

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def list_parties(csl_path: Path) -> list[matching.Party]:
    parsed = csl.parse(csl_path.read_bytes(), file_name=csl_path.name)
    return [matching.make_party(key=e.name, names=[e.name, *e.alt_names], countries=e.countries,
                                places=[line for line, _ in e.addresses]) for e in parsed.entries if e.screened]


def labelled_rows(labelled_path: Path) -> list[dict]:
    with labelled_path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def evaluate(rows: list[dict], index: matching.CandidateIndex, *, threshold: float) -> Evaluation:
    """Every labelled query is screened against the whole list: a wrong extra hit is a false positive."""
    tp = fp = fn = 0
    errors = []
    for row in rows:
        aliases = [a for a in row["query_aliases"].split("|") if a]
        query = matching.make_party(key=row["query_name"], names=[row["query_name"], *aliases],
                                    countries=[row["query_country"]] if row["query_country"] else [])
        found = {m.candidate.key for m in index.screen(query, threshold=threshold)}
        expected = {row["expected_entry"]} if row["expected_entry"] else set()
        tp += len(found & expected)
        fp += len(found - expected)
        fn += len(expected - found)
        if found != expected:
            errors.append(f"{row['query_name']!r}: found {sorted(found)}, expected {sorted(expected)}")
    return Evaluation(threshold, tp, fp, fn, tuple(errors))
