"""The floor as the console sees it: operators' seats, lines, callers waiting, the wall's
figures, and the few use cases of the console that are not a single workflow action.

The live state (`AgentBoard`) is built from bus events (call.*, lines.changed, agent.*) in
this process; it is seeded from the calls still in progress at start and from the telephony
adapters' heartbeats (the seats' pause state as the PBX has it). A pause is never sent to the
PBX from here: it is published as `agent.pause` ({seat, paused, reason, rid, operator}) and the
telephony process (the only holder of AMI) carries it out (ARCHITECTURE.md, Runtime); what the
PBX then reports (`agent.paused`, `agent.pause_failed`) decides the seat's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from callcenter.cases import services
from callcenter.cases.workflow import Action, Actor
from callcenter.core.bus import NullBus, Publisher
from callcenter.core.clock import TZ
from callcenter.core.errors import Conflict, Forbidden, Invalid
from callcenter.store.db import Database
from callcenter.store.models import (
    Call,
    Callback,
    CallbackTaskStatus,
    CallDirection,
    CallOutcome,
    Role,
    SeatGroup,
    Ticket,
    User,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass
class _PbxPause:
    """A seat's pause state as the PBX confirmed it (`agent.paused`, the adapters' heartbeats)."""

    paused: bool
    reason: str | None
    at: float  # the adapter's clock when it learnt it (epoch seconds)
    pbx: str | None = None
    member: bool = True  # a member of the queue: logged in on the phone (QueueMemberAdded/Removed, listings)
    in_call: bool = False  # on a queue call (InCall; AgentConnect … AgentComplete)


@dataclass
class _PauseRequest:
    """The console asked (`agent.pause`) and the PBX has not answered yet."""

    paused: bool
    rid: str
    reason: str | None
    since: float  # time.monotonic() on this board


# agent.pause_failed `code` → what the operator reads, and whether only an administrator can help
PAUSE_FAILURES = {
    "not_in_queue": ("您的分机不在电话系统的队列中", True),
    "not_connected": ("话务接口未连接电话系统", False),
    "timeout": ("电话系统没有响应", False),
    "permission": ("电话系统拒绝了操作（接口权限不足）", True),
    "invalid_seat": ("分机号无效", True),
}


ACW_REASON = "话后整理"  # the queue-member pause reason of after-call work (issue 12)


def _label(paused: bool, reason: str | None = None) -> str:
    """A seat's state."""
    if paused and reason == ACW_REASON:
        return ACW_REASON
    return "示忙" if paused else "空闲"


def _verb(paused: bool) -> str:
    """What the operator asked for."""
    return "示忙" if paused else "置闲"


@dataclass
class AgentBoard:
    """Lines, callers waiting and each seat's state, from the bus. One per web process.

    Seats: the PBX is the truth of who is logged in (a member of the queue: the adapter's full
    QueueStatus listing, QueueMemberAdded / Removed), on a call (AgentConnect … AgentComplete,
    InCall; the calls' answer and end) and paused; the console's open pages (`online`) are told
    beside it and stand in for the membership only while no adapter has listed the queue.

    Pause (示忙): the PBX is the truth. `agent.paused` (the telephony adapter saw it on the PBX:
    QueueMemberPause, or its QueueStatus listing at login) sets a seat's state; `agent.pause_map`
    (the adapter's answer to our `agent.hello`) and the adapters' heartbeat rows (`seed_pauses`,
    at start) set every seat's, unless older than what the board knows. The console's own
    request (`agent.pause`) shows at once, as pending, until the PBX answers: `agent.paused`
    ends it (the PBX's state wins), `agent.pause_failed` reverts it with an error for the
    operator, and no answer within PENDING_S reverts it too.
    """

    lines_in_use: int = 0
    lines_limit: int = 10
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)  # linkedid → call payload
    on_call: dict[str, str] = field(default_factory=dict)  # seat → linkedid
    pbx_pause: dict[str, _PbxPause] = field(default_factory=dict)  # seat → what the PBX confirmed
    # pbx → when its adapter last listed the queue in full: from then on a seat the PBX has not
    # named is not a member (未登录); with no listing at all the console's presence stands in
    listed: dict[str, float] = field(default_factory=dict)
    requests: dict[str, _PauseRequest] = field(default_factory=dict)  # seat → request awaiting the PBX
    pause_errors: dict[str, tuple[str, float]] = field(default_factory=dict)  # seat → (message, time.time())
    online: Counter[str] = field(default_factory=Counter)  # seat → open operator pages, every worker
    version: int = 0
    ticket_seq: int = 0  # bumps on every ticket.changed: lists of cases are stale
    # Operator pages are open on any web worker: each worker counts its own (`local`) and
    # publishes the count with its id (`agent.online`); every board sums the workers' counts.
    # A worker that starts says `agent.hello`; the others answer with `agent.presence` (their
    # counts), and repeat it every PRESENCE_S: a worker gone silent for 3 × PRESENCE_S no
    # longer counts. The telephony adapters answer `agent.hello` with `agent.pause_map`.
    worker: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    local: Counter[str] = field(default_factory=Counter)
    presence: dict[str, tuple[float, dict[str, int]]] = field(default_factory=dict)
    watchers: dict[str, set[asyncio.Queue[tuple[str, dict[str, Any]]]]] = field(default_factory=dict)
    answered: deque[str] = field(default_factory=lambda: deque(maxlen=256))  # rids the PBX answered
    PRESENCE_S = 20.0
    PENDING_S = 15.0  # a request the PBX has not answered by then is dropped (adapter not running?)
    ERROR_S = 120.0  # how long a failed request's message is shown

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
            self._requested(p)
        elif topic == "agent.paused":
            if p.get("source") == "call" and not p.get("in_call"):
                self.on_call.pop(str(p["seat"]), None)  # AgentComplete: the seat is free before the hang-up
            self._confirmed(str(p["seat"]), p, answer=p.get("source") == "event")
        elif topic == "agent.pause_map":
            self._listed(p.get("pbx"), p.get("listed_at"))
            for seat, st in (p.get("seats") or {}).items():
                self._confirmed(str(seat), {**st, "pbx": p.get("pbx"), "member": True}, answer=False)
        elif topic == "agent.pause_failed":
            self._failed(p)
        elif topic == "agent.online":
            w = str(p.get("worker") or "")
            if w and "n" in p:
                seats = dict(self.presence.get(w, (0.0, {}))[1])
                seats[str(p["seat"])] = int(p["n"])
                self._presence(w, seats)
            self.version += 1
        elif topic == "agent.presence":
            self._presence(str(p.get("worker") or ""), {str(k): int(v) for k, v in (p.get("seats") or {}).items()})
            self.version += 1
        elif topic.startswith("ticket."):
            self.ticket_seq += 1
            self.version += 1
        return self.version != before

    # ---- pause (示忙) ---------------------------------------------------------------------------

    def _requested(self, p: dict[str, Any]) -> None:
        seat = str(p["seat"])
        rid = str(p.get("rid") or "")
        req = self.requests.get(seat)
        if rid and ((req is not None and req.rid == rid) or rid in self.answered):
            return  # our own request back from the bus, or one already answered
        self.requests[seat] = _PauseRequest(bool(p.get("paused")), rid, p.get("reason") or None, time.monotonic())
        self.pause_errors.pop(seat, None)
        self._changed(seat)

    def _confirmed(self, seat: str, st: dict[str, Any], answer: bool) -> None:
        """The PBX's state of a seat. `answer`: a QueueMemberPause, the PBX's answer to a pause
        request; otherwise a listing or a map, which may predate a request still on its way."""
        at = float(st.get("at") or 0.0)
        known = self.pbx_pause.get(seat)
        if not answer and known is not None and at < known.at:
            return  # older than what this board already has
        new = _PbxPause(bool(st.get("paused")), (st.get("reason") or None) if st.get("paused") else None, at,
                        st.get("pbx"), member=st.get("member", True) is not False, in_call=bool(st.get("in_call")))
        changed = known != new
        req = self.requests.get(seat)
        if req is not None and (answer or req.paused == new.paused):
            self._answered(seat)
            changed = True
        if answer and self.pause_errors.pop(seat, None) is not None:
            changed = True
        self.pbx_pause[seat] = new
        if changed:
            self._changed(seat)

    def _failed(self, p: dict[str, Any]) -> None:
        seat = str(p.get("seat") or "")
        req = self.requests.get(seat)
        rid = str(p.get("rid") or "")
        if req is not None and rid and req.rid != rid:
            return  # an older request failed; the newer one is still on its way
        if req is not None:
            self._answered(seat)
        wanted = bool(p.get("paused"))
        why, admin = PAUSE_FAILURES.get(str(p.get("code") or ""), ("电话系统未执行", False))
        detail = f"（{p['error']}）" if p.get("error") else ""
        hint = "，请联系管理员" if admin else "，请稍后重试"
        self.pause_errors[seat] = (f"{_verb(wanted)}未成功：{why}{detail}{hint}。"
                                   f"当前状态：{_label(self.is_paused(seat))}", time.time())
        self._changed(seat)

    def _answered(self, seat: str) -> None:
        req = self.requests.pop(seat)
        if req.rid:
            self.answered.append(req.rid)

    def expire_requests(self, now: float | None = None) -> list[str]:
        """Drop the requests the PBX has not answered within PENDING_S; return their seats."""
        now = time.monotonic() if now is None else now
        gone = [seat for seat, r in self.requests.items() if now - r.since >= self.PENDING_S]
        for seat in gone:
            req = self.requests.pop(seat)
            self.pause_errors[seat] = (f"{_verb(req.paused)}未得到电话系统确认（话务接口可能未运行），状态未改变，请稍后重试。"
                                       f"当前状态：{_label(self.is_paused(seat))}", time.time())
            self._changed(seat)
        return gone

    def _next_expiry(self) -> float | None:
        return min((r.since + self.PENDING_S for r in self.requests.values()), default=None)

    def is_paused(self, seat: str) -> bool:
        req = self.requests.get(seat)
        if req is not None:
            return req.paused
        known = self.pbx_pause.get(seat)
        return known.paused if known is not None else False

    def pause_view(self, seat: str) -> dict[str, Any]:
        """What the operator page shows: paused (the request while pending), pending, the PBX's
        reason, the last failure's message."""
        req = self.requests.get(seat)
        known = self.pbx_pause.get(seat)
        err = self.pause_errors.get(seat)
        error = err[0] if err is not None and time.time() - err[1] < self.ERROR_S else None
        paused = self.is_paused(seat)
        reason = req.reason if req is not None else (known.reason if known is not None else None)
        return {"seat": seat, "paused": paused, "label": _label(paused, reason), "pending": req is not None,
                "acw": bool(paused and reason == ACW_REASON),
                "reason": reason if paused else None, "confirmed": known.paused if known is not None else None,
                "error": error}

    def _changed(self, seat: str) -> None:
        self.version += 1
        view: dict[str, Any] | None = None
        for q in self.watchers.get(seat, ()):
            view = view or self.pause_view(seat)
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(("seat.pause", view))

    @contextlib.contextmanager
    def watch(self, seat: str, q: asyncio.Queue[tuple[str, dict[str, Any]]]) -> Iterator[None]:
        """While inside, every change of `seat`'s pause state is put into `q` as
        ("seat.pause", pause_view) — the operator's SSE stream passes it on."""
        self.watchers.setdefault(seat, set()).add(q)
        try:
            yield
        finally:
            qs = self.watchers.get(seat)
            if qs is not None:
                qs.discard(q)
                if not qs:
                    del self.watchers[seat]

    async def settle(self, seat: str, timeout: float) -> dict[str, Any]:
        """Wait (at most `timeout` s) until the PBX has answered the seat's pending request."""
        q: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        with self.watch(seat, q), contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while seat in self.requests:
                    await q.get()
        return self.pause_view(seat)

    def _listed(self, pbx: Any, listed_at: Any) -> None:
        if isinstance(listed_at, int | float) and listed_at > self.listed.get(str(pbx), 0.0):
            self.listed[str(pbx)] = float(listed_at)
            self.version += 1

    async def seed_pauses(self, db: Database) -> int:
        """Seed the seats' membership and pause state from the telephony adapters' heartbeat rows
        (a web worker starting cold); return how many seats were read."""
        from callcenter.ops.heartbeat import member_maps

        n = 0
        for pbx, m in (await member_maps(db)).items():
            self._listed(pbx, m["listed_at"])
            for seat, st in m["seats"].items():
                self._confirmed(seat, {**st, "pbx": pbx, "member": True}, answer=False)
                n += 1
        return n

    # ---- operator pages --------------------------------------------------------------------------

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
        return {"worker": self.worker, "seats": {k: v for k, v in self.local.items() if v > 0}}

    def seat_state(self, seat: str | None) -> str:
        """busy 通话中 / acw 话后整理 / paused 示忙 / ready 空闲 / offline 未登录 — following the
        PBX: the call's answer and end (AgentConnect, AgentComplete / hang-up), the seat's queue
        membership (logged in on the phone: QueueStatus listings, QueueMemberAdded / Removed) and
        the member's pause and its reason (QueueMemberPause / QueueMemberStatus). Only while no
        telephony adapter has told this board about the queue does an open operator page stand
        in for the membership. Whether the console is open is `console_open` (shown beside)."""
        if not seat:
            return "offline"
        known = self.pbx_pause.get(seat)
        if seat in self.on_call or (known is not None and known.member and known.in_call):
            return "busy"
        if known is not None or self.listed:
            if known is None or not known.member:
                return "offline"
        elif self.online.get(seat, 0) <= 0:
            return "offline"
        if self.is_paused(seat):
            return "acw" if self.in_acw(seat) else "paused"
        return "ready"

    def console_open(self, seat: str | None) -> bool:
        """An operator page of this seat is open on some web worker."""
        return bool(seat) and self.online.get(str(seat), 0) > 0

    def in_acw(self, seat: str) -> bool:
        """The seat is paused for after-call work (话后整理), as asked or as the PBX has it."""
        v = self.pause_view(seat)
        return bool(v["paused"] and v["reason"] == ACW_REASON)

    def snapshot(self, operators: list[dict[str, Any]]) -> dict[str, Any]:
        seats = [{**o, "state": self.seat_state(o.get("seat")), "console": self.console_open(o.get("seat"))}
                 for o in operators]
        counts = Counter(s["state"] for s in seats)
        return {
            "lines_in_use": self.lines_in_use,
            "lines_limit": self.lines_limit,
            "waiting": len(self.waiting),
            "ready": counts["ready"],
            "busy": counts["busy"],
            "paused": counts["paused"],
            "acw": counts["acw"],
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
                wake = min(next_presence, self._next_expiry() or next_presence)
                try:
                    topic, payload = await asyncio.wait_for(q.get(), max(0.0, wake - time.monotonic()))
                except TimeoutError:
                    if self.expire_requests() and on_change is not None:
                        on_change("agent.pause")
                    if time.monotonic() >= next_presence:
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
                     reason: str | None = None) -> str:
    """Ask the PBX to pause / unpause the operator's seat (QueuePause through telephony/); the
    board shows the request at once, as pending, until the PBX answers. Returns the request id."""
    if actor.role is not Role.operator and actor.role is not Role.supervisor:
        raise Invalid("只有话务员有坐席", field="seat")
    if not seat:
        raise Invalid("您没有坐席（分机），请联系管理员设置", field="seat")
    rid = uuid.uuid4().hex[:16]
    payload = {"seat": seat, "paused": paused, "reason": reason or ("示忙" if paused else None), "rid": rid,
               "operator": actor.name, "operator_id": actor.id, "at": utcnow().isoformat()}
    board.apply("agent.pause", payload)
    await (bus or NullBus()).publish("agent.pause", payload)
    return rid


SEAT_STATE_LABELS = {"offline": "未登录", "ready": "空闲", "busy": "通话中", "acw": ACW_REASON, "paused": "示忙"}
DEFAULT_ACW_MAX_S = 60


async def acw_max_s(db: Database, queue: str | None) -> int:
    """The maximum after-call work of the call's seat group (its queue), else the default row's."""
    async with db.session() as s:
        rows = {g.queue: g.acw_max_s for g in (await s.scalars(
            select(SeatGroup).where(SeatGroup.queue.in_([queue or "default", "default"])))).all()}
    return int(rows.get(queue or "default", rows.get("default", DEFAULT_ACW_MAX_S)))


async def call_registered(db: Database, linkedid: str) -> bool:
    """Whether a case was registered for this call."""
    async with db.session() as s:
        return (await s.scalar(select(Ticket.id).join(Call, Call.id == Ticket.call_id)
                               .where(Call.linkedid == linkedid).limit(1))) is not None


async def start_after_call_work(db: Database, bus: Publisher | None, board: AgentBoard, actor: Actor,
                                seat: str | None, linkedid: str, queue: str | None = None) -> int | None:
    """An answered call ended: unless its case is registered (or the seat is paused already —
    示忙 keeps its own reason), the seat goes into 话后整理 on the PBX (a queue-member pause
    through the telephony adapter, as 示忙). Returns the maximum in seconds, or None."""
    if not seat or board.is_paused(seat) or await call_registered(db, linkedid):
        return None
    await set_paused(bus, board, actor, seat, True, reason=ACW_REASON)
    return await acw_max_s(db, queue)


async def end_after_call_work(db: Database, bus: Publisher | None, board: AgentBoard, actor: Actor,
                              seat: str | None, linkedid: str | None) -> bool:
    """The form was saved or discarded, or the maximum ran out: the seat leaves 话后整理 (and
    only 话后整理: a 示忙 is the operator's), and the call records how long it lasted."""
    if linkedid:
        now = utcnow()
        async with db.transaction() as s:
            call = (await s.scalars(select(Call).where(Call.linkedid == linkedid, Call.acw_s.is_(None))
                                    .order_by(Call.id.desc()))).first()
            if call is not None and call.ended_at is not None and seat and board.in_acw(seat):
                call.acw_s = max(0, int((now - call.ended_at).total_seconds()))
    if not seat or not board.in_acw(seat):
        return False
    await set_paused(bus, board, actor, seat, False)
    return True


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
    the process, plus each department's rates (callcenter.floor.wall, one grouped query a period).

    An entry is recomputed when an event marked it dirty (at most once per `min_interval`)
    or when older than `max_age`. Today's figures are recomputed before answering (cheap,
    and they move with every call); this month's and this year's, once computed, are answered
    from the cache at once and refreshed in the background (stale-while-revalidate: the wall
    never waits for a year's query, the figures lag by one refresh). A background refresh that
    lands bumps `generation` and wakes `landed()`: the walls get the new figures at once rather
    than at their next event. `warm()` computes all at a worker's start so that even its first
    wall does not wait.
    """

    SYNC = ("today", "dep:today")

    def __init__(self) -> None:
        # a busy hour marks everything dirty many times a second: each entry is recomputed at
        # most once per min_interval (the soak showed shorter ones cost the workers' request p99)
        self.min_interval = {"today": 0.3, "month": 2.0, "year": 5.0,
                             "dep:today": 0.3, "dep:month": 10.0, "dep:year": 30.0}
        self.max_age = {"today": 2.0, "month": 15.0, "year": 60.0,
                        "dep:today": 2.0, "dep:month": 60.0, "dep:year": 300.0}
        self._cache: dict[str, tuple[float, date, dict[str, Any]]] = {}
        self._dirty = {name: True for name in self.min_interval}
        self._lock = asyncio.Lock()
        self._bg: dict[str, asyncio.Task[None]] = {}
        self.generation = 0
        self._landed = asyncio.Event()

    async def landed(self) -> None:
        """Return when the next background refresh has landed in the cache."""
        await self._landed.wait()

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
                if not (stale or self._dirty[name]):
                    continue
                if hit is None or hit[1] != today or (name in self.SYNC and (stale or age > self.min_interval[name])):
                    wait.append(name)
                elif name not in self.SYNC and (name not in self._bg or self._bg[name].done()):
                    # refreshed behind the wall, at most once per min_interval
                    delay = 0.0 if stale else max(0.0, self.min_interval[name] - age)
                    self._bg[name] = asyncio.create_task(
                        self._refresh(db, name, starts[name.split(":")[-1]], today, now, delay=delay))
            # the periods' queries run side by side, each on its own connection
            await asyncio.gather(*(self._refresh(db, name, starts[name.split(":")[-1]], today, now, raise_=True)
                                   for name in wait))
            out: dict[str, Any] = {}
            for name in ("today", "month", "year"):
                out[name] = {**self._cache[name][2], **self._cache["dep:" + name][2]}
        return out

    async def _refresh(self, db: Database, name: str, lo: date, hi: date, now: datetime, raise_: bool = False,
                       delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
            now += timedelta(seconds=delay)
        self._dirty[name] = False
        mono = time.monotonic()
        try:
            self._cache[name] = (mono, hi, await self._compute(db, name, lo, hi, now))
        except Exception:
            self._dirty[name] = True
            if raise_:
                raise
            log.exception("wall figures: cannot refresh %s", name)
            return
        if not raise_:  # a background refresh: the walls' payload is stale now
            self.generation += 1
            landed, self._landed = self._landed, asyncio.Event()
            landed.set()

    async def _compute(self, db: Database, name: str, lo: date, hi: date, now: datetime) -> dict[str, Any]:
        if name.startswith("dep:"):
            from callcenter.floor.wall import key_rates

            return await key_rates(db, lo, hi, now)
        from reports.metrics import metrics

        return await metrics(db, lo, hi, now=now)
