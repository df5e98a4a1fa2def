"""The entries' thesaurus concepts indexed beside their words (issue 16): kb_entries.con_head /
con_body written on import and refilled by `reindex_concepts` (entries indexed before the
migration); on PostgreSQL a search also takes the entries whose concepts match the query's
although they share no word with it (the index's tsvector `csv`)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from callcenter.entry.seed import seed_reference
from callcenter.kb import search as kb_search
from callcenter.kb import services as kb
from callcenter.store.db import Database
from tests.conftest import FIXTURES

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
