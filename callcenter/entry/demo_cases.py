"""Demo cases: a few weeks of a small hotline's work, so `make demo` opens on a console with
something in it — the wall's figures and charts, a clerk's inbox with deadlines, callbacks due,
overdue cases to urge, an extension waiting, a whistleblower's case.

Every case goes through the real use cases (`services.register` / `services.act`) at the moment
it would have happened (`now=`), so each has its complete audit trail and its deadlines come
from the working-day calendar and `sla_rules`. Deterministic for a given seed; added only to a
store without cases.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select

from callcenter.cases import services
from callcenter.cases.workflow import Actor
from callcenter.core.clock import TZ
from callcenter.core.errors import Conflict, Invalid
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import Department, Kind, Role, Ticket, User

NAMES = ["王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "赵敏", "黄磊", "周婷", "吴强", "徐丽", "孙浩",
         "胡军", "朱琳", "高峰", "林芳", "何勇", "郭敏", "马超", "罗娟"]
PLACES = ["和平街道幸福小区", "响水乡政府旁", "体育西路", "建设路 18 号", "人民广场", "滨江花园", "工业园区二期",
          "金色家园", "车站北路", "城南菜市场"]
# (kind, category, what citizens say) — the categories are the seed's (callcenter/entry/seed.py)
MATTERS = [
    (Kind.complaint, "物业管理", "小区电梯经常停运，物业公司迟迟不修"),
    (Kind.complaint, "物业管理", "物业费上涨没有公示，业主不认可"),
    (Kind.complaint, "城市管理", "路边井盖松动，车辆经过响声很大"),
    (Kind.complaint, "城市管理", "夜市占道经营，垃圾堆在人行道上"),
    (Kind.complaint, "环境保护", "工地夜间施工噪音扰民，凌晨还在打桩"),
    (Kind.complaint, "环境保护", "餐馆油烟直排，楼上住户开不了窗"),
    (Kind.complaint, "供水供电", "小区停水两天，没有任何通知"),
    (Kind.complaint, "道路交通", "路口红绿灯坏了，早高峰很危险"),
    (Kind.complaint, "拆迁补偿", "拆迁补偿款迟迟没有到位"),
    (Kind.help, "民政救助", "家中老人独居生病，想申请临时救助"),
    (Kind.consultation, "公积金", "公积金提取需要带哪些材料"),
    (Kind.consultation, "户籍办理", "孩子落户需要什么手续"),
    (Kind.consultation, "教育入学", "小学入学报名的时间和材料"),
    (Kind.consultation, "医疗养老保险", "灵活就业人员怎么交养老保险"),
    (Kind.consultation, "不动产登记", "二手房过户需要预约吗"),
    (Kind.suggestion, "道路交通", "建议在学校门口增设减速带"),
    (Kind.praise, "城市管理", "表扬城管队员帮忙找回走失老人"),
]
ANSWERS = {
    "公积金": "已告知：身份证、银行卡及提取证明材料，可在政务服务中心 3 号窗口办理。",
    "户籍办理": "已告知落户所需的出生医学证明、父母户口簿及结婚证，公安分局户政科办理。",
    "教育入学": "已告知报名时间为每年 6 月，材料为户口簿、房产证明及预防接种证。",
    "医疗养老保险": "已告知可在人社服务窗口或线上办理灵活就业参保登记。",
    "不动产登记": "已告知需线上预约，携带双方身份证及房产证办理。",
}
RESOLUTIONS = ["已现场核实并督促责任单位整改完毕，已电话回复市民。", "经协调，问题已于当日解决，市民表示认可。",
               "已约谈责任方，限期整改，并安排专人跟踪。", "已派员维修完毕，后续加强巡查。"]


def _at(day: datetime, rng: random.Random) -> datetime:
    """A working moment of that Shanghai day (08:30–20:00), in UTC."""
    minute = rng.randrange(8 * 60 + 30, 20 * 60)
    return datetime.combine(day.date(), time(minute // 60, minute % 60), TZ).astimezone(UTC)


async def seed_cases(db: Database, now: datetime | None = None, *, days: int = 40, per_day: int = 14,
                     seed: int = 12345) -> int:
    """Register and move about `days × per_day` cases ending at `now`; returns how many were
    added (0 when the store already has cases)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    rng = random.Random(seed)
    async with db.session() as s:
        if (await s.execute(select(func.count()).select_from(Ticket))).scalar_one():
            return 0
        users = {u.username: u for u in (await s.scalars(select(User))).all()}
        departments = {d.id: d for d in (await s.scalars(select(Department))).all()}
    operators = [actor_of(u) for u in users.values() if u.role is Role.operator] or [
        Actor(id=None, name="话务员", role=Role.operator)]
    supervisor = next((actor_of(u) for u in users.values() if u.role is Role.supervisor),
                      Actor(id=None, name="班长", role=Role.supervisor))
    clerks = {u.department_id: actor_of(u) for u in users.values() if u.role is Role.clerk}

    def clerk(dep_id: int) -> Actor:
        return clerks.get(dep_id) or Actor(id=None, name=f"{departments[dep_id].name}承办人", role=Role.clerk,
                                           department_id=dep_id)

    callers = [(f"1{rng.choice('3578')}{rng.randrange(10**8, 10**9)}", rng.choice(NAMES)) for _ in range(300)]
    added = 0
    for back in range(days, -1, -1):
        day = now - timedelta(days=back)
        for _ in range(max(1, int(rng.gauss(per_day, 3)))):
            at = _at(day, rng)
            if at > now:
                continue
            kind, category, words = rng.choice(MATTERS)
            phone, name = rng.choice(callers[:60] if rng.random() < 0.2 else callers)  # some call again
            report = rng.random() < 0.02
            if report:
                kind, category, words = Kind.report, "城市管理", "举报某执法队员在占道整治中收受摊贩好处"
            op = rng.choice(operators)
            t = await services.register(db, op, services.NewTicket(
                kind=kind, category=category, content=f"{PLACES[rng.randrange(len(PLACES))]}：{words}",
                caller_phone=phone, caller_name=name, address=rng.choice(PLACES), confidential=report,
                urgent=rng.random() < 0.05, source="phone"), now=at)
            added += 1
            try:
                await _move(db, rng, t, at, now, op, supervisor, clerk)
            except (Conflict, Invalid):  # a step the rules refuse at that moment: the case stays where it is
                pass
    # the cases were written with their own (past) times as updated_at: the report rollups,
    # which follow updated_at, are rebuilt rather than refreshed (reports/rollup.py)
    from reports.rollup import refresh_rollups

    await refresh_rollups(db, datetime.now(UTC), rebuild=True)
    return added


async def _move(db: Database, rng: random.Random, t: Ticket, at: datetime, now: datetime, op: Actor,
                supervisor: Actor, clerk: object) -> None:
    """The case's life after registration, each step at its moment, none after `now`."""
    async def step(actor: Actor, action: str, params: dict[str, object], when: datetime) -> bool:
        nonlocal t
        if when > now:
            return False
        t = await services.act(db, actor, t.number, action, None, params, now=when)
        return True

    answer = ANSWERS.get(await _category_name(db, t) or "")
    if answer and rng.random() < 0.85:  # a consultation answered on the call (else dispatched)
        await step(op, "answer", {"answer": answer}, at + timedelta(minutes=4))
        when = at + timedelta(days=1, hours=rng.randrange(1, 6))
        if rng.random() < 0.6 and await _callback(step, rng, op, when) == "dissatisfied":
            # 重办 of a direct answer: the hotline answers again, in more detail, and calls back
            if await step(op, "answer", {"answer": answer + "（重办：已再次详细告知办理流程和窗口电话）"},
                          when + timedelta(hours=1)):
                await _callback(step, rng, op, when + timedelta(days=1), weights=(60, 30, 5, 5))
        return
    dep = t.suggested_department_id
    if dep is None:
        return
    if not await step(op, "dispatch", {"department_id": dep}, at + timedelta(minutes=6)):
        return
    c = clerk(dep)  # type: ignore[operator]
    if not await step(c, "accept", {}, at + timedelta(hours=rng.uniform(0.5, 20))):
        return
    earliest = at  # no step before the last one
    if rng.random() < 0.05 and t.due_at is not None and at + timedelta(days=2) < t.due_at:
        # asks for more time; the supervisor decides the next day (the last days' wait on the wall)
        ask = at + timedelta(days=2)
        if not await step(c, "request_extension",
                          {"until": t.due_at + timedelta(days=5), "reason": "需协调多个部门现场处理"}, ask):
            return
        if not await step(supervisor, "decide_extension", {"approve": rng.random() < 0.85}, ask + timedelta(days=1)):
            return
        earliest = ask + timedelta(days=1, hours=2)
    late = rng.random() < 0.12
    took = timedelta(days=rng.uniform(1, 6)) if not late else (t.due_at - at if t.due_at else timedelta(days=8)) + \
        timedelta(days=rng.uniform(0.5, 4))
    took = max(took, earliest - at)
    if not await step(c, "resolve", {"resolution": rng.choice(RESOLUTIONS)}, at + took):
        if t.due_at is not None and t.due_at < now and rng.random() < 0.5:  # overdue: the supervisor urges
            await step(supervisor, "urge", {"note": "已超期，请加快办理并报告进展"}, t.due_at + timedelta(hours=2))
        return
    if rng.random() < 0.92:
        when = at + took + timedelta(days=1, hours=rng.randrange(1, 6))
        if await _callback(step, rng, op, when) == "dissatisfied":  # 重办: resolved again, called again
            again = when + timedelta(days=rng.uniform(1, 4))
            if await step(c, "resolve", {"resolution": "重办：已再次现场处理，问题已解决。"}, again):
                await _callback(step, rng, op, again + timedelta(days=1), weights=(60, 30, 5, 5))


async def _callback(step, rng: random.Random, op: Actor, when: datetime,  # type: ignore[no-untyped-def]
                    weights: tuple[int, ...] = (70, 15, 6, 9)) -> str | None:
    outcome = rng.choices(["satisfied", "basically", "dissatisfied", "unreachable"], weights)[0]
    params: dict[str, object] = {"outcome": outcome}
    if outcome != "unreachable":
        params["solved"] = outcome != "dissatisfied"
        params["words"] = {"satisfied": "满意，处理及时", "basically": "基本满意", "dissatisfied": "问题没有解决"}[outcome]
    return outcome if await step(op, "callback", params, when) else None


async def _category_name(db: Database, t: Ticket) -> str | None:
    ref = await db.ref()
    c = ref.categories.get(t.category_id)
    return c.name if c else None
