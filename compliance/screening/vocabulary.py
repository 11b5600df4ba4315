"""The word tables the matcher reads: legal forms, abbreviations, word classes, Chinese terms.

Data, not logic: a new abbreviation or legal form is one line here, and every name on
either side of a comparison is normalized through the same tables.  Entries are
lower-case ASCII as `matching.normalize_name` leaves words (after Unidecode/pinyin).
"""
from __future__ import annotations

import re

# Legal forms: dropped from the compared words and reported in the explanation.
LEGAL_FORMS = frozenset(
    "co company companies corp corporation inc incorporated ltd limited llc lp llp plc gmbh mbh ag kg sa sas sarl "
    "srl spa bv nv pte pty kk jsc ojsc pjsc cjsc fze fzco fzc lda ltda bhd group holding holdings "
    # Russian: OOO (limited liability), OAO/ZAO (open/closed joint-stock, pre-2014), PAO (public joint-stock),
    # NAO (non-public joint-stock), FGUP/FSUE (federal state unitary enterprise); Cyrillic ООО, ПАО, ЗАО … arrive
    # here through Unidecode as the same letters.
    "ooo oao zao pao nao fgup fsue "
    "youxian gongsi gufen zeren jituan konggu".split()
)
# Legal forms that are also ordinary syllables (Chinese "Ao", Portuguese "ao"): a legal form only as a name's
# first or last word, where the Russian АО stands ("АО «Концерн Созвездие»", "Kronshtadt AO").
EDGE_LEGAL_FORMS = frozenset({"ao"})
# Legal forms written out in words, matched on the normalized text (words separated by one space).
LEGAL_PHRASES = re.compile(
    r"\b(?:"
    r"(?:(?:open|closed|public|non public|private) )?joint stock company"
    r"|limited liability (?:company|partnership)"
    r"|federal state (?:unitary|budgetary) (?:enterprise|institution)"
    r"|obsh?chestvo s ogranichenn(?:oi|oy|oj|ym) otvetstvennost(?:iu|yu|ju|u)"
    r"|(?:(?:otkrytoe|zakrytoe|publichnoe|nepublichnoe) )?aktsionernoe obsh?chestvo"
    r"|federalnoe gosudarstvennoe unitarnoe predpriiatie"
    r")\b"
)
LEGAL_FORMS_CJK = ("股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "集团", "集團", "控股", "公司")

# Abbreviations as list entries and customers write them; both sides are expanded, so "IC" meets
# "Integrated Circuit" and "Intl" meets "International" whichever side abbreviates.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "ic": ("integrated", "circuit"), "ics": ("integrated", "circuit"),
    "tech": ("technology",), "techs": ("technology",), "technol": ("technology",),
    "hitech": ("high", "technology"), "hightech": ("high", "technology"), "scitech": ("science", "technology"),
    "intl": ("international",), "int": ("international",), "internat": ("international",),
    "mfg": ("manufacturing",), "mfr": ("manufacturer",), "info": ("information",),
    "elec": ("electronic",), "electr": ("electronic",), "sci": ("science",), "inst": ("institute",),
    "univ": ("university",), "natl": ("national",), "ind": ("industry",), "inds": ("industry",),
    "indus": ("industry",), "dev": ("development",), "devt": ("development",), "eng": ("engineering",),
    "engg": ("engineering",), "sys": ("system",), "svc": ("service",), "svcs": ("service",),
    "equip": ("equipment",), "telecom": ("telecommunication",), "telecoms": ("telecommunication",),
    "comm": ("communication",), "comms": ("communication",), "mgmt": ("management",),
    "ctr": ("center",), "cntr": ("center",), "dept": ("department",), "acad": ("academy",),
    "lab": ("laboratory",), "labs": ("laboratory",), "res": ("research",), "assn": ("association",),
    "assoc": ("association",), "ai": ("artificial", "intelligence"), "semicon": ("semiconductor",),
    "hk": ("hong", "kong"), "grp": ("group",), "hldg": ("holding",), "hldgs": ("holding",),
}
# Abbreviations containing a symbol, replaced in the text before words are split.
SYMBOL_ABBREVIATIONS = {
    "r&d": "research and development", "s&t": "science and technology", "sci-tech": "science technology",
    "hi-tech": "high technology", "high-tech": "high technology", "int'l": "international",
    "nat'l": "national", "i&e": "import and export",
}

# Word classes (singular forms; plurals fold to these and only to these, see matching.singular).
GENERIC_WORDS = frozenset(
    "technology information industry industrial international electronic electric electrical science scientific "
    "trading trade import export development engineering research institute center centre system network "
    "communication telecommunication semiconductor microelectronic micro manufacturing manufacturer equipment "
    "computer computing software intelligent intelligence artificial digital data service solution global "
    "investment enterprise integrated circuit device product material advanced new general national first the "
    "and of for de la du security logistics shipping supply commercial business management consulting design "
    "application innovation smart cloud power energy automation instrument optical optoelectronic precision "
    "machinery laboratory university academy bureau department agency factory plant works branch office "
    "subsidiary partner associate association high "
    "keji jishu xinxi dianzi kexue yanjiusuo yanjiuyuan zhongxin fazhan gongye chanye guoji maoyi touzi jicheng "
    "dianlu sheji zhizao xianjin".split()
)
PLACE_WORDS = frozenset(
    "china chinese prc beijing shanghai shenzhen tianjin tianjing guangzhou hangzhou nanjing wuhan chengdu "
    "chongqing xian jinan suzhou wuxi hefei changsha zhuhai dongguan qingdao dalian harbin xiamen shandong "
    "guangdong jiangsu zhejiang sichuan hubei hong kong macau macao taiwan singapore malaysia russia russian "
    "moscow iran tehran uae dubai emirates pakistan india korea japan america american usa europe european asia "
    "asian pacific hk sg".split()
)
VOCABULARY = GENERIC_WORDS | PLACE_WORDS

# Chinese-script words and the English the Consolidated Screening List writes for them (the list carries
# Latin names only).  A Chinese query is also read with these translated and the rest in pinyin; longest first.
CHINESE_TERMS: dict[str, str] = {
    "集成电路": "integrated circuit", "半导体": "semiconductor", "微电子": "microelectronic",
    "科学技术": "science technology", "科技": "technology", "技术": "technology", "信息": "information",
    "电子": "electronic", "计算机": "computer", "软件": "software", "网络": "network", "通信": "communication",
    "通讯": "communication", "智能": "intelligent", "人工智能": "artificial intelligence", "数据": "data",
    "国际": "international", "贸易": "trading", "进出口": "import export", "研究院": "research institute",
    "研究所": "research institute", "研究中心": "research center", "研发": "research development",
    "中心": "center", "发展": "development", "开发": "development", "工业": "industry", "产业": "industry",
    "实业": "industry", "制造": "manufacturing", "设备": "equipment", "装备": "equipment", "系统": "system",
    "投资": "investment", "精密": "precision", "光电": "optoelectronic", "材料": "material",
    "仪器": "instrument", "先进": "advanced", "大学": "university", "科学院": "academy science",
    "工程": "engineering", "服务": "service", "物流": "logistics", "电气": "electric", "光学": "optical",
    "航空": "aviation", "航天": "aerospace", "中国": "china", "香港": "hong kong", "澳门": "macau",
    "台湾": "taiwan", "北京": "beijing", "上海": "shanghai", "深圳": "shenzhen", "天津": "tianjin",
    "广州": "guangzhou", "杭州": "hangzhou", "南京": "nanjing", "武汉": "wuhan", "成都": "chengdu",
    "重庆": "chongqing", "西安": "xian", "苏州": "suzhou", "无锡": "wuxi", "合肥": "hefei", "长沙": "changsha",
    "珠海": "zhuhai", "东莞": "dongguan", "青岛": "qingdao", "大连": "dalian", "济南": "jinan",
    "哈尔滨": "harbin", "厦门": "xiamen",
}
