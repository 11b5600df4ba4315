"""The pure matching core: normalization, blocking and explained scores."""
import pytest

from compliance.screening import matching
from compliance.screening.matching import CandidateIndex, compare, make_party, normalize_name


def party(*names, countries=(), places=()):
    return make_party(key=names[0], names=names, countries=countries, places=places)


def score(query, listed, **kwargs):
    return compare(party(query, **kwargs), party(listed)).score


@pytest.mark.parametrize("written, tokens", [
    ("Huawei Technologies Co., Ltd.", ("huawei", "technology")),
    ("HUAWEI TECHNOLOGIES COMPANY LIMITED", ("huawei", "technology")),
    ("Foo S.A.", ("foo",)),
    ("Foo L.L.C.", ("foo",)),
    ("Foo Pte. Ltd.", ("foo",)),
    ("Foo GmbH", ("foo",)),
    ("华为技术有限公司", ("huaweijishu",)),  # pypinyin, phrase-aware (Unidecode read 术 as "zhu")
    ("浪潮集团", ("langchao",)),
    ("Haiguang Xinxi Jishu Youxian Gongsi", ("haiguang", "xinxi", "jishu")),
    ("Рособоронэкспорт", ("rosoboroneksport",)),
    ("Intl. Mfg. Corp.", ("international", "manufacturing")),
])
def test_normalization_folds_case_punctuation_legal_forms_and_scripts(written, tokens):
    assert normalize_name(written).tokens == tokens


def test_legal_forms_are_reported_not_compared():
    name = normalize_name("中科曙光股份有限公司")
    assert name.tokens == ("zhongkeshuguang",) and name.legal_forms == ("股份有限公司",)


@pytest.mark.parametrize("query, listed", [
    ("Huawey Technologies", "Huawei Technologies Co., Ltd."),  # spelling
    ("Technologies Huawei Ltd", "Huawei Technologies Co., Ltd."),  # word order
    ("Huawei Technologies Company Limited", "Huawei Technologies Co., Ltd."),  # legal form
    ("HiSilicon Technologies 有限公司", "HiSilicon Technologies Co., Ltd"),  # legal form in Chinese
    ("Hi-Silicon Technologies", "HiSilicon Technologies Co., Ltd"),  # split word
    ("海光信息技术有限公司", "Haiguang Xinxi Jishu Youxian Gongsi"),  # characters vs pinyin
    ("中科曙光", "Zhongke Shuguang"),
    ("Рособоронэкспорт", "ROSOBORONEKSPORT OAO"),  # Cyrillic vs its published transliteration
    ("Moore Thread Technology Ltd", "Moore Threads Technology Co., Ltd."),  # plural
    ("Biren Technology", "Beijing Biren Technology Development Co., Ltd."),  # list adds place and generic words
    ("Semiconductor Manufacturing Intl Corp", "Semiconductor Manufacturing International Corporation"),
])
def test_variants_of_a_listed_name_match(query, listed):
    assert score(query, listed) >= matching.DEFAULT_THRESHOLD


@pytest.mark.parametrize("query, listed", [
    ("Inspire Ltd", "Inspur Group"),
    ("Inspira Technologies", "Inspur Group"),
    ("Taiwan Semiconductor Manufacturing Company", "Semiconductor Manufacturing International Corporation"),
    ("Huawei Marine Networks Co., Ltd.", "Huawei Technologies Co., Ltd."),
    ("Moore Industries International", "Moore Threads Technology Co., Ltd."),
    ("Beijing Technology Development Co", "Beijing Biren Technology Development Co., Ltd."),
    ("SMC Corporation", "SMIC"),
    ("Shanghai Huali Microelectronics", "Shanghai Huahong Microelectronics"),
    ("China Electronics Technology Group 38th Research Institute",
     "China Electronics Technology Group 14th Research Institute"),
])
def test_near_misses_sharing_words_do_not_match(query, listed):
    assert score(query, listed) < matching.DEFAULT_THRESHOLD


def test_an_alias_on_either_side_is_a_hit_and_says_so():
    sugon = party("Sugon", "Dawning Information Industry", "Zhongke Shuguang")
    match = compare(party("Dawning Information Industry Co., Ltd."), sugon)
    assert match.score == 1.0
    assert match.explanation["name"]["alias_hit"] and match.explanation["name"]["list_is_alias"]
    assert match.explanation["name"]["list_name"] == "Dawning Information Industry"
    via_org_alias = compare(party("Acme Compute", "Sugon"), sugon)
    assert via_org_alias.explanation["name"]["query_is_alias"] and via_org_alias.score == 1.0


def test_explanation_lists_matched_tokens_and_qualifiers():
    match = compare(party("Huawey Technologies", countries=["CN"], places=["Shenzhen"]),
                    party("Huawei Technologies Co., Ltd.", countries=["CN"],
                          places=["Bantian Huawei Base, Longgang District, Shenzhen, 518129, CN"]))
    name = match.explanation["name"]
    assert ["huawey", "huawei", pytest.approx(0.833, abs=0.001)] in name["matched_tokens"]
    assert name["legal_forms"] == {"query": [], "list": ["co", "ltd"]}
    assert match.explanation["country"]["result"] == "match"
    assert match.explanation["city"] == {"result": "match", "delta": matching.CITY_MATCH_BONUS,
                                         "cities": ["shenzhen"]}
    assert match.score == pytest.approx(min(1.0, name["score"] + 0.10), abs=1e-4)


def test_disjoint_countries_lower_the_score():
    same = compare(party("Biren Technology", countries=["CN"]), party("Biren Technology", countries=["CN"]))
    other = compare(party("Biren Technology", countries=["DE"]), party("Biren Technology", countries=["CN"]))
    assert other.explanation["country"]["result"] == "mismatch"
    assert other.score == pytest.approx(1.0 - matching.COUNTRY_MISMATCH_PENALTY)
    assert other.score < same.score


def test_blocking_compares_only_entries_that_share_a_key():
    listed = [party(n) for n in ("Huawei Technologies Co., Ltd.", "Inspur Group", "Sugon", "Moore Threads",
                                 "Semiconductor Manufacturing International Corporation")]
    index = CandidateIndex(listed)
    assert [p.key for p in index.candidates(party("Huawey Tech"))] == ["Huawei Technologies Co., Ltd."]
    assert index.candidates(party("Nvidia Corporation")) == []
    index.screen(party("Huawey Tech"))
    assert index.comparisons == 1


def test_fingerprint_changes_with_any_screened_field():
    base = matching.fingerprint(names=["Acme", "ACME Ltd"], countries=["US"], places=["Austin"])
    assert base == matching.fingerprint(names=["ACME Ltd", "Acme"], countries=["US"], places=["Austin"])
    assert base != matching.fingerprint(names=["Acme", "ACME Ltd", "Acme Labs"], countries=["US"], places=["Austin"])
    assert base != matching.fingerprint(names=["Acme", "ACME Ltd"], countries=["US"], places=["Dallas"])


def test_the_explanation_quotes_names_as_written():
    match = compare(party("华为技术有限公司"), party("Huawei Jishu Youxian Gongsi"))
    assert match.explanation["name"]["query_name"] == "华为技术有限公司"
    assert match.explanation["name"]["legal_forms"] == {"query": ["有限公司"], "list": ["youxian", "gongsi"]}
