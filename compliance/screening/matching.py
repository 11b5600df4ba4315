"""Name screening core: normalization, blocking keys and explained fuzzy scores.

Pure Python (rapidfuzz, Unidecode, pypinyin), no Django: the benchmark and the
labelled set run it directly, and a score can be recomputed from stored names alone.

The score is a weighted soft Dice over name tokens.  Distinctive words weigh 1,
place names 0.5, generic trade words ("technology", "international") 0.3, and
legal forms (Co., Ltd., OOO, 有限公司 …) are dropped.  This is what keeps "Taiwan
Semiconductor Manufacturing Co." away from "Semiconductor Manufacturing
International Corporation" although they share most of their words, which a plain
token_set_ratio does not (it scores that pair 88).  The word tables live in
`vocabulary.py`.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from pypinyin import lazy_pinyin
from rapidfuzz.distance import Indel
from unidecode import unidecode

from .vocabulary import (ABBREVIATIONS, CHINESE_TERMS, EDGE_LEGAL_FORMS, GENERIC_WORDS, LEGAL_FORMS, LEGAL_FORMS_CJK,
                         LEGAL_PHRASES, PLACE_WORDS, SYMBOL_ABBREVIATIONS, VOCABULARY)

# Chosen on tests/fixtures/screening/labelled.csv: precision and recall are both 1.0
# for every threshold above 0.75 (the strongest negative, a listed name in a country its
# entry does not name, scores 0.75) up to 0.87 (the weakest positive, a misspelling,
# scores 0.872); 0.80 sits inside the band.
DEFAULT_THRESHOLD = 0.80

TOKEN_MATCH_MIN = 0.80  # two words count as the same word from this similarity up
SPLIT_MATCH_MIN = 0.85  # "Hi-Silicon" / "HiSilicon", "华为技术" / "Huawei Jishu"
MIN_FUZZY_LENGTH = 4  # shorter words (SMC, SMIC, IRGC) must match exactly
DISTINCTIVE, PLACE, GENERIC = 1.0, 0.5, 0.3
EXTRA_LIST_QUALIFIER_FACTOR = 0.5  # a listed name's extra place/generic words cost half
COUNTRY_MATCH_BONUS = 0.05
# Larger than 1 - DEFAULT_THRESHOLD: a name identical to a listed one but in a country the entry does not name
# is not that party (the Entity List names each affiliate with its own address); an unknown country costs nothing.
COUNTRY_MISMATCH_PENALTY = 0.25
CITY_MATCH_BONUS = 0.05
MIN_PLURAL_STEM = 4  # "news" is not the plural of "new"

NOISE_PHRASES = re.compile(r"\band any successor,? sub-unit,? or subsidiary thereof\b", re.IGNORECASE)
SYMBOL_ABBREVIATION_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(SYMBOL_ABBREVIATIONS, key=len,
                                                                               reverse=True)))
CHINESE_TERM_PATTERN = re.compile("|".join(sorted(CHINESE_TERMS, key=len, reverse=True)))

WRITTEN, PINYIN, PINYIN_TRANSLATED = "as written", "pinyin", "pinyin, common words in English"


def singular(word: str) -> str:
    """Fold a plural only onto a word of the vocabulary ("Technologies" → "technology").

    A distinctive word keeps its letters: "Aries" is not "Ary", "Threads" stays
    "threads" and meets "Thread" through the fuzzy pass at its real similarity.
    """
    if word in VOCABULARY or not word.endswith("s"):
        return word
    for stem in (word[:-3] + "y" if word.endswith("ies") else "", word[:-2], word[:-1]):
        if len(stem) >= MIN_PLURAL_STEM and stem in VOCABULARY:
            return stem
    return word


@dataclass(frozen=True)
class Name:
    """One written name, normalized: its comparable words and what was dropped.

    `reading` says how a non-Latin name was read ("pinyin", …); one written name
    may give several readings, each a Name with the same `original`.
    """

    original: str
    tokens: tuple[str, ...]
    legal_forms: tuple[str, ...]
    weights: tuple[float, ...]
    reading: str = WRITTEN

    @property
    def compact(self) -> str:
        return "".join(self.tokens)


@dataclass(frozen=True)
class Party:
    """Either side of a comparison: an organization, or one list entry.

    `places` holds word sets: an organization's site cities, or an entry's address lines.
    """

    key: object
    names: tuple[Name, ...]
    countries: frozenset[str] = frozenset()
    places: tuple[frozenset[str], ...] = ()


@dataclass
class Match:
    candidate: Party
    score: float
    explanation: dict = field(repr=False)


def token_weight(token: str) -> float:
    if token in GENERIC_WORDS:
        return GENERIC
    if token in PLACE_WORDS:
        return PLACE
    return DISTINCTIVE


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def _pinyin(run: str) -> str:
    """A run of Chinese characters as one glued pinyin word ("华为" → "huawei"), as pinyin names are written."""
    return "".join(lazy_pinyin(run, errors=lambda chars: unidecode(chars).replace(" ", "")))


def _translated(run: str) -> str:
    """Common words in the English the list uses, the rest glued pinyin: "华为技术" → "huawei technology".

    Longest term first, left to right ("中芯微电子" → "zhongxin microelectronic")."""
    parts: list[str] = []
    position = 0
    for term in CHINESE_TERM_PATTERN.finditer(run):
        if term.start() > position:
            parts.append(_pinyin(run[position:term.start()]))
        parts.append(CHINESE_TERMS[term.group()])
        position = term.end()
    if position < len(run):
        parts.append(_pinyin(run[position:]))
    return " ".join(parts)


def _translated_suffix(run: str) -> str:
    """The other way to cut: trade words peeled off the end, shortest first, the rest one pinyin name.

    A Chinese company name runs [place][brand][trade words]; where a brand's last character
    starts a longer term ("光微电子" = 光微 + 电子, not 光 + 微电子) only this cut finds the brand.
    """
    words: list[str] = []
    end = len(run)
    while end > 0:
        term = next((run[start:end] for start in range(end - 1, max(end - 5, -1), -1)
                     if run[start:end] in CHINESE_TERMS), None)
        if term is None:
            break
        words.insert(0, CHINESE_TERMS[term])
        end -= len(term)
    return " ".join(([_pinyin(run[:end])] if end else []) + words)


def transliterate(text: str, *, chinese=None) -> str:
    """Latin letters for any script: Chinese through `chinese` (default: glued pinyin), the rest through Unidecode."""
    if text.isascii():
        return text
    chinese = chinese or _pinyin
    out: list[str] = []
    for cjk, run in _script_runs(text):
        if cjk:
            out.append(" " + chinese(run) + " ")
        else:
            out.append(unidecode(run))
    return "".join(out)


def _script_runs(text: str) -> list[tuple[bool, str]]:
    runs: list[tuple[bool, str]] = []
    for char in text:
        cjk = _is_cjk(char)
        if runs and runs[-1][0] == cjk:
            runs[-1] = (cjk, runs[-1][1] + char)
        else:
            runs.append((cjk, char))
    return runs


def _join_initials(words: list[str]) -> list[str]:
    """Glue runs of single letters ("S A" → "sa", "L L C" → "llc"), so dotted abbreviations survive."""
    joined: list[str] = []
    run: list[str] = []
    for word in words + [""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if run:
            joined.append("".join(run))
            run = []
        if word:
            joined.append(word)
    return joined


def _normalize_latin(original: str, text: str, legal_forms: list[str], reading: str) -> Name:
    latin = text.casefold()
    latin = SYMBOL_ABBREVIATION_PATTERN.sub(lambda m: f" {SYMBOL_ABBREVIATIONS[m.group()]} ", latin)
    latin = re.sub(r"[.'’`]", "", latin.replace("&", " and "))
    spaced = " ".join(re.sub(r"[^0-9a-z]+", " ", latin).split())
    legal_forms = legal_forms + LEGAL_PHRASES.findall(spaced)
    words = _join_initials(LEGAL_PHRASES.sub(" ", spaced).split())
    tokens: list[str] = []
    last = len(words) - 1
    for position, word in enumerate(words):
        if word in LEGAL_FORMS or (word in EDGE_LEGAL_FORMS and position in (0, last)):
            legal_forms.append(word)
            continue
        for part in ABBREVIATIONS.get(word, (word,)):
            if part in LEGAL_FORMS:
                legal_forms.append(part)
                continue
            token = singular(part)
            if token not in tokens:
                tokens.append(token)
    return Name(original=original, tokens=tuple(tokens), legal_forms=tuple(legal_forms),
                weights=tuple(token_weight(t) for t in tokens), reading=reading)


@lru_cache(maxsize=65_536)
def name_readings(written: str) -> tuple[Name, ...]:
    """Every reading of a written name: one for Latin and most scripts; for Chinese script its pinyin,
    and its pinyin with common words in English (the list writes "Huawei Technologies", not "Huawei Jishu")."""
    original = (written or "").strip()
    text = unicodedata.normalize("NFKC", written or "")
    if "successor" in text:
        text = NOISE_PHRASES.sub(" ", text)
    legal_forms: list[str] = []
    if not text.isascii():
        for form in LEGAL_FORMS_CJK:
            if form in text:
                legal_forms.append(form)
                text = text.replace(form, " ")
    has_chinese = any(_is_cjk(char) for char in text)
    readings = [_normalize_latin(original, transliterate(text), legal_forms, PINYIN if has_chinese else WRITTEN)]
    if has_chinese:
        for cut in (_translated, _translated_suffix):
            translated = _normalize_latin(original, transliterate(text, chinese=cut), legal_forms, PINYIN_TRANSLATED)
            if all(translated.tokens != reading.tokens for reading in readings):
                readings.append(translated)
    return tuple(readings)


def normalize_name(written: str) -> Name:
    """The first reading of a name (its pinyin for Chinese script)."""
    return name_readings(written)[0]


@lru_cache(maxsize=65_536)
def place_words(text: str) -> frozenset[str]:
    """Cached: the same cities recur across thousands of addresses and sites."""
    return frozenset(token for reading in name_readings(text) for token in reading.tokens)


def make_party(*, key, names: Iterable[str], countries: Iterable[str] = (), places: Iterable[str] = ()) -> Party:
    normalized = tuple(reading for name in names if name and name.strip()
                       for reading in name_readings(name) if reading.tokens)
    return Party(
        key=key,
        names=normalized,
        countries=frozenset(c.upper() for c in countries if c),
        places=tuple(words for words in (place_words(p) for p in places if p) if words),
    )


# --- blocking ---------------------------------------------------------------------


def _word_keys(token: str) -> set[str]:
    """The word and, from five letters up, each deletion of one letter after the first.

    Two words one edit apart past the first letter share a key, as in SymSpell;
    below five letters one edit already scores under TOKEN_MATCH_MIN.
    """
    keys = {"d:" + token}
    if len(token) >= 5:
        keys.update("d:" + token[:i] + token[i + 1:] for i in range(1, len(token)))
    return keys


def name_keys(name: Name) -> set[str]:
    """The index keys under which a name is found; two names that can score a match share one.

    Keys come from the distinctive words (every word when a name has none), plus the
    first six letters of the name glued from its first distinctive word on, which
    meets split and glued spellings ("Hua Wei", "华为技术" → "huaweijizhu").
    """
    distinctive = [t for t, w in zip(name.tokens, name.weights) if w == DISTINCTIVE]
    keyed = distinctive or list(name.tokens)
    keys: set[str] = set()
    for token in keyed:
        keys |= _word_keys(token)
    start = name.tokens.index(keyed[0]) if keyed else 0
    glued = "".join(name.tokens[start:])
    if len(glued) >= 6:
        keys.add("c:" + glued[:6])
    return keys


def party_keys(party: Party) -> set[str]:
    keys: set[str] = set()
    for name in party.names:
        keys |= name_keys(name)
    return keys


class CandidateIndex:
    """In-memory blocking index: each query is compared only with entries sharing a key."""

    def __init__(self, parties: Iterable[Party]):
        self.parties: list[Party] = list(parties)
        self.postings: dict[str, list[int]] = defaultdict(list)
        for position, party in enumerate(self.parties):
            for key in party_keys(party):
                self.postings[key].append(position)
        self.comparisons = 0

    def candidates(self, query: Party) -> list[Party]:
        positions: set[int] = set()
        for key in party_keys(query):
            positions.update(self.postings.get(key, ()))
        return [self.parties[p] for p in sorted(positions)]

    def screen(self, query: Party, *, threshold: float = DEFAULT_THRESHOLD) -> list[Match]:
        candidates = self.candidates(query)
        self.comparisons += len(candidates)
        return screen_candidates(query, candidates, threshold=threshold)


# --- scoring ------------------------------------------------------------------------


def _token_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if a[0] != b[0] or min(len(a), len(b)) < MIN_FUZZY_LENGTH or not (a.isalpha() and b.isalpha()):
        return 0.0  # fuzzy only past the first letter; short words and numbers ("38th") must be equal
    return Indel.normalized_similarity(a, b, score_cutoff=TOKEN_MATCH_MIN)


def _unmatched_runs(count: int, used: set[int]) -> list[list[int]]:
    runs: list[list[int]] = [[]]
    for i in range(count):
        if i in used:
            runs.append([])
        else:
            runs[-1].append(i)
    return [run for run in runs if len(run) > 1]


def _best_split(word: str, tokens: tuple[str, ...], runs: list[list[int]]) -> tuple[float, list[int]]:
    """The span of 2-4 adjacent unmatched words (within `runs`) that, glued, best spells `word`."""
    best: tuple[float, list[int]] = (0.0, [])
    # Indel similarity cannot reach SPLIT_MATCH_MIN once the glued words are this much longer.
    longest = len(word) * (2 / SPLIT_MATCH_MIN - 1)
    for run in runs:
        for start in range(len(run) - 1):
            length = len(tokens[run[start]])
            for end in range(start + 2, min(start + 4, len(run)) + 1):
                length += len(tokens[run[end - 1]])
                if length > longest:
                    break
                if 2 * min(length, len(word)) < SPLIT_MATCH_MIN * (length + len(word)):
                    continue
                span = run[start:end]
                similarity = Indel.normalized_similarity(word, "".join(tokens[i] for i in span),
                                                         score_cutoff=SPLIT_MATCH_MIN)
                if similarity > best[0]:
                    best = (similarity, span)
    return best


def compare_names(query: Name, listed: Name) -> tuple[float, dict]:
    """Score two names in [0, 1] and say which words matched.

    Words are paired greedily by similarity, then unpaired words are tried as split
    or glued spellings of each other.  Score = paired weight (times similarity) over
    all weight, where a listed name's extra place or generic words count half: list
    entries carry qualifiers ("Beijing … Development") that a customer's name omits.
    """
    if query.compact == listed.compact:
        return 1.0, {"method": "literal", "matched_tokens": [[t, t, 1.0] for t in query.tokens],
                     "unmatched_query_tokens": [], "unmatched_list_tokens": []}
    pairs = sorted(
        ((similarity, i, j) for i, a in enumerate(query.tokens) for j, b in enumerate(listed.tokens)
         if (similarity := _token_similarity(a, b))),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    used_q: set[int] = set()
    used_l: set[int] = set()
    matched: list[tuple[float, list[int], list[int]]] = []
    for similarity, i, j in pairs:
        if i not in used_q and j not in used_l:
            used_q.add(i)
            used_l.add(j)
            matched.append((similarity, [i], [j]))
    for side_tokens, side_used, other_tokens, other_used, query_side in (
        (query.tokens, used_q, listed.tokens, used_l, True),
        (listed.tokens, used_l, query.tokens, used_q, False),
    ):
        runs = _unmatched_runs(len(other_tokens), other_used)
        for i, word in enumerate(side_tokens):
            if not runs:
                break
            if i in side_used or len(word) < MIN_FUZZY_LENGTH:
                continue
            similarity, span = _best_split(word, other_tokens, runs)
            if span:
                side_used.add(i)
                other_used.update(span)
                matched.append((similarity, [i], span) if query_side else (similarity, span, [i]))
                runs = _unmatched_runs(len(other_tokens), other_used)

    matched_mass = total = 0.0
    for similarity, q_idx, l_idx in matched:
        weight = sum(query.weights[i] for i in q_idx) + sum(listed.weights[j] for j in l_idx)
        matched_mass += similarity * weight
        total += weight
    unmatched_q = [t for i, t in enumerate(query.tokens) if i not in used_q]
    unmatched_l = [t for j, t in enumerate(listed.tokens) if j not in used_l]
    total += sum(w for i, w in enumerate(query.weights) if i not in used_q)
    for j, weight in enumerate(listed.weights):
        if j not in used_l:
            total += weight if weight == DISTINCTIVE else weight * EXTRA_LIST_QUALIFIER_FACTOR
    score = matched_mass / total if total else 0.0
    return score, {
        "method": "tokens",
        "matched_tokens": [[" ".join(query.tokens[i] for i in q), " ".join(listed.tokens[j] for j in l), round(s, 3)]
                           for s, q, l in matched],
        "unmatched_query_tokens": unmatched_q,
        "unmatched_list_tokens": unmatched_l,
    }


def compare(query: Party, candidate: Party) -> Match:
    """Best name pair, then qualifiers: shared country or city adds, disjoint countries subtract."""
    best_score, best_detail, best_pair = -1.0, {}, (0, 0)
    for qi, q_name in enumerate(query.names):
        for ci, c_name in enumerate(candidate.names):
            score, detail = compare_names(q_name, c_name)
            if score > best_score:
                best_score, best_detail, best_pair = score, detail, (qi, ci)
            if best_score == 1.0:
                break
        if best_score == 1.0:
            break
    if best_score < 0:
        return Match(candidate=candidate, score=0.0, explanation={"name": {"score": 0.0}})
    q_name, c_name = query.names[best_pair[0]], candidate.names[best_pair[1]]
    query_is_alias = q_name.original != query.names[0].original
    list_is_alias = c_name.original != candidate.names[0].original

    if query.countries and candidate.countries:
        shared = query.countries & candidate.countries
        country = {"result": "match" if shared else "mismatch",
                   "delta": COUNTRY_MATCH_BONUS if shared else -COUNTRY_MISMATCH_PENALTY}
    else:
        country = {"result": "unknown", "delta": 0.0}
    country.update(query=sorted(query.countries), list=sorted(candidate.countries))
    cities = sorted(" ".join(sorted(c)) for c in query.places if any(c <= line for line in candidate.places))
    city = {"result": "match" if cities else "none", "delta": CITY_MATCH_BONUS if cities else 0.0, "cities": cities}

    score = min(1.0, max(0.0, best_score + country["delta"] + city["delta"]))
    explanation = {
        "score": round(score, 4),
        "name": {
            "score": round(best_score, 4),
            "query_name": q_name.original,
            "list_name": c_name.original,
            "alias_hit": query_is_alias or list_is_alias,
            "query_is_alias": query_is_alias,
            "list_is_alias": list_is_alias,
            "readings": {"query": q_name.reading, "list": c_name.reading},
            "legal_forms": {"query": list(q_name.legal_forms), "list": list(c_name.legal_forms)},
            **best_detail,
        },
        "country": country,
        "city": city,
    }
    return Match(candidate=candidate, score=score, explanation=explanation)


def screen_candidates(query: Party, candidates: Iterable[Party], *,
                      threshold: float = DEFAULT_THRESHOLD) -> list[Match]:
    """Scored matches at or above the threshold, best first."""
    matches = [m for m in (compare(query, c) for c in candidates) if m.score >= threshold]
    for m in matches:
        m.explanation["threshold"] = threshold
    return sorted(matches, key=lambda m: -m.score)


def fingerprint(*, names: Iterable[str], countries: Iterable[str] = (), places: Iterable[str] = ()) -> str:
    """SHA-256 of the screened fields exactly as written: any edit to them re-opens an adjudication."""
    payload = {"names": sorted(n for n in names if n), "countries": sorted(c for c in countries if c),
               "places": sorted(p for p in places if p)}
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
