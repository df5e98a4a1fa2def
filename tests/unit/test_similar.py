"""Likely duplicates (并单 proposals, callcenter/cases/similar.py) on SQLite and PostgreSQL: which
cases are proposed for a draft registration, with which reasons, in which order; never merged,
invalid or closed cases, nor old ones outside the window; a clerk sees only their department's;
a 干部举报 / confidential case is never found by the caller's number and never shows who
called or what they said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.cases import services, similar
from callcenter.cases.services import NewTicket
from callcenter.core.errors import Invalid
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import Kind, Status
from tests.conftest import Personas

NOW = datetime(2025, 6, 10, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Asia/Shanghai
CALLER = "13912345678"
NOISE = "幸福小区旁边的工地晚上施工噪音很大，凌晨两点还在打桩，严重影响休息"
DRAFT_NOISE = "幸福小区对面那个工地半夜还在打桩施工 吵得睡不着"


async def reg(db: Database, p: Personas, content: str, *, days_ago: float = 1, category: str = "环境保护",
              phone: str | None = None, name: str | None = None, address: str | None = None,
              area: str | None = None, kind: Kind = Kind.complaint, confidential: bool = False) -> str:
    t = await services.register(db, actor_of(p.lina), NewTicket(  # type: ignore[arg-type]
        kind=kind, category=category, content=content, caller_phone=phone, caller_name=name, address=address,
        area=area, confidential=confidential), now=NOW - timedelta(days=days_ago))
    return t.number


async def act(db: Database, who: object, number: str, action: str, days_ago: float = 0.5, **params: object) -> None:
    await services.act(db, actor_of(who), number, action, None, params,  # type: ignore[arg-type]
                       now=NOW - timedelta(days=days_ago))


async def find(db: Database, who: object, **draft: str) -> list[similar.Candidate]:
    return await similar.find(db, actor_of(who), similar.Draft(**draft), now=NOW)  # type: ignore[arg-type]


def numbers(cands: list[similar.Candidate]) -> list[str]:
    return [c.number for c in cands]


async def test_similar_content_in_the_window_is_proposed_with_its_reasons(database: Database,
                                                                          personas: Personas) -> None:
    p = personas
    noisy = await reg(database, p, NOISE, address="和平街道幸福小区3栋", days_ago=2)
    await reg(database, p, "小区电梯坏了三天了物业一直不修，老人上下楼很困难", category="物业管理")
    await reg(database, p, "幸福小区自来水管爆裂，整栋楼停水", category="供水供电")
    old = await reg(database, p, NOISE, days_ago=similar.RECENT_DAYS + 1)  # still open, but weeks old

    got = await find(database, p.lina, text=DRAFT_NOISE, category="环境保护")
    assert numbers(got) == [noisy]
    c = got[0]
    assert c.signals == {"content", "category"}
    assert any(r.startswith("内容相似 0.") for r in c.reasons) and "同一问题分类" in c.reasons
    assert 0 < c.score <= 1 and c.similarity >= similar.SIM_MIN
    assert c.status == "registered" and c.category == "环境保护" and c.excerpt and c.excerpt.startswith("幸福小区")
    assert old not in numbers(got)

    # another category does not hide it: the draft's keywords pull it in, without the category's weight
    got = await find(database, p.lina, text=DRAFT_NOISE, category="城市管理")
    assert numbers(got) == [noisy] and "同一问题分类" not in got[0].reasons

    # the address alone: same estate, another building → 地址相近; the same address → 地址相同, scored higher
    near = await find(database, p.lina, address="和平街道 幸福小区5栋")
    assert numbers(near) == [noisy] and near[0].reasons == ["地址相近"]
    same = await find(database, p.lina, address="和平街道幸福小区３栋")  # full-width digit
    assert same[0].reasons == ["地址相同"] and same[0].score > near[0].score
    both = await find(database, p.lina, address="和平街道幸福小区3栋", text=DRAFT_NOISE, category="环境保护")
    assert both[0].score > max(same[0].score, got[0].score)

    # nothing typed that could match: nothing proposed (a category alone is no reason)
    assert await find(database, p.lina, category="环境保护") == []
    assert await find(database, p.lina, text="想咨询一下公积金怎么提取") == []


async def test_the_callers_open_and_recently_resolved_cases(database: Database, personas: Personas) -> None:
    p = personas
    months_open = await reg(database, p, "楼上漏水到我家", category="物业管理", phone=CALLER, name="赵先生",
                            days_ago=40)
    answered = await reg(database, p, "咨询居住证办理", category="办理证照", phone="+86 139-1234-5678", days_ago=3)
    await act(database, p.lina, answered, "answer", days_ago=2.5, answer="带身份证到政务中心办理")
    long_answered = await reg(database, p, "咨询社保转移", category="医疗养老保险", phone=CALLER, days_ago=30)
    await act(database, p.lina, long_answered, "answer", days_ago=29, answer="到人社局窗口办理")
    closed = await reg(database, p, "咨询户口迁移", category="户籍办理", phone=CALLER, days_ago=2)
    await act(database, p.lina, closed, "answer", days_ago=1.9, answer="带户口本办理")
    await act(database, p.chenjing, closed, "close", days_ago=1.8)
    merged = await reg(database, p, "楼上漏水", category="物业管理", phone=CALLER, days_ago=1)
    await act(database, p.lina, merged, "merge", days_ago=0.9, into=months_open)
    invalid = await reg(database, p, "无声电话", category="物业管理", phone=CALLER, days_ago=1)
    await act(database, p.lina, invalid, "invalidate", days_ago=0.9, reason="无声")
    await reg(database, p, "楼上漏水", category="物业管理", phone="13800000000", days_ago=1)  # someone else

    got = await find(database, p.lina, phone="139 1234 5678")
    assert set(numbers(got)) == {months_open, answered}  # never closed, merged, invalid; not long resolved
    by = {c.number: c for c in got}
    assert by[months_open].reasons == ["同一来电号码 40 天内"]
    assert by[answered].reasons == ["同一来电号码 3 天内"] and by[answered].status == "answered"
    assert by[months_open].caller_name == "赵先生" and by[months_open].caller_phone == "139****5678"
    assert numbers(got)[0] == answered  # equal scores: the newer first

    # the caller and the content together rank the caller's matching case first
    got = await find(database, p.lina, phone=CALLER, text="楼上卫生间漏水 渗到我家天花板", category="物业管理")
    assert numbers(got)[0] == months_open
    assert {"caller", "content"} <= got[0].signals
    assert merged not in numbers(got) and invalid not in numbers(got)

    # a number that is no number finds nothing by number (and is no error: the operator is typing)
    assert await find(database, p.lina, phone="139") == []


async def test_a_confidential_case_never_leaks_its_caller(database: Database, personas: Personas) -> None:
    p = personas
    report = await reg(database, p, "举报和平街道城管队员收受摊贩好处费，纵容占道经营", category="城市管理",
                       kind=Kind.report, phone=CALLER, name="钱女士", address="和平街道菜市场")
    secret = await reg(database, p, "幸福小区工地夜间施工噪音扰民，我是施工方员工，请为我保密", phone=CALLER,
                       name="孙先生", address="和平街道幸福小区", confidential=True)
    assert (await services.get(database, actor_of(p.lina), report, record_view=False)).confidential  # type: ignore[arg-type]

    # the number alone never finds a whistleblower's case (it would tell who reported)
    assert await find(database, p.lina, phone=CALLER) == []

    # found by what it is about: number, category, status and time only — no name, phone, address
    # or content; and no 同一来电号码 even though the number is the same
    got = await find(database, p.lina, phone=CALLER, text="城管队员收好处费 纵容占道经营", address="和平街道菜市场")
    assert numbers(got) == [report]
    c = got[0]
    assert c.confidential and c.kind == "report"
    assert c.caller_name is None and c.caller_phone is None and c.address is None and c.excerpt is None
    assert not any("来电号码" in r for r in c.reasons) and "caller" not in c.signals
    assert c.category == "城市管理" and c.status == "registered" and c.registered_at

    got = await find(database, p.lina, phone=CALLER, text=DRAFT_NOISE)
    assert numbers(got) == [secret] and got[0].confidential and got[0].excerpt is None
    assert got[0].caller_name is None and got[0].caller_phone is None


async def test_a_clerk_sees_only_their_departments_cases(database: Database, personas: Personas) -> None:
    p = personas
    ours = await reg(database, p, NOISE, category="物业管理")
    await act(database, p.lina, ours, "dispatch", department="zjj")  # 住建局: 张伟's
    theirs = await reg(database, p, NOISE, category="城市管理")
    await act(database, p.lina, theirs, "dispatch", department="cgj")  # 城管局: 王芳's
    undispatched = await reg(database, p, NOISE)

    assert set(numbers(await find(database, p.lina, text=DRAFT_NOISE))) == {ours, theirs, undispatched}
    assert numbers(await find(database, p.zhangwei, text=DRAFT_NOISE)) == [ours]
    assert numbers(await find(database, p.wangfang, text=DRAFT_NOISE)) == [theirs]


async def test_at_most_five_best_first_and_bad_input(database: Database, personas: Personas) -> None:
    p = personas
    for i in range(7):
        await reg(database, p, f"幸福小区工地夜间施工噪音扰民 第{i}次反映", days_ago=1 + i / 10)
    best = await reg(database, p, NOISE, address="和平街道幸福小区3栋", days_ago=3)
    got = await find(database, p.lina, text=DRAFT_NOISE, address="和平街道幸福小区3栋", category="环境保护")
    assert len(got) == similar.LIMIT and got[0].number == best
    assert [c.score for c in got] == sorted((c.score for c in got), reverse=True)

    with pytest.raises(Invalid) as e:
        await find(database, p.lina, text=DRAFT_NOISE, category="没有这个分类")
    assert e.value.field == "category" and "没有这个分类" in e.value.message


def test_keywords_addresses_and_similarity() -> None:
    kw = similar.keywords("市民来电反映：幸福小区工地晚上施工噪音很大，希望尽快处理！")
    assert {"幸福", "小区", "工地", "施工", "噪音"} <= kw
    assert not kw & {"市民", "来电", "反映", "希望", "尽快", "处理", "，", "！"}  # stop words, punctuation
    assert similar.keywords("  ") == frozenset()

    n = similar.normalize_address
    assert n(" 和平街道　幸福小区（东门）3-2号 ") == "和平街道幸福小区东门32"
    assert similar.address_match(n("幸福小区3栋"), n("幸福小区 3栋")) == "same"
    assert similar.address_match(n("和平街道幸福小区3栋"), n("和平街道幸福小区5栋")) == "near"
    assert similar.address_match(n("和平街道幸福小区"), n("湘潭市和平街道幸福小区2栋")) == "near"
    assert similar.address_match(n("和平街道幸福小区"), n("和平街道金霞路")) is None
    assert similar.address_match("", n("幸福小区")) is None

    a, b, c = (similar.keywords(t) for t in (NOISE, DRAFT_NOISE, "小区电梯坏了物业不修"))
    idf = similar.pool_idf([a, c])
    assert similar.cosine(b, a, idf) > similar.SIM_MIN > similar.cosine(b, c, idf)
    assert similar.cosine(a, a, idf) == pytest.approx(1.0)


async def test_the_pool_skips_final_states_even_when_recent(database: Database, personas: Personas) -> None:
    """Merged, invalid, closed and resolved cases of other callers are never in the content pool."""
    p = personas
    target = await reg(database, p, NOISE, days_ago=3)
    dup = await reg(database, p, NOISE, days_ago=2)
    await act(database, p.lina, dup, "merge", days_ago=1.9, into=target)
    answered = await reg(database, p, NOISE, days_ago=2)
    await act(database, p.lina, answered, "answer", days_ago=1.9, answer="已转告施工方")
    got = await find(database, p.lina, text=DRAFT_NOISE)
    assert numbers(got) == [target]
    async with database.session() as s:
        from sqlalchemy import select

        from callcenter.store.models import Ticket

        st = dict((await s.execute(select(Ticket.number, Ticket.status))).all())
    assert st[dup] is Status.merged and st[answered] is Status.answered
