"""Import and export of the 来电登记表 (callcenter.cases.registry_io), on SQLite and PostgreSQL.

Figures are counted with plain SQL here (the reports module is not under test)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from callcenter.cases import registry_io
from callcenter.cases.registry_io import COLUMNS, RegistryErrors, export, import_file
from callcenter.core.errors import Invalid
from callcenter.core.glossary import KIND_LABELS
from callcenter.store.db import Database
from callcenter.store.models import (
    AuditEntry,
    CallbackResult,
    Category,
    Department,
    Satisfaction,
    Status,
    Ticket,
    TicketEvent,
)

SAMPLES = Path(__file__).parent.parent / "fixtures" / "samples"
SAMPLE = SAMPLES / "registry-sample.csv"
EXPECT = json.loads((SAMPLES / "registry-sample.expect.json").read_text(encoding="utf-8"))
HEADER = ",".join(COLUMNS)
GOOD = "RX1,2012-03-01 09:00,18767634714,李玉,民众诉求,拆迁补偿,反映补偿款未到位,征地拆迁办公室,2012-03-05 10:00,已处理,2012-03-06 10:00,满意"


async def figures(db: Database) -> dict[str, object]:
    """The sample's figures, counted directly in the store."""
    async with db.session() as s:
        async def one(sql: str) -> int:
            return (await s.execute(text(sql))).scalar_one()

        async def grouped(sql: str) -> dict[str, int]:
            return {k: v for k, v in (await s.execute(text(sql))).all()}

        by_kind = await grouped("select kind, count(*) from tickets group by kind")
        return {
            "registered": await one("select count(*) from tickets where status not in ('merged', 'invalid')"),
            "by_kind": {KIND_LABELS[registry_io.Kind(k)]: n for k, n in by_kind.items()},
            "by_category": await grouped(
                "select c.name, count(*) from tickets t join categories c on c.id = t.category_id group by c.name"
            ),
            "by_department": await grouped(
                "select d.name, count(*) from tickets t join departments d on d.id = t.department_id group by d.name"
            ),
            "answered_directly": await one("select count(*) from tickets where status = 'answered'"),
            "dispatched": await one("select count(*) from tickets where ever_dispatched"),
            "resolved": await one("select count(*) from tickets where status in ('answered', 'resolved', 'closed')"),
            "callbacks_required": await one(
                "select count(*) from tickets where status in ('answered', 'resolved', 'closed')"
                " and callback_result <> 'not_needed'"
            ),
            "callbacks_reached": await one("select count(*) from tickets where callback_result = 'reached'"),
            "satisfied_or_basically": await one(
                "select count(*) from tickets where callback_result = 'reached'"
                " and satisfaction in ('satisfied', 'basically')"
            ),
            "events": await one("select count(*) from ticket_events"),
        }


def expected_figures() -> dict[str, object]:
    keys = ["registered", "by_kind", "by_category", "by_department", "answered_directly", "dispatched",
            "resolved", "callbacks_required", "callbacks_reached", "satisfied_or_basically"]
    return {k: EXPECT[k] for k in keys}


def without_events(f: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in f.items() if k != "events"}


async def count(db: Database, model: type) -> int:
    async with db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def seed_reference(db: Database) -> None:
    """The sample's topics and departments, as an admin would have entered them."""
    async with db.transaction() as s:
        for i, name in enumerate(EXPECT["by_department"], start=1):
            s.add(Department(code=f"d{i}", name=name))
        for name in EXPECT["by_category"]:
            s.add(Category(name=name))
    db.refcache.invalidate()


@pytest.fixture
def empty_store(request: pytest.FixtureRequest) -> Callable[[Database], Awaitable[None]]:
    """Empty the store the way the test set-up does (the case trail is append-only: the
    database refuses DELETE on ticket_events): PostgreSQL truncates; an SQLite store gets a
    fresh copy of the migrated template file under the same path."""
    template: Path = request.getfixturevalue("sqlite_template")

    async def go(db: Database) -> None:
        if db.is_sqlite:
            path = Path(make_url(db.url).database or "")
            await db.dispose()  # the engines open new connections to the new file on next use
            for extra in ("-wal", "-shm"):
                Path(f"{path}{extra}").unlink(missing_ok=True)
            shutil.copy(template, path)
        else:
            async with db.transaction() as s:
                await s.execute(text("TRUNCATE ticket_events, callbacks, tickets, categories, departments, "
                                     "ticket_counters RESTART IDENTITY CASCADE"))
        db.refcache.invalidate()

    return go


def write_csv(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def csv_to_xlsx(src: Path, dst: Path) -> Path:
    """The sample as someone's Excel sheet: times as date cells, mobile numbers as numbers."""
    wb = openpyxl.Workbook()
    ws = wb.active
    with src.open(encoding="utf-8-sig", newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            if i == 0:
                ws.append(row)
                continue
            cells: list[object] = list(row)
            for c in (1, 8, 10):
                if cells[c]:
                    cells[c] = datetime.strptime(cells[c], "%Y-%m-%d %H:%M")
            if cells[2].isdigit():
                cells[2] = int(cells[2])
            ws.append([c if c != "" else None for c in cells])
    wb.save(dst)
    return dst


# ---------------------------------------------------------------------------------------------


async def test_the_sample_imports_on_an_unseeded_store_with_the_figures_it_promises(database, tmp_path):
    started = time.perf_counter()
    report = await import_file(database, SAMPLE, create_missing=True)
    elapsed = time.perf_counter() - started

    assert (report.imported, report.skipped_existing, report.rejected, report.errors) == (60, 0, 0, [])
    assert sorted(report.created_categories) == sorted(EXPECT["by_category"])
    assert sorted(report.created_departments) == sorted(EXPECT["by_department"])
    assert without_events(await figures(database)) == expected_figures()
    assert elapsed < 1.0, f"60 rows took {elapsed:.2f}s"
    async with database.session() as s:
        # a created topic defaults to the department its rows went to
        default = (await s.execute(
            select(Department.name).join(Category, Category.default_department_id == Department.id)
            .where(Category.name == "拆迁补偿")
        )).scalar_one()
    assert default == "征地拆迁办公室"


async def test_the_sample_uses_the_topics_and_departments_already_in_the_store(database):
    await seed_reference(database)
    report = await import_file(database, SAMPLE)
    assert report.imported == 60
    assert (report.created_categories, report.created_departments) == ([], [])
    assert await count(database, Category) == len(EXPECT["by_category"])
    assert without_events(await figures(database)) == expected_figures()


async def test_each_row_gets_the_state_its_columns_imply(database):
    await import_file(database, SAMPLE, create_missing=True)
    async with database.session() as s:
        rows = {t.external_ref: t for t in (await s.scalars(select(Ticket))).all()}
        deps = {d.id: d.name for d in (await s.scalars(select(Department))).all()}

    # 办结时间 with 承办单位 → resolved, dispatched to it, times in UTC (Shanghai is UTC+8)
    t = rows["RX201201020001"]
    assert (t.status, t.ever_dispatched, deps[t.department_id]) == (Status.resolved, True, "征地拆迁办公室")
    assert t.registered_at == datetime(2012, 1, 2, 1, 26, tzinfo=UTC)
    assert t.resolved_at == datetime(2012, 1, 10, 5, 26, tzinfo=UTC)
    assert t.callback_at == datetime(2012, 1, 12, 7, 26, tzinfo=UTC)
    assert (t.callback_result, t.satisfaction) == (CallbackResult.reached, Satisfaction.satisfied)
    assert (t.source, t.caller_norm) == ("import", "+8618767634714")
    assert re.fullmatch(r"GD20120102-\d{4,}", t.number), t.number  # numbered for its own day
    assert t.due_at is not None and t.due_at > t.registered_at
    # 办结时间 and no 承办单位 → answered directly
    t = rows["RX201203180010"]
    assert (t.status, t.ever_dispatched, t.department_id) == (Status.answered, False, None)
    assert t.resolution == "已直接答复来电人"
    # 承办单位 and no 办结时间 → dispatched; neither → registered
    assert rows["RX201209150040"].status is Status.dispatched
    assert rows["RX201208290034"].status is Status.registered
    assert rows["RX201208290034"].callback_result is None
    # 不满意 stays resolved: import never reopens
    t = rows["RX201208180032"]
    assert (t.status, t.satisfaction, t.reopen_count) == (Status.resolved, Satisfaction.dissatisfied, 0)
    # 干部举报 is confidential; 不需回访 is recorded as such
    t = rows["RX201204180011"]
    assert (t.confidential, t.no_callback, t.callback_result) == (True, True, CallbackResult.not_needed)
    assert rows["RX201201020001"].confidential is False


async def test_the_audit_trail_reads_as_the_rows_history_by_the_system_actor(database):
    await import_file(database, SAMPLE, create_missing=True)
    async with database.session() as s:
        t = (await s.scalars(select(Ticket).where(Ticket.external_ref == "RX201201020001"))).one()
        events = (await s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                                  .order_by(TicketEvent.id))).all()
        answered = (await s.scalars(select(Ticket).where(Ticket.external_ref == "RX201203180010"))).one()
        answered_actions = (await s.scalars(select(TicketEvent.action).where(TicketEvent.ticket_id == answered.id)
                                            .order_by(TicketEvent.id))).all()
        actors = (await s.execute(select(TicketEvent.actor_id, TicketEvent.actor_name).distinct())).all()

    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("register", None, "registered"),
        ("dispatch", "registered", "dispatched"),
        ("resolve", "dispatched", "resolved"),
        ("callback", "resolved", "resolved"),
    ]
    assert [e.at for e in events] == [t.registered_at, t.registered_at, t.resolved_at, t.callback_at]
    assert events[3].data == {"outcome": "satisfied"}
    assert answered_actions == ["register", "answer", "callback"]
    assert actors == [(None, "系统导入")]


async def test_importing_the_same_file_again_adds_nothing(database):
    await import_file(database, SAMPLE, create_missing=True)
    before = await figures(database)
    report = await import_file(database, SAMPLE, create_missing=True)
    assert (report.imported, report.skipped_existing, report.created_categories) == (0, 60, [])
    assert await figures(database) == before


async def test_the_same_data_as_xlsx_imports_identically(database, tmp_path, empty_store):
    xlsx = csv_to_xlsx(SAMPLE, tmp_path / "registry.xlsx")
    report = await import_file(database, xlsx, create_missing=True)
    assert report.imported == 60
    from_xlsx = await figures(database)
    assert without_events(from_xlsx) == expected_figures()
    # the very same cases: the CSV adds nothing on top
    assert (await import_file(database, SAMPLE)).skipped_existing == 60
    await empty_store(database)
    await import_file(database, SAMPLE, create_missing=True)
    assert await figures(database) == from_xlsx


@pytest.mark.parametrize("fmt,unmask", [("csv", False), ("xlsx", True)])
async def test_an_export_reimports_into_an_empty_store_with_the_same_figures(database, tmp_path, fmt, unmask,
                                                                             empty_store):
    await import_file(database, SAMPLE, create_missing=True)
    before = await figures(database)
    exported = await export(database, tmp_path / f"registry.{fmt}", fmt, unmask=unmask)
    assert exported.rows == 60

    # into the same store: nothing new
    assert (await import_file(database, exported.path)).skipped_existing == 60
    await empty_store(database)
    report = await import_file(database, exported.path, create_missing=True)
    assert (report.imported, report.rejected) == (60, 0)
    assert await figures(database) == before


async def test_an_export_masks_numbers_and_withholds_a_report_caller_unless_asked_and_records_itself(
    database, tmp_path
):
    await import_file(database, SAMPLE, create_missing=True)
    masked = await export(database, tmp_path / "masked.csv", "csv")
    rows = {r["登记编号"]: r for r in csv.DictReader(masked.path.open(encoding="utf-8-sig"))}
    assert rows["RX201201020001"]["来电号码"] == "187****4714"
    assert rows["RX201201070002"]["来电号码"] == "0731-****9227"
    assert rows["RX201201020001"]["来电人姓名"] == "李玉"
    report_case = rows["RX201208070029"]  # 干部举报: neither its name nor any part of its number
    assert (report_case["来电人姓名"], report_case["来电号码"]) == ("（保密）", "（保密）")
    assert "9616" not in masked.path.read_text(encoding="utf-8-sig")

    # full numbers: still no confidential caller
    unmasked = await export(database, tmp_path / "all.csv", "csv", unmask=True)
    rows = {r["登记编号"]: r for r in csv.DictReader(unmasked.path.open(encoding="utf-8-sig"))}
    assert rows["RX201201020001"]["来电号码"] == "18767634714"
    assert rows["RX201208070029"]["来电号码"] == "（保密）"
    assert "0731-57009616" not in unmasked.path.read_text(encoding="utf-8-sig")

    # asked for: the confidential callers too, like every other row (masked unless unmask)
    with_conf = await export(database, tmp_path / "conf.csv", "csv", include_confidential=True)
    rows = {r["登记编号"]: r for r in csv.DictReader(with_conf.path.open(encoding="utf-8-sig"))}
    assert rows["RX201208070029"]["来电号码"] == "0731-****9616"
    everything = await export(database, tmp_path / "everything.xlsx", "xlsx", unmask=True, include_confidential=True,
                              by="tester@host")
    assert "0731-57009616" in [c.value for c in openpyxl.load_workbook(everything.path).worksheets[0]["C"]]

    # every export is in the audit log, saying what it held
    async with database.session() as s:
        entries = (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(e.action, e.target_type, e.target_label) for e in entries] == [
        ("registry.export", "registry", name) for name in ("masked.csv", "all.csv", "conf.csv", "everything.xlsx")]
    assert [(e.changes["full_numbers"], e.changes["confidential_identities"]) for e in entries] == [
        (False, False), (True, False), (False, True), (True, True)]
    assert all(e.changes["rows"] == 60 and e.actor_id is None and e.actor_name.startswith("命令行 ") for e in entries)
    assert entries[-1].actor_name == "命令行 tester@host" and entries[-1].changes["format"] == "xlsx"
    assert entries[-1].changes["file"] == str(everything.path.resolve())


async def test_a_withheld_caller_reimports_as_no_name_and_no_number(database, tmp_path, empty_store):
    await import_file(database, SAMPLE, create_missing=True)
    out = await export(database, tmp_path / "masked.csv", "csv")
    await empty_store(database)
    report = await import_file(database, out.path, create_missing=True)
    assert (report.imported, report.rejected) == (60, 0)
    async with database.session() as s:
        t = (await s.execute(select(Ticket).where(Ticket.external_ref == "RX201208070029"))).scalar_one()
    assert (t.caller_name, t.caller_phone, t.caller_norm, t.confidential) == (None, None, None, True)


async def test_an_export_takes_a_date_range_in_shanghai_days(database, tmp_path):
    await import_file(database, SAMPLE, create_missing=True)
    # RX201208070029 came in at 00:01 on 7 August, Shanghai time (16:01 UTC on the 6th)
    out = await export(database, tmp_path / "aug.csv", "csv", date_from=date(2012, 8, 7), date_to=date(2012, 8, 31))
    refs = [r["登记编号"] for r in csv.DictReader(out.path.open(encoding="utf-8-sig"))]
    assert refs[0] == "RX201208070029" and refs[-1] == "RX201208310036"
    assert len(refs) == 8


BROKEN = [
    GOOD,
    "RX2,2013-13-45 25:61,18767634714,,民众诉求,拆迁补偿,内容,,,,,",
    "RX3,2012-03-01 09:00,12345,,民众诉求,拆迁补偿,内容,,,,,",
    "RX4,2012-03-01 09:00,18767634714,,其它,拆迁补偿,内容,,,,,",
    "RX5,2012-03-01 09:00,18767634714,,民众诉求,外星人入侵,内容,,,,,",
    "RX6,2012-03-01 09:00,18767634714,,民众诉求,拆迁补偿,内容,征地拆迁办公室,2012-02-28 09:00,已处理,,",
    "RX7,2012-03-01 09:00,18767634714,,民众诉求,拆迁补偿,内容,征地拆迁办公室,2012-03-02 09:00,,,",
    "RX1,2012-03-02 09:00,0731-51489227,,政策咨询,拆迁补偿,另一件,,,,,",
    "RX8,2012-03-03 09:00,0731-51489227,,政策咨询,拆迁补偿,好的一行,,2012-03-03 09:05,已直接答复,,",
]
BROKEN_ERRORS = [
    'row 3, column 来电时间: "2013-13-45 25:61" is not a date and time (YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS)',
    'row 4, column 来电号码: "12345" is not a phone number (a mobile number of 11 digits, '
    "or a landline with its area code such as 0731-52310539)",
    'row 5, column 诉求类型: "其它" is not a kind of case (one of 民众诉求、政策咨询、干部举报、建议意见、求助、表扬、依申请公开)',
    'row 6, column 问题分类: unknown topic "外星人入侵" (create it with --create-missing)',
    'row 7, column 办结时间: "2012-02-28 09:00" is before 来电时间 "2012-03-01 09:00"',
    "row 8, column 处理情况: a value is required when 办结时间 is set",
    'row 9, column 登记编号: "RX1" appears again (first on row 2)',
]


async def test_it_imports_nothing_when_a_row_is_broken_and_names_every_problem(database, tmp_path):
    await seed_reference(database)
    path = write_csv(tmp_path / "broken.csv", *BROKEN)
    with pytest.raises(RegistryErrors) as caught:
        await import_file(database, path)
    assert caught.value.errors == BROKEN_ERRORS
    assert isinstance(caught.value, Invalid) and str(caught.value) == "\n".join(BROKEN_ERRORS)
    assert await count(database, Ticket) == 0
    assert await count(database, TicketEvent) == 0


async def test_with_skip_invalid_it_imports_the_good_rows_and_writes_the_bad_ones_aside(database, tmp_path):
    await seed_reference(database)
    path = write_csv(tmp_path / "broken.csv", *BROKEN)
    report = await import_file(database, path, skip_invalid=True, data_dir=tmp_path / "var")

    assert (report.imported, report.rejected, report.errors) == (2, 7, BROKEN_ERRORS)
    assert report.rejects_path is not None and report.rejects_path.parent == tmp_path / "var" / "exports"
    async with database.session() as s:
        assert sorted((await s.scalars(select(Ticket.external_ref))).all()) == ["RX1", "RX8"]
    with report.rejects_path.open(encoding="utf-8-sig", newline="") as f:
        rejects = list(csv.reader(f))
    assert rejects[0] == [*COLUMNS, "错误"]
    assert [r[:-1] for r in rejects[1:]] == [line.split(",") for line in BROKEN[1:-1]]
    assert [r[-1] for r in rejects[1:]] == [e.split(", ", 1)[1] for e in BROKEN_ERRORS]

    # fixed rows go in later; what is in already stays single
    again = await import_file(database, path, skip_invalid=True, rejects_path=tmp_path / "rejects.xlsx")
    assert (again.imported, again.skipped_existing, again.rejected) == (0, 2, 7)
    wb = openpyxl.load_workbook(tmp_path / "rejects.xlsx", read_only=True)
    assert len(list(wb.worksheets[0].iter_rows())) == 8


async def test_without_create_missing_every_unknown_topic_and_department_is_reported(database):
    with pytest.raises(RegistryErrors) as caught:
        await import_file(database, SAMPLE)
    errors = caught.value.errors
    assert len([e for e in errors if "column 问题分类: unknown topic" in e]) == 60
    assert len([e for e in errors if "column 承办单位: unknown department" in e]) == 50
    assert errors[:2] == [
        'row 2, column 问题分类: unknown topic "拆迁补偿" (create it with --create-missing)',
        'row 2, column 承办单位: unknown department "征地拆迁办公室" (create it with --create-missing)',
    ]
    assert await count(database, Ticket) == await count(database, Category) == 0


async def test_a_missing_column_is_one_clear_error(database, tmp_path):
    header = HEADER.replace("来电号码,", "").replace("诉求类型,", "")
    path = write_csv(tmp_path / "cols.csv", "RX1,2012-03-01 09:00,李玉,拆迁补偿,内容,,,,,", header=header)
    with pytest.raises(RegistryErrors) as caught:
        await import_file(database, path, create_missing=True, skip_invalid=True)
    assert caught.value.errors == [
        f"row 1: the header has no column 来电号码, 诉求类型 (expected columns: {', '.join(COLUMNS)})"
    ]


async def test_other_problems_are_named_by_row_and_column(database, tmp_path):
    await seed_reference(database)
    path = write_csv(
        tmp_path / "more.csv",
        ",,,,,,,,,,,",  # a blank line is skipped, not an error
        "RX9,,51489227,,民众诉求,,,未知单位,,,,",
        "RX10,2012-03-01 09:00,18767634714,,民众诉求,拆迁补偿,内容,征地拆迁办公室,2012-03-02 09:00,好,"
        "2012-03-01 10:00,很好",
        "RX11,2012-03-01 09:00,18767634714,,民众诉求,拆迁补偿,内容,征地拆迁办公室,,,2012-03-03 10:00,满意",
    )
    with pytest.raises(RegistryErrors) as caught:
        await import_file(database, path)
    assert caught.value.errors == [
        "row 3, column 来电时间: a value is required",
        'row 3, column 来电号码: "51489227" is not a phone number (a mobile number of 11 digits, '
        "or a landline with its area code such as 0731-52310539)",
        "row 3, column 问题分类: a value is required",
        "row 3, column 诉求内容: a value is required",
        'row 3, column 承办单位: unknown department "未知单位" (create it with --create-missing)',
        'row 4, column 回访时间: "2012-03-01 10:00" is before 办结时间 "2012-03-02 09:00"',
        'row 4, column 回访结果: "很好" is not a callback result (one of 满意、基本满意、不满意、未接通、不需回访)',
        "row 5, column 回访时间: set, but 办结时间 is empty (a callback follows the resolution)",
        'row 5, column 回访结果: "满意", but 办结时间 is empty (a callback follows the resolution)',
    ]


async def test_rows_without_a_registry_number_are_keyed_by_time_number_and_content(database, tmp_path):
    rows = [
        ",2012-05-01 10:00,18767634714,,民众诉求,物业管理,电梯坏了,,,,,",
        ",2012-05-01 10:00,187 6763 4714,,民众诉求,物业管理,电梯坏了,,,,,",  # the same, written differently
        ",2012-05-01 10:00,18767634714,,民众诉求,物业管理,电梯又坏了,,,,,",
        ",2012-05-01 10:00:30,18767634714,,民众诉求,物业管理,电梯坏了,,,,,",
    ]
    path = write_csv(tmp_path / "nonumbers.csv", *rows)
    first = await import_file(database, path, create_missing=True)
    assert (first.imported, first.skipped_existing) == (3, 1)
    second = await import_file(database, path)
    assert (second.imported, second.skipped_existing) == (0, 4)
    assert await count(database, Ticket) == 3


async def test_a_file_that_is_not_utf8_or_not_a_registry_is_refused_plainly(database, tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((HEADER + "\n" + GOOD + "\n").encode("gbk"))
    with pytest.raises(RegistryErrors, match='not UTF-8 text .*save the sheet as "CSV UTF-8"'):
        await import_file(database, gbk)
    with pytest.raises(RegistryErrors, match="unknown file type '.txt'"):
        await import_file(database, write_csv(tmp_path / "x.txt", GOOD))
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(RegistryErrors, match="header row is missing"):
        await import_file(database, tmp_path / "empty.csv")


async def test_text_that_a_spreadsheet_would_run_as_a_formula_is_exported_inert_and_reimports_as_it_was(
    database, tmp_path, empty_store
):
    path = write_csv(tmp_path / "f.csv", GOOD.replace("反映补偿款未到位", "=1+2"))
    await import_file(database, path, create_missing=True)
    out = await export(database, tmp_path / "out.csv", "csv", unmask=True)
    assert ",'=1+2," in out.path.read_text(encoding="utf-8-sig")
    xlsx = await export(database, tmp_path / "out.xlsx", "xlsx", unmask=True)
    cell = openpyxl.load_workbook(xlsx.path).worksheets[0]["G2"]
    assert (cell.value, cell.data_type) == ("=1+2", "s")
    await empty_store(database)
    await import_file(database, out.path, create_missing=True)
    async with database.session() as s:
        assert (await s.scalars(select(Ticket.content))).one() == "=1+2"
