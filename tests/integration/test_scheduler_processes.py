"""Two scheduler processes against one PostgreSQL: one leads and acts, the other stands by; kill
the leader (SIGKILL) and the other takes over; no notice or attempt is doubled or lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from callcenter.cases import services
from callcenter.cases.services import NewTicket
from callcenter.people.auth import actor_of
from callcenter.store.db import Database
from callcenter.store.models import (
    Call,
    Callback,
    CallbackRequest,
    CallDirection,
    CallOutcome,
    Notification,
    SchedulerLease,
    utcnow,
)
from tests import livesrv
from tests.conftest import make_personas

pytestmark = [pytest.mark.slow, pytest.mark.pg]
ROOT = Path(__file__).resolve().parents[2]


async def until(check: Any, timeout: float = 20.0, what: str = "") -> Any:
    """livesrv.until with this module's patience (20.0 s)."""
    return await livesrv.until(check, timeout, what)




def start(name: str, url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "callbacks.cli", "run", "--worker-id", name, "--callbacks-every", "0.3",
         "--missed-every", "0.3", "--deadlines-every", "0.3", "--leader-every", "0.3"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(data_dir / f"{name}.log", "wb"),
    )


async def wave(db: Database, people: Any, n: int) -> tuple[list[int], list[int]]:
    """n cases 40 days past registration (overdue and past escalation), and n resolved cases whose
    click-to-call was placed and not answered."""
    lina, zhangwei = actor_of(people.lina), actor_of(people.zhangwei)
    now = utcnow()
    overdue, callbacks = [], []
    for i in range(n):
        t = await services.register(db, lina, NewTicket(kind="complaint", category="物业管理", content=f"超期 {i}",
                                                         caller_phone="13812345678"), now=now - timedelta(days=40))
        await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"}, now - timedelta(days=40))
        overdue.append(t.id)
        t = await services.register(db, lina, NewTicket(kind="complaint", category="物业管理", content=f"回访 {i}",
                                                         caller_phone="13912345678"), now=now - timedelta(hours=2))
        await services.act(db, lina, t.number, "dispatch", None, {"department": "zjj"}, now - timedelta(hours=2))
        await services.act(db, zhangwei, t.number, "accept", None, {}, now - timedelta(hours=2))
        await services.act(db, zhangwei, t.number, "resolve", None, {"resolution": "已处理"}, now - timedelta(hours=1))
        async with db.transaction() as s:
            cb = (await s.scalars(select(Callback).where(Callback.ticket_id == t.id))).one()
            key = f"proc-{t.id}"
            s.add(CallbackRequest(callback_id=cb.id, operator_id=lina.id, seat="8001", phone="13912345678",
                                  ticket_ref=t.number, key=key, status="placed", requested_at=now, placed_at=now))
            s.add(Call(pbx="default", linkedid=f"out-{t.id}", direction=CallDirection.outbound,
                       caller_number="13912345678", offered_at=now, ended_at=now, updated_at=now,
                       outcome=CallOutcome.callback_unanswered, data={"callback_key": key}))
            callbacks.append(cb.id)
    return overdue, callbacks


async def acted(db: Database, overdue: list[int], callbacks: list[int]) -> dict[str, set[str]] | None:
    """Who wrote the escalations and recorded the attempts, once everything is done; else None."""
    async with db.session() as s:
        esc = (await s.execute(select(Notification.created_by).where(
            Notification.kind == "escalated", Notification.ticket_id.in_(overdue)))).scalars().all()
        done = (await s.execute(select(CallbackRequest.done_by).where(
            CallbackRequest.callback_id.in_(callbacks), CallbackRequest.status == "done"))).scalars().all()
    if len(esc) < len(overdue) or len(done) < len(callbacks):
        return None
    return {"escalated": set(esc), "attempts": set(done)}


async def test_one_scheduler_acts_and_the_other_takes_over_when_it_is_killed(pg: Database, pg_url: str,
                                                                              tmp_path: Path) -> None:
    people = await make_personas(pg)
    overdue1, callbacks1 = await wave(pg, people, 4)
    procs = {name: start(name, pg_url, tmp_path) for name in ("alpha", "beta")}
    try:
        async def leader() -> str | None:
            async with pg.session() as s:
                return (await s.execute(select(SchedulerLease.holder))).scalar_one_or_none()

        first = await until(leader)
        by = await until(lambda: acted(pg, overdue1, callbacks1))
        assert by == {"escalated": {first}, "attempts": {first}}  # the stand-by did nothing
        other = next(n for n in procs if n != first)
        assert procs[other].poll() is None

        procs[first].send_signal(signal.SIGKILL)
        procs[first].wait(10)
        overdue2, callbacks2 = await wave(pg, people, 4)
        by = await until(lambda: acted(pg, overdue2, callbacks2), timeout=30)
        assert by == {"escalated": {other}, "attempts": {other}}
        assert await leader() == other

        # nothing doubled: one overdue mark and one escalation per case, one attempt per call
        async with pg.session() as s:
            per_case = (await s.execute(
                select(Notification.ticket_id, Notification.kind, func.count())
                .where(Notification.ticket_id.in_(overdue1 + overdue2))
                .group_by(Notification.ticket_id, Notification.kind))).all()
            attempts = (await s.execute(select(Callback.attempts).where(
                Callback.id.in_(callbacks1 + callbacks2)))).scalars().all()
        assert {(k, n) for _, k, n in per_case} == {("accept_overdue", 1), ("overdue", 1), ("escalated", 1)}
        assert len(per_case) == 3 * len(overdue1 + overdue2)
        assert attempts == [1] * len(callbacks1 + callbacks2)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        async with pg.engine.begin() as conn:
            await conn.execute(delete(SchedulerLease.__table__))
