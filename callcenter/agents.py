"""The floor as the console sees it: operators' seats, lines, callers waiting, the wall's
figures, and the few use cases of the console that are not a single workflow action.

The live state (`AgentBoard`) is built from bus events (call.*, lines.changed, agent.*) in
this process; it is seeded from the calls still in progress at start. A pause is never sent
to the PBX from here: it is published as `agent.pause` ({seat, paused, reason, operator}) and
the telephony process (the only holder of AMI) carries it out (ARCHITECTURE.md, Runtime).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from . import services
from .bus import NullBus, Publisher
from .db import Database
from .errors import Conflict, Forbidden, Invalid
from .models import Call, Callback, CallbackTaskStatus, CallDirection, CallOutcome, Role, Ticket, User, utcnow
from .workflow import Action, Actor

log = logging.getLogger(__name__)
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class AgentBoard:
    """Lines, callers waiting and each seat's state, from the bus. One per web process."""

    lines_in_use: int = 0
    lines_limit: int = 10
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)  # linkedid → call payload
    on_call: dict[str, str] = field(default_factory=dict)  # seat → linkedid
    paused: dict[str, bool] = field(default_factory=dict)  # seat → paused (from the console)
    online: Counter[str] = field(default_factory=Counter)  # seat → open operator pages, every worker
    version: int = 0
    ticket_seq: int = 0  # bumps on every ticket.changed: lists of cases are stale
    # Operator pages are open on any web worker: each worker counts its own (`local`) and
    # publishes the count with its id (`agent.online`); every board sums the workers' counts.
    # A worker that starts says `agent.hello`; the others answer with `agent.presence` (their
    # counts and the pause states they know), and repeat it every PRESENCE_S: a worker gone
    # silent for 3 × PRESENCE_S no longer counts.
    worker: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    local: Counter[str] = field(default_factory=Counter)
    presence: dict[str, tuple[float, dict[str, int]]] = field(default_factory=dict)
    PRESENCE_S = 20.0

    def apply(self, topic: str, p: dict[str, Any]) -> bool:
        """Take one bus event in; return whether the board changed."""
        before = self.version
        if topic == "lines.changed":
            self.lines_in_use = int(p.get("in_use") or 0)
            self.lines_limit = int(p.get("limit") or self.lines_limit)
            self.version += 1
        elif topic.startswith("call."):
            lid = str(p.get("linkedid") or "")
            inbound = p.get("direction", "in") == "in"
            if topic == "call.offered" and inbound and p.get("outcome") == "in_progress" and not p.get("answered_at"):
                self.waiting[lid] = p
            elif topic == "call.answered":
                self.waiting.pop(lid, None)
                if p.get("seat"):
                    self.on_call[str(p["seat"])] = lid
            elif topic == "call.ended":
                self.waiting.pop(lid, None)
                for seat, on in list(self.on_call.items()):
                    if on == lid:
                        del self.on_call[seat]
            self.version += 1
        elif topic == "agent.pause":
            self.paused[str(p["seat"])] = bool(p.get("paused"))
            self.version += 1
        elif topic == "agent.online":
            w = str(p.get("worker") or "")
            if w and "n" in p:
                seats = dict(self.presence.get(w, (0.0, {}))[1])
                seats[str(p["seat"])] = int(p["n"])
                self._presence(w, seats)
            self.version += 1
        elif topic == "agent.presence":
            self._presence(str(p.get("worker") or ""), {str(k): int(v) for k, v in (p.get("seats") or {}).items()})
            for seat, paused in (p.get("paused") or {}).items():
                self.paused.setdefault(str(seat), bool(paused))  # what this worker saw itself wins
            self.version += 1
        elif topic.startswith("ticket."):
            self.ticket_seq += 1
            self.version += 1
        return self.version != before

    def _presence(self, worker: str, seats: dict[str, int]) -> None:
        if worker:
            self.presence[worker] = (time.monotonic(), seats)
        self._recount()

    def _recount(self) -> None:
        gone = time.monotonic() - 3 * self.PRESENCE_S
        for w in [w for w, (at, _) in self.presence.items() if at < gone and w != self.worker]:
            del self.presence[w]
        total: Counter[str] = Counter()
        for _, seats in self.presence.values():
            total.update(seats)
        self.online = total

    def page_opened(self, seat: str, delta: int) -> dict[str, Any]:
        """An operator page of this worker opened (+1) or closed (−1): the `agent.online` payload."""
        self.local[seat] += delta
        payload = {"seat": seat, "online": delta > 0, "worker": self.worker, "n": self.local[seat]}
        self.apply("agent.online", payload)
        return payload

    def presence_payload(self) -> dict[str, Any]:
        return {"worker": self.worker, "seats": {k: v for k, v in self.local.items() if v > 0},
                "paused": dict(self.paused)}

    def seat_state(self, seat: str | None) -> str:
        """busy 通话中 / paused 示忙 / ready 空闲 / offline 未登录 (no operator page open)."""
        if not seat:
            return "offline"
        if seat in self.on_call:
            return "busy"
        if self.online.get(seat, 0) <= 0:
            return "offline"
        return "paused" if self.paused.get(seat, False) else "ready"

    def snapshot(self, operators: list[dict[str, Any]]) -> dict[str, Any]:
        seats = [{**o, "state": self.seat_state(o.get("seat"))} for o in operators]
        counts = Counter(s["state"] for s in seats)
        return {
            "lines_in_use": self.lines_in_use,
            "lines_limit": self.lines_limit,
            "waiting": len(self.waiting),
            "ready": counts["ready"],
            "busy": counts["busy"],
            "paused": counts["paused"],
            "offline": counts["offline"],
            "seats": seats,
            "ticket_seq": self.ticket_seq,
        }

    async def load(self, db: Database) -> None:
        """Seed from the calls the store has in progress (those begun before this process)."""
        since = utcnow() - timedelta(hours=2)
        async with db.session() as s:
            rows = (
                await s.scalars(select(Call).where(Call.outcome == CallOutcome.in_progress, Call.offered_at >= since))
            ).all()
        for c in rows:
            if c.answered_at and c.seat:
                self.on_call[c.seat] = c.linkedid
            elif c.direction is CallDirection.inbound:
                self.waiting[c.linkedid] = {"linkedid": c.linkedid, "caller_number": c.caller_number}
        self.lines_in_use = sum(1 for c in rows if c.line is not None)

    async def follow(self, bus: Any, on_change: Any = None) -> None:
        async with bus.subscribe("call.", "lines.", "agent.", "ticket.") as q:
            await bus.publish("agent.hello", {"worker": self.worker})
            next_presence = time.monotonic() + self.PRESENCE_S
            while True:
                try:
                    topic, payload = await asyncio.wait_for(q.get(), max(0.0, next_presence - time.monotonic()))
                except TimeoutError:
                    next_presence = time.monotonic() + self.PRESENCE_S
                    await bus.publish("agent.presence", self.presence_payload())
                    self._recount()
                    continue
                try:
                    if topic == "agent.hello" and payload.get("worker") != self.worker:
                        await bus.publish("agent.presence", self.presence_payload())
                    changed = self.apply(topic, payload)
                    if on_change is not None and changed:
                        on_change(topic)
                except Exception:  # noqa: BLE001 - one odd payload never stops the board
                    log.exception("board: cannot apply %s %r", topic, payload)


async def set_paused(bus: Publisher | None, board: AgentBoard, actor: Actor, seat: str | None, paused: bool,
                     reason: str | None = None) -> None:
    """Ask the PBX to pause / unpause the operator's seat (QueuePause through telephony/)."""
    if actor.role is not Role.operator and actor.role is not Role.supervisor:
        raise Invalid("only operators have a seat in the queue", field="seat")
    if not seat:
        raise Invalid("您没有坐席（分机），请联系管理员设置", field="seat")
    payload = {"seat": seat, "paused": paused, "reason": reason or ("示忙" if paused else None),
               "operator": actor.name, "operator_id": actor.id, "at": utcnow().isoformat()}
    board.apply("agent.pause", payload)
    await (bus or NullBus()).publish("agent.pause", payload)


async def operators(db: Database) -> list[dict[str, Any]]:
    async with db.session() as s:
        rows = (
            await s.scalars(
                select(User).where(User.role == Role.operator, User.active.is_(True)).order_by(User.seat, User.id)
            )
        ).all()
    return [{"name": u.display_name, "username": u.username, "seat": u.seat} for u in rows]


async def call_by_linkedid(db: Database, linkedid: str) -> Call | None:
    async with db.session() as s:
        return (await s.scalars(select(Call).where(Call.linkedid == linkedid).order_by(Call.id.desc()))).first()


async def intake(
    db: Database,
    actor: Actor,
    data: services.NewTicket,
    then: str,
    params: dict[str, Any],
    bus: Publisher | None = None,
    linkedid: str | None = None,
) -> tuple[Any, str | None]:
    """登记 and then, on the same screen, 直接答复 / 派单 / 并单 (or nothing: 仅登记).

    The case is registered first (its own transaction); the follow-up action runs on the
    registered case. If the follow-up is refused the case stays registered and the refusal
    is returned as a message for the operator, who finishes it on the case page.
    """
    if linkedid and data.call_id is None:
        call = await call_by_linkedid(db, linkedid)
        data.call_id = call.id if call else None
    t = await services.register(db, actor, data, bus=bus)
    action = {"answer": Action.answer, "dispatch": Action.dispatch, "merge": Action.merge}.get(then)
    if action is None:
        return t, None
    try:
        t = await services.act(db, actor, t.number, action, t.version, params, bus=bus)
    except (Invalid, Conflict, Forbidden) as e:
        return t, f"已登记 {t.number}，但{_THEN_LABEL[then]}未完成：{e.message}"
    return t, None


_THEN_LABEL = {"answer": "直接答复", "dispatch": "派单", "merge": "并单"}


async def callbacks_due(db: Database, now: datetime | None = None, within: timedelta = timedelta(hours=4),
                        limit: int = 30) -> list[dict[str, Any]]:
    """Pending callback tasks due before now + `within` (回访 and 回拨), earliest first."""
    now = now or utcnow()
    async with db.session() as s:
        rows = (
            await s.execute(
                select(Callback, Ticket.number)
                .outerjoin(Ticket, Ticket.id == Callback.ticket_id)
                .where(Callback.status == CallbackTaskStatus.pending, Callback.due_at < now + within)
                .order_by(Callback.due_at)
                .limit(limit)
            )
        ).all()
    return [
        {"id": cb.id, "kind": cb.kind.value, "kind_label": "回访" if cb.kind.value == "case" else "回拨",
         "number": number, "phone": cb.phone, "due_at": cb.due_at, "attempts": cb.attempts,
         "overdue": cb.due_at < now}
        for cb, number in rows
    ]


async def extension_requests(db: Database, limit: int = 50) -> list[Ticket]:
    """Cases with an extension (延期) request waiting for a supervisor's decision."""
    async with db.session() as s:
        return list(
            (
                await s.scalars(
                    select(Ticket)
                    .where(Ticket.extension_requested_until.is_not(None))
                    .order_by(Ticket.due_at)
                    .limit(limit)
                )
            ).all()
        )


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(TZ).date()


class WallFigures:
    """The wall's figures from reports.metrics (the one code path), shared by every wall of
    the process, plus each department's rates (callcenter.wall, one grouped query a period).

    An entry is recomputed when an event marked it dirty (at most once per `min_interval`)
    or when older than `max_age`. Today's figures are recomputed before answering (cheap,
    and they move with every call); this month's and this year's, once computed, are answered
    from the cache at once and refreshed in the background (stale-while-revalidate: the wall
    never waits for a year's query, the figures lag by one refresh). `warm()` computes all at
    a worker's start so that even its first wall does not wait.
    """

    SYNC = ("today", "dep:today")

    def __init__(self) -> None:
        self.min_interval = {"today": 0.3, "month": 2.0, "year": 5.0,
                             "dep:today": 0.3, "dep:month": 10.0, "dep:year": 60.0}
        self.max_age = {"today": 2.0, "month": 15.0, "year": 60.0,
                        "dep:today": 2.0, "dep:month": 60.0, "dep:year": 300.0}
        self._cache: dict[str, tuple[float, date, dict[str, Any]]] = {}
        self._dirty = {name: True for name in self.min_interval}
        self._lock = asyncio.Lock()
        self._bg: dict[str, asyncio.Task[None]] = {}

    def mark_dirty(self, _topic: str | None = None) -> None:
        for name in self._dirty:
            self._dirty[name] = True

    async def warm(self, db: Database) -> None:
        try:
            await self.get(db)
        except Exception:  # noqa: BLE001 - the first wall computes them then
            log.exception("wall figures: warm-up failed")

    async def get(self, db: Database, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        today = local_today(now)
        starts = {"today": today, "month": today.replace(day=1), "year": today.replace(month=1, day=1)}
        async with self._lock:
            wait: list[str] = []
            for name in self.min_interval:
                mono = time.monotonic()
                hit = self._cache.get(name)
                age = mono - hit[0] if hit is not None else float("inf")
                stale = hit is None or hit[1] != today or age > self.max_age[name]
                if not (stale or (self._dirty[name] and age > self.min_interval[name])):
                    continue
                if hit is None or hit[1] != today or name in self.SYNC:
                    wait.append(name)
                elif name not in self._bg or self._bg[name].done():
                    self._bg[name] = asyncio.create_task(self._refresh(db, name, starts[name.split(":")[-1]], today, now))
            # the periods' queries run side by side, each on its own connection
            await asyncio.gather(*(self._refresh(db, name, starts[name.split(":")[-1]], today, now, raise_=True)
                                   for name in wait))
            out: dict[str, Any] = {}
            for name in ("today", "month", "year"):
                out[name] = {**self._cache[name][2], **self._cache["dep:" + name][2]}
        return out

    async def _refresh(self, db: Database, name: str, lo: date, hi: date, now: datetime, raise_: bool = False) -> None:
        self._dirty[name] = False
        mono = time.monotonic()
        try:
            self._cache[name] = (mono, hi, await self._compute(db, name, lo, hi, now))
        except Exception:
            self._dirty[name] = True
            if raise_:
                raise
            log.exception("wall figures: cannot refresh %s", name)

    async def _compute(self, db: Database, name: str, lo: date, hi: date, now: datetime) -> dict[str, Any]:
        if name.startswith("dep:"):
            from .wall import key_rates

            return await key_rates(db, lo, hi, now)
        from reports.metrics import metrics

        return await metrics(db, lo, hi, now=now)
