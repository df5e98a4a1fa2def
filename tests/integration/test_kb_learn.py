"""The knowledge base learns callers' phrasings (issue 16): an operator's search text when they
answer a case with an entry, and the registry's 直接答复 cases (`kb learn --from-history`),
proposed to the entry's department, published (then searched like 常见问法) or rejected — on
SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callcenter.cases.services import NewTicket, register
from callcenter.core.errors import Conflict, Forbidden
from callcenter.kb import learn as kb_learn
from callcenter.kb import services as kb
from callcenter.store.db import Database
from callcenter.store.models import KbPhrasing, Ticket
from tests.conftest import FIXTURES, Personas
from tests.integration.test_kb import actor

ENTRIES = FIXTURES / "samples" / "kb-entries.csv"
ROOT = Path(__file__).resolve().parents[2]
# a caller's words for KB0015 (小区电梯经常故障没人修怎么办？) sharing no word with the entry
SAID = "老李家楼栋那台三菱又趴窝了"


async def _case(db: Database, who: object, content: str) -> str:
    t = await register(db, actor(who), NewTicket(kind="consultation", category="物业管理",  # type: ignore[arg-type]
                                                   content=content))
    return t.number


async def _rank(db: Database, q: str, code: str) -> int | None:
    ids = [h["id"] for h in await kb.search(db, q, limit=10)]
    return ids.index(code) + 1 if code in ids else None


async def test_search_text_proposed_reviewed_by_the_department_then_found(database: Database,
                                                                          personas: Personas) -> None:
    await kb.import_file(database, ENTRIES)
    lina, zhangwei, wangfang = actor(personas.lina), actor(personas.zhangwei), actor(personas.wangfang)
    assert await _rank(database, SAID, "KB0015") != 1  # not found first before it is learned

    number = await _case(database, personas.lina, "电梯坏了")
    await kb.answer_case(database, lina, "KB0015", number, search_text=f"  {SAID} 电话13912345678 ")
    # the same words once more on another case: counted, not a second row
    await kb.answer_case(database, lina, "KB0015", await _case(database, personas.lina, "电梯又坏"),
                         search_text=SAID + " 电话13912345678")
    # an entry's own phrasing, or two characters, is nothing to learn
    await kb.answer_case(database, lina, "KB0015", await _case(database, personas.lina, "电梯"),
                         search_text="电梯坏了物业不修")
    await kb.answer_case(database, lina, "KB0015", await _case(database, personas.lina, "电梯"), search_text="电梯")

    # proposed to KB0015's department (住建局): its clerk sees it, another department's does not
    mine = await kb_learn.pending(database, zhangwei)
    assert [(r["code"], r["text"], r["seen"], r["source"]) for r in mine] == [
        ("KB0015", f"{SAID} 电话…", 2, "search")]  # the telephone number masked
    assert await kb_learn.pending(database, wangfang) == []
    with pytest.raises(Forbidden):
        await kb_learn.review(database, wangfang, mine[0]["id"], True)
    with pytest.raises(Forbidden):
        await kb_learn.pending(database, lina)  # operators propose, they do not review

    await kb_learn.review(database, zhangwei, mine[0]["id"], True)
    with pytest.raises(Conflict):
        await kb_learn.review(database, zhangwei, mine[0]["id"], False)
    # published: searched like the entry's 常见问法
    assert await _rank(database, SAID, "KB0015") == 1
    assert await _rank(database, "楼栋那台三菱又趴窝", "KB0015") == 1
    hit = (await kb.search(database, SAID, limit=1))[0]
    assert hit["learned"] == [f"{SAID} 电话…"] and "<mark>" in hit["snippet_html"]
    e = await kb.get(database, "KB0015")
    assert e.learned == f"{SAID} 电话…" and e.phrasings.count("|") == 2  # the official ones unchanged

    # a new version of the entry keeps what was learned in the index
    f = kb.EntryFields(title=e.title, answer=e.answer + "（更新）", phrasings=e.phrasings.split("|"),
                       category=e.category, department=e.department_id)
    await kb.revise(database, zhangwei, "KB0015", f)
    await kb.submit(database, zhangwei, "KB0015")
    await kb.publish(database, actor(personas.chenjing), "KB0015")
    assert await _rank(database, SAID, "KB0015") == 1


async def test_rejected_phrasing_is_not_searched(database: Database, personas: Personas) -> None:
    await kb.import_file(database, ENTRIES)
    lina, sup = actor(personas.lina), actor(personas.chenjing)
    await kb.answer_case(database, lina, "KB0015", await _case(database, personas.lina, "x电梯"), search_text=SAID)
    (row,) = await kb_learn.pending(database, sup)  # a supervisor reviews any department's
    await kb_learn.review(database, sup, row["id"], False)
    assert await kb_learn.pending(database, sup) == []
    assert [r["text"] for r in await kb_learn.pending(database, sup, status="rejected")] == [SAID]
    assert await _rank(database, SAID, "KB0015") != 1


async def test_learn_from_history(database: Database, personas: Personas) -> None:
    await kb.import_file(database, ENTRIES)
    lina = actor(personas.lina)
    said = "那台三菱趴窝三回了 一家人爬二十层"
    assert await _rank(database, said, "KB0015") != 1
    n1 = await _case(database, personas.lina, said)
    await kb.answer_case(database, lina, "KB0015", n1)  # no search text: the case's 诉求内容 is learned later
    n2 = await _case(database, personas.lina, "举报物业把电梯维修费挪用了 我是业主不想透露姓名")
    async with database.transaction() as s:
        await s.execute(update(Ticket).where(Ticket.number == n2).values(confidential=True))
    await kb.answer_case(database, lina, "KB0015", n2)
    rep = await kb_learn.learn_from_history(database)
    assert (rep.cases, rep.proposed, rep.skipped) == (2, 1, 1)  # the confidential case never used
    again = await kb_learn.learn_from_history(database)
    assert (again.proposed, again.again) == (0, 1)  # a re-run proposes nothing twice
    async with database.session() as s:
        rows = (await s.execute(select(KbPhrasing))).scalars().all()
    assert [(r.text, r.source, r.seen) for r in rows] == [(said, "history", 1)]
    clerk = actor(personas.zhangwei)  # KB0015's department (住建局) reviews
    (row,) = await kb_learn.pending(database, clerk)
    await kb_learn.review(database, clerk, row["id"], True)
    assert await _rank(database, said, "KB0015") == 1


def test_cli_learn_from_history(sqlite_template: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, db_path)
    env = {**os.environ, "HOTLINE_DATABASE_URL": f"sqlite:///{db_path}", "HOTLINE_DATA_DIR": str(tmp_path)}
    prog = "import sys; from callcenter.kb.cli import app; app(prog_name='kb')"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", prog, *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=ROOT)

    r = run("learn")
    assert r.returncode == 2 and "--from-history" in r.stderr
    r = run("learn", "--from-history", "--since", "yesterday")
    assert r.returncode == 2 and "not a date" in r.stderr
    r = run("learn", "--from-history")
    assert r.returncode == 0, r.stderr
    assert "direct answers read 0: proposed 0" in r.stdout


async def test_near_duplicates_show_what_tells_them_apart(database: Database, personas: Personas) -> None:
    await kb.import_file(database, ENTRIES)
    hits = {h["id"]: h for h in await kb.search(database, "公积金租房能取吗", limit=6)}
    # 住房公积金什么情况下可以提取 / 买房怎么申请住房公积金贷款: their own words, not what they share
    assert "提取" in hits["KB0091"]["distinct"] and "公积金" not in hits["KB0091"]["distinct"]
    assert "贷款" in hits["KB0092"]["distinct"]
    # the query's distinguishing word decides between the two
    assert (await kb.search(database, "公积金贷款", limit=1))[0]["id"] == "KB0092"
    assert (await kb.search(database, "公积金提取", limit=1))[0]["id"] == "KB0091"
    # an entry with no near-duplicate among the hits shows nothing
    lone = await kb.search(database, "路灯不亮", limit=1)
    assert lone[0]["id"] == "KB0081" and lone[0]["distinct"] == []
