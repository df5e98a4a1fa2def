"""Demo data: the departments, categories, routing rules and people of a development zone's
hotline (the sample 来电登记表's topics and offices). Idempotent: running it twice adds nothing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from callcenter.cases.workflow import SYSTEM
from callcenter.kb import services as kb
from callcenter.people.auth import hash_password
from callcenter.qa import services as qa
from callcenter.store.db import Database
from callcenter.store.models import Category, Department, KbEntry, QaChecklist, Role, RoutingRule, User

DEPARTMENTS = [
    ("zdcq", "征地拆迁办公室", "0731-58561023"),
    ("zjj", "住房和城乡建设局", "0731-58561100"),
    ("zwzx", "政务服务中心", "0731-58561200"),
    ("shsw", "社会事务局", "0731-58561300"),
    ("xsx", "响水乡人民政府", "0731-58561400"),
    ("hpjd", "和平街道办事处", "0731-58561500"),
    ("hbj", "环境保护局", "0731-58561600"),
    ("rsj", "人力资源和社会保障局", "0731-58561700"),
    ("czj", "财政局", "0731-58561800"),
    ("scj", "市场监督管理局", "0731-58561900"),
    ("gahz", "公安分局户政科", "0731-58562000"),
    ("jyj", "教育局", "0731-58562100"),
    ("gjj", "住房公积金管理部", "0731-58562200"),
    ("bdc", "不动产登记中心", "0731-58562300"),
    ("cgj", "城市管理和综合执法局", "0731-58562400"),
]

# category → (default department code, resolve working days override or None)
CATEGORIES = [
    ("拆迁补偿", "zdcq", None),
    ("物业管理", "zjj", None),
    ("办理证照", "zwzx", None),
    ("民政救助", "shsw", None),
    ("供水供电", "zjj", None),
    ("道路交通", "zjj", None),
    ("环境保护", "hbj", None),
    ("财税补贴", "czj", None),
    ("医疗养老保险", "rsj", None),
    ("市场监管", "scj", None),
    ("劳动就业", "rsj", None),
    ("户籍办理", "gahz", None),
    ("教育入学", "jyj", None),
    ("公积金", "gjj", None),
    ("不动产登记", "bdc", None),
    ("城市管理", "cgj", None),
]

# (department code, category or None, keywords, priority)
ROUTING = [
    ("cgj", None, "路灯 占道 违章搭建 渣土 乱摆摊 井盖", 5),
    ("hbj", None, "噪音 噪声 油烟 污水 排污 粉尘 异味", 5),
    ("xsx", "供水供电", "响水乡 响水", 10),
    ("hpjd", "道路交通", "和平街道 和平社区", 10),
    ("hpjd", "物业管理", "和平街道", 10),
    ("scj", None, "食品 假冒 过期 价格欺诈", 3),
]
# 属地 rules (issue 12): (department code, category or None, area the address must name, priority)
AREA_ROUTING = [
    ("hpjd", "物业管理", "和平街道", 10),
    ("hpjd", "道路交通", "和平街道", 10),
    ("xsx", "供水供电", "响水乡", 10),
]
# the places a department answers for, with their aliases (matched in the address)
DEPARTMENT_AREAS = {
    "hpjd": "和平街道 和平街 和平社区 和平街道办事处",
    "xsx": "响水乡 响水 响水村",
}

# username, display name, role, department code, seat
PEOPLE = [
    ("lina", "李娜", Role.operator, None, "8001"),
    ("zhaolei", "赵磊", Role.operator, None, "8002"),
    ("sunli", "孙丽", Role.operator, None, "8003"),
    ("zhoujie", "周杰", Role.operator, None, "8004"),
    ("wuhua", "吴华", Role.operator, None, "8005"),
    ("zhangwei", "张伟", Role.clerk, "zjj", None),
    ("wangfang", "王芳", Role.clerk, "cgj", None),
    ("liuyang", "刘洋", Role.clerk, "zdcq", None),
    ("chenjing", "陈静", Role.supervisor, None, None),
    ("admin", "管理员", Role.admin, None, None),
]
DEMO_PASSWORD = "hotline-demo"


async def seed_reference(db: Database) -> None:
    """Departments, categories and routing rules (no people)."""
    async with db.transaction() as s:
        have = {d.code: d for d in (await s.scalars(select(Department))).all()}
        for code, name, phone in DEPARTMENTS:
            if code not in have:
                have[code] = Department(code=code, name=name, phone=phone)
                s.add(have[code])
            if have[code].areas is None and code in DEPARTMENT_AREAS:
                have[code].areas = DEPARTMENT_AREAS[code]
        await s.flush()
        cats = {c.name: c for c in (await s.scalars(select(Category))).all()}
        for name, dep, days in CATEGORIES:
            if name not in cats:
                cats[name] = Category(name=name, default_department_id=have[dep].id, resolve_working_days=days)
                s.add(cats[name])
        await s.flush()
        if not (await s.execute(select(RoutingRule.id).limit(1))).first():
            for dep, cat, words, prio in ROUTING:
                s.add(
                    RoutingRule(
                        department_id=have[dep].id,
                        category_id=cats[cat].id if cat else None,
                        keywords=words,
                        priority=prio,
                    )
                )
        if not (await s.execute(select(RoutingRule.id).where(RoutingRule.area.is_not(None)).limit(1))).first():
            for dep, cat, area, prio in AREA_ROUTING:
                s.add(RoutingRule(department_id=have[dep].id, category_id=cats[cat].id if cat else None, keywords="",
                                  priority=prio, area=area))
    db.refcache.invalidate()


async def seed_people(db: Database, password: str = DEMO_PASSWORD) -> list[str]:
    added = []
    async with db.transaction() as s:
        deps = {d.code: d.id for d in (await s.scalars(select(Department))).all()}
        users = {u.username for u in (await s.scalars(select(User))).all()}
        for username, name, role, dep, seat in PEOPLE:
            if username in users:
                continue
            s.add(
                User(
                    username=username,
                    display_name=name,
                    role=role,
                    department_id=deps.get(dep) if dep else None,
                    password_hash=hash_password(password),  # a salt of its own per user
                    seat=seat,
                )
            )
            added.append(username)
    return added


async def seed_demo(db: Database) -> list[str]:
    await seed_reference(db)
    added = await seed_people(db)
    await seed_demo_checklist(db)
    return added


DEMO_CHECKLIST = ("话务质检表（示例）", "规范开头语与结束语 | 10\n准确记录诉求与地址 | 30\n正确选择分类与承办单位 | 20\n"
                  "告知办理时限与回访 | 20\n服务态度与语言规范 | 20\n泄露举报人或来电人信息 | 致命")


async def seed_demo_checklist(db: Database) -> bool:
    """A sample 质检 checklist in a demo store without one (the admin replaces it at /qa/checklists)."""
    async with db.session() as s:
        if (await s.execute(select(func.count()).select_from(QaChecklist))).scalar_one():
            return False
    await qa.create_checklist(db, SYSTEM, *DEMO_CHECKLIST)
    return True


DEMO_KB = Path(__file__).parent / "demo_data" / "kb-entries.csv"
ROLE_NAMES = {Role.operator: "话务员", Role.clerk: "承办人", Role.supervisor: "班长", Role.admin: "管理员"}


async def seed_demo_kb(db: Database) -> int:
    """The knowledge-base sample (demo_data/kb-entries.csv) into a store without entries."""

    async with db.session() as s:
        if (await s.execute(select(func.count()).select_from(KbEntry))).scalar_one():
            return 0
    report = await kb.import_file(db, DEMO_KB, create_missing=True)
    return report.created + report.updated


def demo_accounts(password: str = DEMO_PASSWORD) -> str:
    """The demo's accounts, as `make demo` prints them (the README lists the same)."""
    deps = {code: name for code, name, _ in DEPARTMENTS}
    lines = [f"演示账户（密码均为 {password}）："]
    for username, name, role, dep, seat in PEOPLE:
        extra = f"坐席 {seat}" if seat else (deps.get(dep, "") if dep else "")
        lines.append(f"  {username:<10} {name}  {ROLE_NAMES[role]}{'  ' + extra if extra else ''}")
    return "\n".join(lines)
