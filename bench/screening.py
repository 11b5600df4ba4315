"""Screening benchmark: 10 000 organizations against 30 000 synthetic CSL-shaped entries.

    .venv/bin/python bench/screening.py            # matching only (pure matching.py), 2 processes
    .venv/bin/python bench/screening.py --db       # plus import_csl of the same list into a throwaway test DB

Prints the elapsed seconds, the comparisons made against the naive 10 000 x 30 000,
recall/precision on planted variants, and precision/recall on the labelled set.
Names are generated with a fixed seed, shaped like the list: an optional place,
one or two distinctive words, generic trade words, a legal form, a few aliases.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.screening import evaluation, matching  # noqa: E402

SEED = 20260530
# Pinyin-like initials x finals (~400 syllables, as pinyin has) plus Latin/Cyrillic-style ones, so that a
# distinctive word recurs across entries about as rarely as in the real list (Huawei's ~100 affiliates aside).
SYLLABLES = tuple(sorted({i + f for i in "b p m f d t n l g k h j q x zh ch sh r z c s y w".split()
                          for f in "a o e ai ei ao ou an en ang eng ong i ia ie iao iu ian in ing iang u ua uo uai ui "
                                   "uan un uang".split()}
                         | {c + v for c in "bdgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ar", "ov", "in")}))
PLACES = ("Beijing Shanghai Shenzhen Tianjin Guangzhou Hangzhou Wuhan Chengdu Moscow Tehran Dubai Singapore "
          "Hong Kong").split()
GENERIC = ("Technology Information Industry International Electronics Trading Development Engineering Research "
           "Institute Semiconductor Microelectronics Computing Software Intelligent Systems Import Export").split()
LEGAL = ("Co., Ltd.", "Company Limited", "Ltd", "LLC", "Inc.", "Corporation", "GmbH", "JSC", "OOO", "Pte. Ltd.",
         "FZE", "Group", "有限公司")
COUNTRIES = ("CN", "CN", "CN", "RU", "IR", "AE", "SG", "HK", "PK", "TR")
SOURCES = (("Entity List (EL) - Bureau of Industry and Security", 0.7),
           ("Specially Designated Nationals (SDN) - Treasury Department", 0.2),
           ("Military End User (MEU) List - Bureau of Industry and Security", 0.05),
           ("Unverified List (UVL) - Bureau of Industry and Security", 0.05))


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()


def company_name(rng: random.Random) -> str:
    parts = [rng.choice(PLACES)] if rng.random() < 0.4 else []
    parts += [word(rng) for _ in range(rng.choice((1, 1, 2)))]
    parts += rng.sample(GENERIC, rng.choice((0, 1, 1, 2)))
    return " ".join(parts + [rng.choice(LEGAL)])


def typo(rng: random.Random, text: str) -> str:
    """One substitution inside a distinctive word (never the first letter)."""
    words = text.split()
    i = max(range(len(words)), key=lambda k: len(words[k]) if words[k] not in PLACES + GENERIC else 0)
    w = words[i]
    if len(w) > 5:
        j = rng.randrange(2, len(w) - 1)
        words[i] = w[:j] + rng.choice("aeiouy") + w[j + 1:]
    return " ".join(words)


def variant(rng: random.Random, name: str) -> str:
    """How a customer would write a listed name: other legal form, word order, or a typo."""
    core = name
    for form in sorted(LEGAL, key=len, reverse=True):
        if core.endswith(" " + form):
            core = core[: -len(form) - 1]
            break
    kind = rng.choice(("legal", "order", "typo"))
    if kind == "order" and " " in core:
        first, rest = core.split(" ", 1)
        core = f"{rest} {first}"
    elif kind == "typo":
        core = typo(rng, core)
    return f"{core} {rng.choice(LEGAL)}"


def csl_document(rng: random.Random, size: int) -> dict:
    sources, weights = zip(*SOURCES)
    results = []
    for i in range(size):
        name = company_name(rng)
        alt_names = [company_name(rng) for _ in range(rng.choice((0, 0, 1, 2, 3)))]
        country = rng.choice(COUNTRIES)
        results.append({
            "id": f"bench{i:06d}", "source": rng.choices(sources, weights)[0], "type": "Entity",
            "entity_number": None, "programs": ["EAR"], "name": name, "alt_names": alt_names,
            "addresses": [{"address": f"{rng.randint(1, 999)} {word(rng)} Road", "city": rng.choice(PLACES),
                           "state": None, "postal_code": str(rng.randint(100000, 999999)), "country": country}],
            "federal_register_notice": f"8{rng.randint(4, 9)} FR {rng.randint(1000, 99999)}",
            "start_date": f"20{rng.randint(10, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        })
    return {"results": results}


def organizations(rng: random.Random, document: dict, count: int, planted_share: float):
    """Mostly unrelated companies; a share are variants of a random entry (the planted positives)."""
    entries = document["results"]
    orgs = []
    for i in range(count):
        if rng.random() < planted_share:
            entry = rng.choice(entries)
            orgs.append((matching.make_party(key=i, names=[variant(rng, entry["name"])],
                                             countries=[entry["addresses"][0]["country"]]), entry["id"]))
        else:
            orgs.append((matching.make_party(key=i, names=[company_name(rng)], countries=[rng.choice(COUNTRIES)]),
                         None))
    return orgs


def entry_party(entry: dict) -> matching.Party:
    return matching.make_party(key=entry["id"], names=[entry["name"], *entry["alt_names"]],
                               countries=[a["country"] for a in entry["addresses"]],
                               places=[a["city"] for a in entry["addresses"]])


# Set before the worker processes fork, so that they share the index instead of pickling it.
_INDEX: matching.CandidateIndex | None = None
_ORGS: list = []


def _screen_range(bounds: tuple[int, int]) -> tuple[list, int, float]:
    before, cpu_before = _INDEX.comparisons, time.process_time()
    results = []
    for query, planted_entry in _ORGS[bounds[0]:bounds[1]]:
        matches = _INDEX.screen(query)
        results.append((planted_entry, [(query.names[0].original, m.candidate.key, m.explanation["name"]["list_name"],
                                         m.score) for m in matches]))
    return results, _INDEX.comparisons - before, time.process_time() - cpu_before


def bench_matching(document: dict, orgs, workers: int) -> None:
    global _INDEX, _ORGS
    started, cpu_started = time.perf_counter(), time.process_time()
    _INDEX, _ORGS = matching.CandidateIndex(entry_party(e) for e in document["results"]), orgs
    indexed, index_cpu = time.perf_counter(), time.process_time() - cpu_started
    step = -(-len(orgs) // (workers * 4))
    ranges = [(start, min(start + step, len(orgs))) for start in range(0, len(orgs), step)]
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            chunks = pool.map(_screen_range, ranges)
    else:
        chunks = [_screen_range(r) for r in ranges]
    finished = time.perf_counter()
    comparisons = sum(count for _, count, _ in chunks)
    screening_cpu = sum(cpu for _, _, cpu in chunks)
    screened = [result for results, _, _ in chunks for result in results]
    planted = [(entry, hits) for entry, hits in screened if entry]
    planted_found = sum(any(key == entry for _, key, _, _ in hits) for entry, hits in planted)
    other_hits = [(org, list_name, score) for entry, hits in screened for org, key, list_name, score in hits
                  if key != entry]
    naive = len(orgs) * len(document["results"])
    print(f"entries {len(document['results'])}, organizations {len(orgs)} ({len(planted)} planted variants), "
          f"{workers} worker(s)")
    print(f"wall: index build {indexed - started:.2f} s, screening {finished - indexed:.2f} s, "
          f"total {finished - started:.2f} s (load average {os.getloadavg()[0]:.1f})")
    print(f"cpu:  index build {index_cpu:.2f} s, screening {screening_cpu:.2f} s (summed over workers)")
    print(f"comparisons {comparisons:,} vs naive {naive:,} ({comparisons / naive:.4%})")
    print(f"planted recall {planted_found / len(planted):.3f} ({planted_found}/{len(planted)}); "
          f"{len(other_hits)} other hits, where a random name shares its distinctive word with an entry, e.g.:")
    for org_name, list_name, score in other_hits[:: max(1, len(other_hits) // 4)][:4]:
        print(f"    {score:.2f}  {org_name!r} ~ {list_name!r}")


def bench_labelled() -> None:
    rows = evaluation.labelled_rows(ROOT / "tests" / "fixtures" / "screening" / "labelled.csv")
    index = matching.CandidateIndex(evaluation.list_parties(ROOT / "tests" / "fixtures" / "csl" / "consolidated.json"))
    result = evaluation.evaluate(rows, index, threshold=matching.DEFAULT_THRESHOLD)
    print(f"labelled set ({len(rows)} queries) at threshold {matching.DEFAULT_THRESHOLD}: "
          f"precision {result.precision:.3f}, recall {result.recall:.3f}")


def bench_import(document: dict) -> None:
    """import_csl's service into a throwaway test database (the configured engine), timed."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from compliance.screening import services

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "consolidated.json"
            path.write_text(json.dumps(document), encoding="utf-8")
            started = time.perf_counter()
            result = services.screening_list_import(path=path)
            elapsed = time.perf_counter() - started
        print(f"import_csl of {result.screening_list.entry_count} entries into {connection.vendor}: {elapsed:.2f} s")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=30_000)
    parser.add_argument("--organizations", type=int, default=10_000)
    parser.add_argument("--planted", type=float, default=0.02, help="share of organizations that are list variants")
    parser.add_argument("--workers", type=int, default=2, help="processes screening in parallel (default 2)")
    parser.add_argument("--db", action="store_true", help="also time the database import")
    args = parser.parse_args()
    rng = random.Random(SEED)
    document = csl_document(rng, args.entries)
    orgs = organizations(rng, document, args.organizations, args.planted)
    bench_matching(document, orgs, args.workers)
    bench_labelled()
    if args.db:
        bench_import(document)


if __name__ == "__main__":
    main()
