"""Screening benchmark: 10 000 organizations against 30 000 synthetic CSL-shaped entries.

    .venv/bin/python bench/screening.py            # matching only (pure matching.py), 2 processes
    .venv/bin/python bench/screening.py --db       # plus import_csl of the same list into a throwaway test DB

Prints the elapsed seconds, the comparisons made against the naive 10 000 x 30 000,
recall per class of planted variant, precision over every hit, and precision/recall
on the labelled set.  Names are generated with a fixed seed, shaped like the list: an
optional place, one or two distinctive words, generic trade words, a legal form, a
few aliases; some entries are Russian-style (a Russian legal form before or after the
name) or Chinese-style (a pinyin name of Chinese characters).

The first variant classes (legal form, word order, typo) are the ones the matcher was
built around.  The others are written the way list entries and customers write names
and were added to keep the figures honest: abbreviations either way round, Russian
legal forms in another style or script, Chinese script for a Latin-only entry,
punctuation and case, a dropped legal form, singular/plural.  Planted negatives: a
listed name in a country its entry does not name, and the "-ies" plural of a listed
name ending in "-y" (a plural-stemming collision); a hit on either is a false hit.
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
# How lists and customers shorten words; the bench's own table, not the matcher's.
SHORT_FORMS = {"Technology": "Tech", "International": "Intl", "Information": "Info", "Engineering": "Eng.",
               "Development": "Dev.", "Electronics": "Elec.", "Systems": "Sys.", "Integrated Circuit": "IC",
               "Research and Development": "R&D", "Manufacturing": "Mfg."}
LIST_GENERIC_PHRASES = ("Integrated Circuit", "Research and Development", "Manufacturing")
RUSSIAN_FORMS = ("OOO {}", "{} OOO", "AO {}", "{}, AO", "Joint Stock Company {}", "JSC {}", "PAO {}",
                 "Limited Liability Company {}", "Obshchestvo s Ogranichennoy Otvetstvennostyu {}", "ООО «{}»",
                 "АО «{}»", "ПАО «{}»", "ЗАО «{}»", "Aktsionernoe Obshchestvo {}", "Closed Joint Stock Company {}")
# Characters common in Chinese company names, and the Chinese a customer writes for the list's English words.
HANZI = "华海光中科曙芯微智联创新达通信天星宇航盛源鑫金泰瑞恒宏博远凯嘉润晶辉腾飞龙云峰锐睿思维元致同方正德兴隆昌明安康力合众汇聚广美"
CHINESE_FOR = {"Technology": "科技", "Information": "信息", "Electronics": "电子", "Semiconductor": "半导体",
               "Trading": "贸易", "International": "国际", "Development": "发展", "Software": "软件",
               "Integrated Circuit": "集成电路"}
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
    parts += rng.sample(GENERIC + list(LIST_GENERIC_PHRASES), rng.choice((0, 1, 1, 2)))
    return " ".join(parts + [rng.choice(LEGAL)])


def russian_name(rng: random.Random) -> str:
    return rng.choice(RUSSIAN_FORMS).format(" ".join(word(rng) for _ in range(rng.choice((1, 2)))))


def chinese_name(rng: random.Random) -> tuple[str, str]:
    """A pinyin entry name as the list writes it, and the Chinese-script name it romanizes."""
    from pypinyin import lazy_pinyin

    hanzi = "".join(rng.sample(HANZI, rng.choice((2, 2, 3))))
    generic = rng.sample(sorted(CHINESE_FOR), rng.choice((1, 1, 2)))
    latin = "".join(lazy_pinyin(hanzi)).capitalize()
    return (f"{latin} {' '.join(generic)} Co., Ltd.", hanzi + "".join(CHINESE_FOR[g] for g in generic) + "有限公司")


def typo(rng: random.Random, text: str) -> str:
    """One substitution inside a distinctive word (never the first letter)."""
    words = text.split()
    i = max(range(len(words)), key=lambda k: len(words[k]) if words[k] not in PLACES + GENERIC else 0)
    w = words[i]
    if len(w) > 5:
        j = rng.randrange(2, len(w) - 1)
        words[i] = w[:j] + rng.choice("aeiouy") + w[j + 1:]
    return " ".join(words)


def strip_legal(name: str) -> str:
    for form in sorted(LEGAL, key=len, reverse=True):
        if name.endswith(" " + form):
            return name[: -len(form) - 1].rstrip(",")
    for form in RUSSIAN_FORMS:
        head, tail = form.split("{}")
        if name.startswith(head) and name.endswith(tail):
            return name[len(head):len(name) - len(tail) or None]
    return name


def shorten(rng: random.Random, text: str) -> str:
    """Abbreviate the list's long words, or spell out its abbreviations: whichever the name allows."""
    longs = [w for w in SHORT_FORMS if w in text]
    if longs:
        long = rng.choice(longs)
        return text.replace(long, SHORT_FORMS[long])
    return text


def punctuate(rng: random.Random, text: str) -> str:
    words = text.split()
    style = rng.choice(("upper", "commas", "parenthesis"))
    if style == "upper":
        return text.upper()
    if style == "parenthesis" and words[0] in PLACES and len(words) > 2:
        return f"{words[1]} ({words[0]}) {' '.join(words[2:])}"  # "Biren (Beijing) Technology Co., Ltd."
    return ", ".join(words) + "."


def plural(text: str) -> str:
    for one, many in (("Technology", "Technologies"), ("Industry", "Industries"), ("Electronics", "Electronic"),
                      ("Systems", "System")):
        if one in text:
            return text.replace(one, many)
    return text + " Systems"


BUILT_AROUND = ("legal form", "word order", "typo")
LIST_STYLE = ("abbreviation", "Russian legal form", "Chinese script", "punctuation", "legal form dropped",
              "singular/plural", "reordered, legal form dropped")
NEGATIVES = ("other country", "-ies plural of a -y name")


def variant(rng: random.Random, entry: dict, kind: str) -> str | None:
    """How a customer would write a listed name, one class at a time; None when the entry has no such form."""
    name = entry["name"]
    core = strip_legal(name)
    if kind == "legal form":
        return f"{core} {rng.choice(LEGAL)}"
    if kind == "word order":
        first, _, rest = core.partition(" ")
        return f"{rest} {first} {rng.choice(LEGAL)}" if rest else None
    if kind == "typo":
        return f"{typo(rng, core)} {rng.choice(LEGAL)}"
    if kind == "abbreviation":
        short = shorten(rng, core)
        return f"{short} {rng.choice(LEGAL)}" if short != core else None
    if kind == "Russian legal form":
        return rng.choice(RUSSIAN_FORMS).format(core) if entry.get("style") == "russian" else None
    if kind == "Chinese script":
        return entry.get("chinese")
    if kind == "punctuation":
        return punctuate(rng, name)
    if kind == "legal form dropped":
        return core if core != name else None
    if kind == "singular/plural":
        return plural(name)
    if kind == "reordered, legal form dropped":
        words = core.split()
        return " ".join(words[1:] + words[:1]) if len(words) > 1 else None
    if kind == "other country":
        return name
    if kind == "-ies plural of a -y name":
        # Short words only: past six letters "-ies" for "-y" is within a typo's distance, a variant more than a
        # different name.
        y_words = [w for w in core.split() if w.endswith("y") and w not in GENERIC and len(w) <= 6]
        return core.replace(y_words[0], y_words[0][:-1] + "ies") if y_words else None
    raise ValueError(kind)


def csl_document(rng: random.Random, size: int) -> dict:
    sources, weights = zip(*SOURCES)
    results = []
    for i in range(size):
        style = rng.choices(("plain", "russian", "chinese", "y"), (0.85, 0.06, 0.06, 0.03))[0]
        chinese = None
        if style == "russian":
            name = russian_name(rng)
        elif style == "chinese":
            name, chinese = chinese_name(rng)
        else:
            name = company_name(rng)
            if style == "y":  # one short distinctive word ending in -y ("Zhaory Trading Ltd")
                name = (f"{rng.choice(SYLLABLES).capitalize()}{rng.choice(('ry', 'ly', 'ny', 'dy'))} "
                        f"{rng.choice(GENERIC)} {rng.choice(LEGAL)}")
        alt_names = [company_name(rng) for _ in range(rng.choice((0, 0, 1, 2, 3)))]
        country = "RU" if style == "russian" else "CN" if style == "chinese" else rng.choice(COUNTRIES)
        results.append({
            "id": f"bench{i:06d}", "source": rng.choices(sources, weights)[0], "type": "Entity",
            "entity_number": None, "programs": ["EAR"], "name": name, "alt_names": alt_names,
            "addresses": [{"address": f"{rng.randint(1, 999)} {word(rng)} Road", "city": rng.choice(PLACES),
                           "state": None, "postal_code": str(rng.randint(100000, 999999)), "country": country}],
            "federal_register_notice": f"8{rng.randint(4, 9)} FR {rng.randint(1000, 99999)}",
            "start_date": f"20{rng.randint(10, 25)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "style": style, "chinese": chinese,
        })
    return {"results": results}


def organizations(rng: random.Random, document: dict, count: int, planted_share: float):
    """Mostly unrelated companies; a share are variants of a random entry, one class each.

    Each row is (party, planted entry id or None, class or None, whether a hit on the planted entry is right).
    """
    entries = document["results"]
    kinds = BUILT_AROUND + LIST_STYLE + NEGATIVES
    by_style = {style: [e for e in entries if e["style"] == style] for style in ("russian", "chinese", "y")}
    orgs = []
    for i in range(count):
        if rng.random() >= planted_share:
            orgs.append((matching.make_party(key=i, names=[company_name(rng)], countries=[rng.choice(COUNTRIES)]),
                         None, None, False))
            continue
        kind = kinds[i % len(kinds)]
        pool = {"Russian legal form": by_style["russian"], "Chinese script": by_style["chinese"],
                "-ies plural of a -y name": by_style["y"]}.get(kind, entries)
        for _ in range(50):  # an entry that has this kind of variant (not every name has an abbreviation)
            entry = rng.choice(pool)
            if (written := variant(rng, entry, kind)) is not None:
                break
        else:
            entry, kind = rng.choice(entries), "legal form"
            written = variant(rng, entry, kind)
        listed_country = entry["addresses"][0]["country"]
        if kind == "other country":
            country = [rng.choice([c for c in COUNTRIES if c != listed_country])]
        else:
            country = [listed_country] if rng.random() < 0.7 else []  # the customer's country is often unknown
        orgs.append((matching.make_party(key=i, names=[written], countries=country), entry["id"], kind,
                     kind not in NEGATIVES))
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
    for query, planted_entry, kind, expected in _ORGS[bounds[0]:bounds[1]]:
        matches = _INDEX.screen(query)
        results.append((planted_entry, kind, expected,
                        [(query.names[0].original, m.candidate.key, m.explanation["name"]["list_name"], m.score)
                         for m in matches], query.names[0].original))
    return results, _INDEX.comparisons - before, time.process_time() - cpu_before


def bench_matching(document: dict, orgs, workers: int, show_misses: bool = False) -> None:
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
    naive = len(orgs) * len(document["results"])
    planted = [r for r in screened if r[0]]
    print(f"entries {len(document['results'])}, organizations {len(orgs)} ({len(planted)} planted), "
          f"{workers} worker(s)")
    print(f"wall: index build {indexed - started:.2f} s, screening {finished - indexed:.2f} s, "
          f"total {finished - started:.2f} s (load average {os.getloadavg()[0]:.1f})")
    print(f"cpu:  index build {index_cpu:.2f} s, screening {screening_cpu:.2f} s (summed over workers)")
    print(f"comparisons {comparisons:,} vs naive {naive:,} ({comparisons / naive:.4%})")
    true_hits = false_hits = 0
    for group, kinds in (("built around", BUILT_AROUND), ("list-style", LIST_STYLE)):
        for kind in kinds:
            rows = [r for r in planted if r[1] == kind]
            found = sum(any(key == entry for _, key, _, _ in hits) for entry, _, _, hits, _ in rows)
            print(f"recall  {group:<12} {kind:<30} {found / len(rows) if rows else 1:.3f} ({found}/{len(rows)})")
            if show_misses:
                for entry, _, _, hits, written in rows:
                    if not any(key == entry for _, key, _, _ in hits):
                        print(f"    missed {written!r} (entry {entry})")
    for kind in NEGATIVES:
        rows = [r for r in planted if r[1] == kind]
        hit = sum(any(key == entry for _, key, _, _ in hits) for entry, _, _, hits, _ in rows)
        print(f"false hits on planted negatives: {kind:<27} {hit}/{len(rows)}")
    examples = []
    for entry, kind, expected, hits, _ in screened:
        for org_name, key, list_name, score in hits:
            if expected and key == entry:
                true_hits += 1
            else:
                false_hits += 1
                examples.append((score, org_name, list_name))
    print(f"precision over every hit {true_hits / (true_hits + false_hits):.3f} ({true_hits} right, {false_hits} "
          f"other: planted negatives, and random names one letter from an entry), e.g.:")
    for score, org_name, list_name in examples[:: max(1, len(examples) // 4)][:4]:
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
    parser.add_argument("--planted", type=float, default=0.05, help="share of organizations that are list variants")
    parser.add_argument("--workers", type=int, default=2, help="processes screening in parallel (default 2)")
    parser.add_argument("--db", action="store_true", help="also time the database import")
    parser.add_argument("--show-misses", action="store_true", help="print each planted variant not found")
    args = parser.parse_args()
    rng = random.Random(SEED)
    document = csl_document(rng, args.entries)
    orgs = organizations(rng, document, args.organizations, args.planted)
    bench_matching(document, orgs, args.workers, args.show_misses)
    bench_labelled()
    if args.db:
        bench_import(document)


if __name__ == "__main__":
    main()
