"""Routing: category and keywords (jieba tokens) → the suggested department."""

from __future__ import annotations

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
