"""Precision and recall on the labelled pairs: the floors the default threshold must keep."""
from pathlib import Path

import pytest

from compliance.screening import evaluation, matching

from .conftest import CSL_JSON, FIXTURES

PRECISION_FLOOR = 0.95
RECALL_FLOOR = 0.95


@pytest.fixture(scope="module")
def rows():
    return evaluation.labelled_rows(FIXTURES / "screening" / "labelled.csv")


@pytest.fixture(scope="module")
def index():
    return matching.CandidateIndex(evaluation.list_parties(CSL_JSON))


def test_the_labelled_set_covers_positives_and_near_misses(rows):
    positives = [r for r in rows if r["expected_entry"]]
    assert len(positives) >= 30 and len(rows) - len(positives) >= 15


def test_default_threshold_keeps_precision_and_recall_above_the_floors(rows, index):
    result = evaluation.evaluate(rows, index, threshold=matching.DEFAULT_THRESHOLD)
    assert result.precision >= PRECISION_FLOOR, result.errors
    assert result.recall >= RECALL_FLOOR, result.errors


@pytest.mark.parametrize("threshold", [0.76, 0.84])
def test_the_default_sits_inside_a_band_not_on_an_edge(rows, index, threshold):
    result = evaluation.evaluate(rows, index, threshold=threshold)
    assert (result.precision, result.recall) == (1.0, 1.0), result.errors


def test_blocking_loses_no_match_that_comparing_everything_finds(rows, index):
    """Down to 0.1 below the default threshold; lower, a name of only generic words (keyed by all of them)
    can score against a listed name that has a distinctive word (keyed only by it), e.g. "Beijing Technology
    Development Co." 0.69 against "Beijing Biren Technology Development Co., Ltd."."""
    margin_below_default = matching.DEFAULT_THRESHOLD - 0.1
    for row in rows:
        query = matching.make_party(key=row["query_name"], names=[row["query_name"], *row["query_aliases"].split("|")])
        everything = matching.screen_candidates(query, index.parties, threshold=margin_below_default)
        blocked = index.screen(query, threshold=margin_below_default)
        assert [m.candidate.key for m in blocked] == [m.candidate.key for m in everything], row["query_name"]
