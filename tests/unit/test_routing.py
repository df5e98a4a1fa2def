"""Routing: category and keywords (jieba tokens) → the suggested department."""

from __future__ import annotations

import random

from callcenter.cases import routing
from callcenter.cases.routing import Rule, suggest

RULES = [
    Rule(1, department_id=10, category_id=None, keywords=("路灯", "井盖"), priority=5),
    Rule(2, department_id=20, category_id=7, keywords=("和平街道",), priority=10),
    Rule(3, department_id=30, category_id=7, keywords=(), priority=0),
]


def test_a_keyword_rule_wins_when_its_word_is_in_the_content() -> None:
    assert suggest(RULES, 1, 99, "小区门口路灯不亮已经一周") == 10


def test_without_a_matching_keyword_the_category_rule_or_default_applies() -> None:
    assert suggest(RULES, 7, 99, "电梯故障无人维修") == 30
    assert suggest(RULES, 1, 99, "电梯故障无人维修") == 99


def test_a_higher_priority_keyword_rule_of_the_category_beats_a_general_one() -> None:
    assert suggest(RULES, 7, 99, "和平街道的路灯坏了") == 20


def test_a_keyword_the_dictionary_would_split_is_still_found() -> None:
    # jieba alone segments 路灯不亮 as 路 / 灯不亮; the rules' keywords join its dictionary
    assert suggest(RULES, 1, 99, "路灯不亮好几天了") == 10


def test_segmenting_only_the_blocks_holding_a_keyword_finds_the_same_keyword_tokens() -> None:
    # the hot path segments only the parts of a complaint where a rule's word occurs: on mixed
    # texts (punctuation, digits, Latin letters, words inside longer words) the keywords found
    # must be exactly those the whole text's tokens hold
    words = ("路灯", "噪音", "物业", "水", "电", "停车", "垃圾", "漏水", "施工", "占道", "小区", "12345", "油烟")
    routing.add_words(words)
    texts = ["市民来电反映：小区路灯不亮，物业不管。", "楼上漏水，电梯停运；12345已反映多次!",
             "施工噪音扰民（夜间22点后），占道停车严重", "ABC物业公司水费乱收费，水电费"]
    rnd = random.Random(12345)
    alphabet = "市民来电反映路灯不亮噪音扰民物业公司小区停车难垃圾漏水施工占道油烟，。！？ 、abc123水电"
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(5, 120))) for _ in range(500)]
    for text in texts:
        assert routing.tokens(routing.blocks_with(text, words)) & set(words) == routing.tokens(text) & set(words), text
