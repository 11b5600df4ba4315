"""The matcher's classes of variants, each shown on names it was not tuned on.

Expanded abbreviations, Russian legal forms, Chinese script against a list that
carries Latin names only, plural folding that must not merge distinct names, and
a country mismatch that must outweigh an identical name.
"""
import pytest

from compliance.screening import matching, vocabulary
from compliance.screening.matching import compare, make_party, name_readings, normalize_name

THRESHOLD = matching.DEFAULT_THRESHOLD


def party(*names, countries=()):
    return make_party(key=names[0], names=names, countries=countries)


def score(query, listed, *, query_countries=(), list_countries=()):
    return compare(party(query, countries=query_countries), party(listed, countries=list_countries)).score


@pytest.mark.parametrize("abbreviated, expanded", [
    ("Wuxi Xinlian IC Design Co", "Wuxi Xinlian Integrated Circuit Design Co., Ltd."),
    ("Kepler Tech Ltd", "Kepler Technology Co., Ltd."),
    ("Orlan Intl Trading", "Orlan International Trading LLC"),
    ("Zarya Elec. Sys. Ltd", "Zarya Electronic Systems Ltd"),
    ("Hongxin R&D Center", "Hongxin Research and Development Center"),
    ("Pamir Hi-Tech Co", "Pamir High Technology Company"),
])
def test_an_abbreviation_meets_its_expansion_on_either_side(abbreviated, expanded):
    assert normalize_name(abbreviated).tokens == normalize_name(expanded).tokens
    assert score(abbreviated, expanded) == 1.0 and score(expanded, abbreviated) == 1.0


def test_abbreviations_are_a_table_every_expansion_of_which_is_vocabulary():
    """Expansions are generic or place words: expanding never invents a distinctive word."""
    for short, words in vocabulary.ABBREVIATIONS.items():
        for word in words:
            assert word in vocabulary.VOCABULARY or word in vocabulary.LEGAL_FORMS, (short, word)


@pytest.mark.parametrize("written", [
    "OOO Sertal", "Sertal OOO", "ООО «Серталь»", "AO Sertal", "Sertal AO", "АО «Серталь»", "PAO Sertal",
    "ПАО Серталь", "ZAO Sertal", "ЗАО Серталь", "OAO Sertal", "ОАО «Серталь»", "Joint Stock Company Sertal",
    "Closed Joint Stock Company Sertal", "Sertal Limited Liability Company",
    "Obshchestvo s Ogranichennoy Otvetstvennostyu Sertal", "Общество с ограниченной ответственностью «Серталь»",
    "Aktsionernoe Obshchestvo Sertal", "Акционерное общество «Серталь»",
])
def test_russian_legal_forms_are_legal_forms_in_either_script(written):
    name = normalize_name(written)
    assert name.tokens == ("sertal",) and name.legal_forms
    assert score(written, "Sertal") >= THRESHOLD


def test_two_companies_that_share_only_a_russian_legal_form_do_not_match():
    assert score("OOO Sertal", "OOO Kvant") < THRESHOLD
    assert score("Joint Stock Company Sertal", "Joint Stock Company Kvant") == 0.0


def test_ao_is_a_legal_form_only_where_russian_puts_it():
    assert normalize_name("Zhong Ao Dian Technology").tokens == ("zhong", "ao", "dian", "technology")


@pytest.mark.parametrize("chinese, listed", [
    ("华为技术有限公司", "Huawei Technologies Co., Ltd."),
    ("华为技术（深圳）有限公司", "Huawei Technologies Co., Ltd."),
    ("海光信息技术有限公司", "Haiguang Information Technology Co., Ltd."),
    ("北京壁仞科技开发有限公司", "Beijing Biren Technology Development Co., Ltd."),
    ("上海集成电路研发中心", "Shanghai Integrated Circuit Research and Development Center"),
    ("中科曙光", "Zhongke Shuguang"),
    ("中芯微电子有限公司", "Zhongxin Microelectronics Co., Ltd."),  # 微电子 is one trade word here …
    ("光微电子有限公司", "Guangwei Electronics Co., Ltd."),  # … and here 微 ends the brand: both cuts are read
])
def test_chinese_script_meets_a_latin_only_list_through_pinyin(chinese, listed):
    match = compare(party(chinese), party(listed))
    assert match.score >= THRESHOLD, match.explanation
    assert match.explanation["name"]["readings"]["query"] in (matching.PINYIN, matching.PINYIN_TRANSLATED)
    assert match.explanation["name"]["query_name"] == chinese


def test_a_chinese_name_has_a_pinyin_reading_and_one_with_common_words_in_english():
    readings = name_readings("海光信息技术有限公司")
    assert [r.tokens for r in readings] == [("haiguangxinxijishu",), ("haiguang", "information", "technology")]
    assert {r.original for r in readings} == {"海光信息技术有限公司"}


def test_pinyin_readings_do_not_match_a_different_chinese_company():
    assert score("华为技术有限公司", "Hualong Technologies Co., Ltd.") < THRESHOLD
    assert score("海光信息技术有限公司", "Higgins Information Technology") < THRESHOLD


@pytest.mark.parametrize("query, listed", [
    ("Aries Electronics", "Ary Electronics"),
    ("Genies Trading", "Geny Trading"),
    ("News Technology", "New Technology"),
    ("Ares Systems", "Are Systems"),
])
def test_plural_folding_does_not_merge_distinct_names(query, listed):
    assert score(query, listed) < THRESHOLD


@pytest.mark.parametrize("plural, singular", [
    ("Technologies", "technology"), ("Industries", "industry"), ("Laboratories", "laboratory"),
    ("Systems", "system"), ("Electronics", "electronic"), ("Services", "service"), ("Sciences", "science"),
    ("Threads", "threads"), ("Aries", "aries"), ("News", "news"),
])
def test_plurals_fold_only_onto_the_vocabulary(plural, singular):
    assert matching.singular(plural.casefold()) == singular


def test_a_country_mismatch_drops_even_an_identical_name_below_the_threshold():
    assert score("Kepler Technology", "Kepler Technology", query_countries=["DE"], list_countries=["CN"]) < THRESHOLD
    assert score("Kepler Technology", "Kepler Technology", query_countries=["CN"], list_countries=["CN"]) == 1.0
    assert score("Kepler Technology", "Kepler Technology", list_countries=["CN"]) == 1.0  # unknown: no penalty
    assert 1.0 - matching.COUNTRY_MISMATCH_PENALTY < THRESHOLD
