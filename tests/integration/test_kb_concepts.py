"""The entries' thesaurus concepts indexed beside their words (issue 16): kb_entries.con_head /
con_body written on import and refilled by `reindex_concepts` (entries indexed before the
migration); on PostgreSQL a search also takes the entries whose concepts match the query's
although they share no word with it (the index's tsvector `csv`)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from callcenter.entry.seed import seed_reference
from callcenter.kb import learn as kb_learn
from callcenter.kb import search as kb_search
from callcenter.kb import services as kb
from callcenter.store.db import Database
from tests.conftest import FIXTURES, Personas
from tests.integration.test_kb import actor
from tests.integration.test_kb_learn import SAID, _case

ENTRIES = FIXTURES / "samples" / "kb-entries.csv"


async def _concepts(db: Database) -> dict[str, tuple[str, str]]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT code, con_head, con_body FROM kb_entries"))).all()
    return {c: (h, b) for c, h, b in rows}


async def test_import_indexes_concepts_and_reindex_refills(database: Database) -> None:
    await seed_reference(database)
    await kb.import_file(database, ENTRIES)
    got = await _concepts(database)
    assert len(got) == 100 and all(h and b for h, b in got.values())
    # 房屋 (KB0001's title: 集体土地上房屋拆迁的补偿标准是多少？) is in the thesaurus: its atom and word group are there
    head = set(got["KB0001"][0].split())
    atoms = {c[:7] for c in kb_search.kb_thesaurus.thesaurus().codes("房屋")}
    assert atoms and atoms <= head and {a[:5] for a in atoms} <= head
    # an entry indexed before the concepts were (the migration leaves them empty) is filled again
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE kb_entries SET con_head = '', con_body = '' WHERE code IN ('KB0001', 'KB0002')"))
    assert await kb.reindex_concepts(database) == 2
    assert await _concepts(database) == got
    assert await kb.reindex_concepts(database) == 0


def _codes(*words: str) -> set[str]:
    th = kb_search.kb_thesaurus.thesaurus()
    atoms = {c[:7] for w in words for c in th.codes(w)}
    return atoms | {a[:5] for a in atoms}


async def test_learned_phrasing_and_new_version_keep_concepts_in_step(database: Database,
                                                                      personas: Personas) -> None:
    await kb.import_file(database, ENTRIES)
    lina, zhangwei = actor(personas.lina), actor(personas.zhangwei)
    before = set((await _concepts(database))["KB0015"][0].split())
    # a caller's phrasing learned and published: its words' concepts join the entry's head
    await kb.answer_case(database, lina, "KB0015", await _case(database, personas.lina, "电梯坏了"), search_text=SAID)
    [row] = await kb_learn.pending(database, zhangwei)
    await kb_learn.review(database, zhangwei, row["id"], True)
    learned = set((await _concepts(database))["KB0015"][0].split())
    said = set(kb_search.entry_concepts("", kb_search.index_text(SAID), "")["con_head"].split())
    assert said - before and said <= learned and before <= learned
    # a new version with a word the entry did not have (住宅): its concepts are indexed on publish
    e = await kb.get(database, "KB0015")
    assert not _codes("住宅") <= learned
    f = kb.EntryFields(title=e.title + "（住宅）", answer=e.answer, phrasings=e.phrasings.split("|"),
                       category=e.category, department=e.department_id)
    await kb.revise(database, zhangwei, "KB0015", f)
    await kb.submit(database, zhangwei, "KB0015")
    await kb.publish(database, actor(personas.chenjing), "KB0015")
    head = set((await _concepts(database))["KB0015"][0].split())
    assert _codes("住宅") <= head and said <= head


@pytest.mark.pg
async def test_postgres_finds_an_entry_by_concept_alone(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("the concept candidates are PostgreSQL's (SQLite re-ranks more candidates)")
    await seed_reference(database)
    await kb.import_file(database, ENTRIES)
    # a caller's words (收地, 楼房, 折算, 钞票): KB0001 (房屋拆迁的补偿, 我家房子要拆 …) is found by
    # their concepts (楼房 / 房子 in one word group), not by the index of words (asserted below)
    raw = "村里要收地 我那栋楼房能折算成几多钞票"
    [hits_on] = await kb.search_many(database, [raw], limit=5)
    assert "KB0001" in [h["id"] for h in hits_on]
    try:
        kb_search.CONCEPT_CANDIDATES = 0
        [hits_off] = await kb.search_many(database, [raw], limit=5)
    finally:
        kb_search.CONCEPT_CANDIDATES = 10
    assert "KB0001" not in [h["id"] for h in hits_off]
