"""The telephony adapter process: one AMI connection → tracker → spool → store, and the bus.

    PBX ──AMI──► AMIClient (ordered events) ──► CallTracker ──► Spool (durable) ──► CallSink
                                                     └──► Publisher: call.offered / answered / ended,
                                                                     lines.changed
On every login the adapter lists the PBX's channels (CoreShowChannels): the listing passes
through the same ordered stream, so the tracker adopts calls that began while it was away and
closes those that ended unseen — including calls restored from the spool's journal after a
SIGKILL. The writer drains the spool into the sink; when the database is away the facts wait
in the spool and go out in order when it is back.

Operators' pause state (示忙) is the PBX's: `PauseBook` follows QueueMemberPause and the
QueueStatus listing sent at every login, in wire order; each change goes out as `agent.paused`
({seat, paused, reason, pbx, at, source}), the whole map in the heartbeat (`pauses`) and, to a
web worker that says `agent.hello`, as one `agent.pause_map`. The console's `agent.pause`
requests are carried out here (QueuePause); a refused one is published as `agent.pause_failed`.

This module imports no web framework (memory target of the adapter process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telephony.ami import AMIClient, AMIError, AMINotConnected, AMITimeout
from telephony.cdr import CdrReader, calls_from_cdr
from telephony.pauses import MEMBER_EVENTS, PauseBook, PauseChange
from telephony.ports import CallFact, CallSink, Publisher
from telephony.spool import Spool
from telephony.tracker import CallTracker, TrackerConfig, Update

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdapterConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "hotline"
    secret: str = ""
    pbx: str = "default"
    lines: int = 10
    trunk_context: str = "inbound"
    outbound_context: str = "trunk-out"
    queue: str = "hotline"
    data_dir: Path = Path("var")
    action_timeout: float = 10.0
    ping_interval: float = 10.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    write_interval: float = 0.2  # how long a fact may wait for company before it is written
    batch: int = 500
    retry_min: float = 0.5
    retry_max: float = 10.0
    member_context: str = "agents"  # queue members are Local/<seat>@<member_context>
    pause_confirm_s: float = 2.0  # no QueueMemberPause after a QueuePause by then: ask QueueStatus
    cdr_url: str | None = None  # Asterisk's CDR in PostgreSQL (HOTLINE_CDR_DATABASE_URL); None = no backfill
    cdr_table: str = "cdr"
    cdr_poll_s: float = 2.0  # re-read an unseen window this often while its calls are still up
    cdr_slack_s: float = 2.0  # widen each window by this much (CDR times are whole seconds)
    cdr_follow_s: float = 900.0  # give up following a window's calls after this long


class Adapter:
    def __init__(self, config: AdapterConfig, sink: CallSink, publisher: Publisher | None = None,
                 spool: Spool | None = None) -> None:
        self.config = config
        self.sink = sink
        self.publisher = publisher
        self.spool = spool or Spool(Path(config.data_dir) / f"telephony-spool-{config.pbx}.sqlite")
        self.tracker = CallTracker(TrackerConfig(pbx=config.pbx, trunk_context=config.trunk_context,
                                                 outbound_context=config.outbound_context, queue=config.queue,
                                                 lines=config.lines))
        self.client = AMIClient(config.host, config.port, config.username, config.secret,
                                on_event=self._on_event, on_login=self._on_login,
                                action_timeout=config.action_timeout, ping_interval=config.ping_interval,
                                reconnect_min=config.reconnect_min, reconnect_max=config.reconnect_max)
        self.pauses = PauseBook(config.queue)
        self._pause_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0
        self.write_failures = 0
        self.cdr = CdrReader(config.cdr_url, config.cdr_table) if config.cdr_url else None
        self._last_event_at: float | None = None  # the last AMI message received (in memory)
        self._logins_handled = 0  # the AMI logins whose on_login has run: events after it count as seen
        self._saved_event_at = 0.0  # … and as last written to the spool (survives a SIGKILL)
        self._backfills: set[asyncio.Task[None]] = set()
        self.backfilled = 0  # CDR calls handed to the store (a call read twice counts twice)

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self, connect_timeout: float | None = None) -> None:
        """Take back calls in progress from the journal, start the writer, connect and log in."""
        now = time.time()
        for fact in self.spool.open_calls(self.config.pbx):
            self.tracker.restore(fact, now)
        if self.tracker.open_calls():
            log.info("restored %d calls in progress from the spool journal", len(self.tracker.open_calls()))
        saved = self.spool.get_meta(f"last_event_at:{self.config.pbx}")
        self._last_event_at = float(saved) if saved else None
        pending = self.spool.get_meta(self._pending_key)
        if pending:  # a window whose CDR reading the last run did not finish (killed meanwhile)
            self._last_event_at = min(float(pending), self._last_event_at or float(pending))
        if self.cdr is None:
            log.warning("HOTLINE_CDR_DATABASE_URL is not set: calls that ring and end while the adapter or its "
                        "AMI connection is down are not registered (no CDR backfill)")
        self._writer = asyncio.create_task(self._write_loop(), name="call-writer")
        await self.client.connect(timeout=connect_timeout)

    async def stop(self, flush_timeout: float = 30.0) -> None:
        """Close AMI (handling what is already received), then write out the spool."""
        await self.client.close()
        for t in list(self._backfills):
            t.cancel()
        await asyncio.gather(*self._backfills, return_exceptions=True)
        self._save_last_event(force=True)
        self._stopping = True
        self._wake.set()
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer, flush_timeout)
            except TimeoutError:
                log.error("stopping with %d call facts still in the spool (database unreachable); "
                          "they are written at the next start", self.spool.pending())
        self.spool.close()

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        await stop.wait()
        await self.stop()

    # ---- AMI side ------------------------------------------------------------------------------

    async def _on_login(self) -> None:
        # the window this adapter did not see: from its last message (before the connection was
        # lost, or before the process stopped or was killed) to the listing below
        unseen_since = self._last_event_at
        # the listing's events come through the ordered stream to the tracker (reconciliation)
        try:
            self.tracker.begin_listing()
            await self.client.core_show_channels()
        except AMIError as exc:
            log.warning("cannot list the PBX's channels to reconcile (%s); give the AMI user the "
                        "'reporting' write class", exc)
        self._logins_handled = self.client.logins
        if unseen_since is not None and self.cdr is not None:
            pending = self.spool.get_meta(self._pending_key)
            if not pending or float(pending) > unseen_since:
                self.spool.set_meta(self._pending_key, repr(unseen_since))  # cleared once read in full
            task = asyncio.create_task(self._backfill(unseen_since, time.time()), name="cdr-backfill")
            self._backfills.add(task)
            task.add_done_callback(self._backfills.discard)
        with contextlib.suppress(AMIError):
            limit = await self.client.getvar("TRUNK_LINES")
            if limit and limit.isdigit():
                self.tracker.lines.set_limit(int(limit), time.time())
        # the members' pause state: the listing's rows come through the ordered stream too, so a
        # QueueMemberPause received after them is applied after them
        listing = f"hl-pauses-{uuid.uuid4().hex[:10]}"
        self.pauses.begin_listing(listing)
        try:
            await self.client.queue_status(queue=self.config.queue, action_id=listing)
        except AMIError as exc:
            self.pauses.abandon_listing()
            log.warning("cannot read the queue members' pause state (QueueStatus: %s); give the AMI user "
                        "the 'agent' read and write classes", exc)

    def _save_last_event(self, force: bool = False) -> None:
        at = self._last_event_at
        if at is not None and (force or at - self._saved_event_at >= 1.0):
            self._saved_event_at = at
            with contextlib.suppress(Exception):
                self.spool.set_meta(f"last_event_at:{self.config.pbx}", repr(at))

    async def _on_event(self, message: Any, received_at: float) -> None:
        if self._logins_handled == self.client.logins:
            # an event of the current connection after its listing: the adapter has seen up to here
            # (events queued before our on_login ran are the old connection's tail or the new one's head)
            self._last_event_at = received_at
            self._save_last_event()
        if message.get("Event") in MEMBER_EVENTS:
            listed = self.pauses.listed_at
            try:
                for change in self.pauses.feed(message, received_at):
                    await self._pause_changed(change)
                if self.pauses.listed_at != listed:
                    await self._publish_maps()  # a full listing: the boards learn who is a member
            except Exception:  # noqa: BLE001 - the pause state never stops the calls
                log.exception("pause state: cannot apply %s", message.get("Event"))
        updates = self.tracker.feed(message, received_at)
        if updates:
            await self._handle(updates, received_at)

    async def _handle(self, updates: list[Update], now: float) -> None:
        self.spool.append([u.fact for u in updates])
        self._wake.set()
        if self.publisher is None:
            return
        for u in updates:
            for topic in u.topics:
                if topic == "lines.changed":
                    payload: dict[str, Any] = {"pbx": self.config.pbx, **self.tracker.lines.snapshot(now).as_dict()}
                else:
                    payload = _payload(u.fact)
                try:
                    await self.publisher.publish(topic, payload)
                except Exception:  # noqa: BLE001 - the bus never stops the registration of calls
                    log.exception("publishing %s failed", topic)

    # ---- calls the adapter did not see: Asterisk's CDR -------------------------------------------

    @property
    def _pending_key(self) -> str:
        return f"cdr_pending_since:{self.config.pbx}"

    async def _backfill(self, since: float, until: float) -> None:
        """Register every inbound call of the unseen window [since, until] from the PBX's CDR.

        A CDR row lands when its call ends, so the window is read again while calls that were up
        at the listing are still followed, and once more after the last of them ended. Calls the
        tracker still follows are left to it; the store keeps a call the adapter saw end and lets
        a CDR fact replace one it only guessed (telephony.cdr)."""
        assert self.cdr is not None
        slack = timedelta(seconds=self.config.cdr_slack_s)
        start = datetime.fromtimestamp(since, UTC) - slack
        end = datetime.fromtimestamp(until, UTC) + slack
        log.info("reading the PBX's CDR for the window the adapter did not see: %s → %s (%.1f s)",
                 start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds"), until - since)
        watch = self.tracker.open_linkedids()
        deadline = time.monotonic() + self.config.cdr_follow_s
        last_round = False
        delay = self.config.cdr_poll_s
        while True:
            await asyncio.sleep(delay)
            following = {lid for lid in watch if self.tracker.is_open(lid)}
            try:
                rows = await self.cdr.read(start, end)
            except Exception as exc:  # noqa: BLE001 - CDR database away: try again
                log.warning("cannot read the CDR (%s); retrying in %.0f s", exc, delay * 2)
                delay = min(delay * 2, 60.0)
                if time.monotonic() > deadline:
                    log.error("gave up reading the CDR for %s → %s: calls of that window may be missing",
                              start.isoformat(), end.isoformat())
                    return
                continue
            delay = self.config.cdr_poll_s
            facts = [f for f in calls_from_cdr(rows, pbx=self.config.pbx, trunk_context=self.config.trunk_context)
                     if not self.tracker.is_open(f.linkedid)]
            if facts:
                self.spool.append(facts)
                self.backfilled += len(facts)
                self._wake.set()
            log.info("CDR window %s → %s: %d inbound calls read (%d still followed live)",
                     start.isoformat(timespec="seconds"), end.isoformat(timespec="seconds"), len(facts),
                     len(following))
            if not following:
                if last_round:
                    if self.spool.get_meta(self._pending_key) == repr(since):
                        self.spool.set_meta(self._pending_key, "")
                    return
                last_round = True  # once more: the last calls' rows land a moment after their hang-up
            elif time.monotonic() > deadline:
                log.warning("calls of an unseen window are still up after %.0f s; stop following them",
                            self.config.cdr_follow_s)
                return

    # ---- the writer ----------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        delay = self.config.retry_min
        while True:
            upto, facts = self.spool.peek(self.config.batch)
            if not facts:
                if self._stopping:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                continue
            try:
                await self.sink.write(facts)
            except Exception as exc:  # noqa: BLE001 - database away: keep the facts, retry later
                self.write_failures += 1
                log.warning("cannot write %d call facts (%s); keeping them in the spool, retry in %.1f s",
                            len(facts), exc, delay)
                if self._stopping and self.write_failures > 3:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.retry_max)
                continue
            delay = self.config.retry_min
            self.spool.ack(upto)
            self.written += len(facts)
            if len(facts) < self.config.batch and not self._stopping:
                # let facts gather for a moment: fewer, larger transactions under load
                await asyncio.sleep(self.config.write_interval)

    async def flushed(self, timeout: float = 10.0) -> None:
        """Wait until the spool is empty (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while self.spool.pending():
                self._wake.set()
                await asyncio.sleep(0.02)

    # ---- actions for the rest of the system ----------------------------------------------------

    async def originate_callback(self, citizen: str, seat: str, *, ticket_ref: str | None = None,
                                 idempotency_key: str | None = None, style: str = "citizen_first",
                                 timeout_ms: int = 20_000) -> CallFact | None:
        """Call a citizen back (回访), Async always; returns when the PBX has answered the Originate.

        Citizen first: Local/<citizen>@<outbound> then the operator's extension; operator first
        (click-to-call): the operator's phone first, which then dials the citizen. The outcome
        lands on the callback's Call row through the tracker.
        """
        action_id = f"cb-{idempotency_key or uuid.uuid4().hex[:12]}-{uuid.uuid4().hex[:6]}"
        self.tracker.expect_originate(action_id, number=citizen, style=style, seat=seat,
                                      ticket_ref=ticket_ref, key=idempotency_key)
        variables = {"HOTLINE_TICKET": ticket_ref} if ticket_ref else {}
        if style == "citizen_first":
            channel, context, exten = f"Local/{citizen}@{self.config.outbound_context}", "operator-callback", seat
        else:
            channel, context, exten = f"Local/{seat}@operator-phone", "callback-dial", citizen
        try:
            await self.client.originate(channel, context=context, exten=exten, action_id=action_id,
                                        caller_id='"12345" <12345>', timeout_ms=timeout_ms,
                                        variables=variables, idempotency_key=idempotency_key)
        except AMIError:
            self.tracker.expire_originate(action_id)
            raise
        return None

    def member_interface(self, seat: str) -> str:
        return f"Local/{seat}@{self.config.member_context}"

    async def queue_pause(self, seat: str, paused: bool, reason: str | None = None) -> None:
        await self.client.queue_pause(self.member_interface(seat), paused, reason, queue=self.config.queue)

    # ---- the members' pause state ----------------------------------------------------------------

    def _pause_payload(self, change: PauseChange) -> dict[str, Any]:
        st = change.state
        return {"seat": st.seat, "paused": st.paused, "reason": st.reason, "pbx": self.config.pbx, "at": st.at,
                "source": change.source, "member": st.member, "in_call": st.in_call}

    async def _pause_changed(self, change: PauseChange) -> None:
        if change.source == "event":
            for waiter in self._pause_waiters.pop(change.state.seat, []):
                if not waiter.done():
                    waiter.set_result(None)
        if change.source != "call":
            log.info("seat %s %s on the PBX%s (%s)", change.state.seat, "paused" if change.state.paused else "ready",
                     f" ({change.state.reason})" if change.state.reason else "", change.source)
        if self.publisher is None:
            return
        try:
            await self.publisher.publish("agent.paused", self._pause_payload(change))
        except Exception:  # noqa: BLE001 - the bus never stops the adapter
            log.exception("publishing agent.paused failed")

    async def _publish_maps(self) -> None:
        if self.publisher is None:
            return
        for piece in self.pause_maps():
            try:
                await self.publisher.publish("agent.pause_map", piece)
            except Exception:  # noqa: BLE001 - the bus never stops the adapter
                log.exception("publishing agent.pause_map failed")

    def pause_map(self) -> dict[str, Any]:
        """Every member's state as the PBX has it: the `agent.pause_map` payload. Once a full
        listing has completed (`listed_at`), a seat not in it is not a member of the queue (not
        logged in on the phone)."""
        return {"pbx": self.config.pbx, "seats": self.pauses.snapshot(), "listed_at": self.pauses.listed_at}

    def pause_maps(self, max_bytes: int = 6000) -> list[dict[str, Any]]:
        """pause_map in pieces that each fit a NOTIFY (≤ 8000 bytes); a board applies a piece
        seat by seat, needing no other piece to use it."""
        whole = self.pause_map()
        pieces: list[dict[str, Any]] = []
        seats: dict[str, Any] = {}
        size = 0
        for seat, st in whole["seats"].items():
            n = len(json.dumps({seat: st}, ensure_ascii=False).encode())
            if seats and size + n > max_bytes:
                pieces.append({**whole, "seats": seats})
                seats, size = {}, 0
            seats[seat] = st
            size += n
        pieces.append({**whole, "seats": seats})
        return pieces

    async def carry_out_pause(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """One `agent.pause` request ({seat, paused, reason, rid}): QueuePause; None when done,
        else the `agent.pause_failed` payload. The PBX's QueueMemberPause is what publishes the
        new state; if none comes within `pause_confirm_s` (the AMI user cannot read the `agent`
        class?) the member's QueueStatus row is published instead."""
        seat, paused = str(request.get("seat") or ""), bool(request.get("paused"))
        failed = {"seat": seat, "paused": paused, "rid": request.get("rid"), "pbx": self.config.pbx}
        if not _SEAT_OK.match(seat):
            return failed | {"code": "invalid_seat", "error": f"invalid seat {seat!r}"}
        reason = " ".join(str(request.get("reason") or "").split())[:80] or None  # no CR/LF into AMI
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pause_waiters.setdefault(seat, []).append(waiter)
        try:
            await self.queue_pause(seat, paused, reason)
        except Exception as e:  # noqa: BLE001 - reported to the console, never raised
            with contextlib.suppress(ValueError):
                self._pause_waiters.get(seat, []).remove(waiter)
            log.warning("pause of seat %s failed: %s", seat, e)
            return failed | {"code": _failure_code(e), "error": str(e)}
        try:
            await asyncio.wait_for(waiter, self.config.pause_confirm_s)
            return None
        except TimeoutError:
            with contextlib.suppress(ValueError):
                self._pause_waiters.get(seat, []).remove(waiter)
        log.warning("no QueueMemberPause for seat %s within %.1f s of its QueuePause: does the AMI user read "
                    "the 'agent' class? confirming with QueueStatus", seat, self.config.pause_confirm_s)
        try:
            rows = await self.client.queue_status(queue=self.config.queue, member=self.member_interface(seat))
        except AMIError as e:
            return failed | {"code": _failure_code(e), "error": f"no confirmation from the PBX: {e}"}
        for row in rows:
            if row.get("Event") == "QueueMember":
                change = self.pauses.apply_row(row, time.time())
                if change is not None:
                    await self._pause_changed(change)
        return None

    async def follow_pause_requests(self, bus: Any) -> None:
        """Carry out `agent.pause` requests ({seat, paused, reason, rid}) published by the console
        (the web never opens AMI), one after another in the order asked; a failed one is
        published as `agent.pause_failed` ({seat, paused, rid, pbx, code, error}). A web worker
        that starts says `agent.hello`: it is answered at once with `agent.pause_map`."""
        requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def work() -> None:
            while True:
                p = await requests.get()
                try:
                    failed = await self.carry_out_pause(p)
                except Exception:  # noqa: BLE001 - one bad request must not stop the loop
                    log.exception("pause request %r", p)
                    failed = {"seat": p.get("seat"), "paused": bool(p.get("paused")), "rid": p.get("rid"),
                              "pbx": self.config.pbx, "code": "error", "error": "internal error"}
                if failed is not None:
                    with contextlib.suppress(Exception):
                        await bus.publish("agent.pause_failed", failed)

        worker = asyncio.create_task(work(), name="pause-worker")
        try:
            async with bus.subscribe("agent.pause", "agent.hello") as q:
                while True:
                    topic, p = await q.get()
                    if topic == "agent.pause":
                        requests.put_nowait(p)
                    elif topic == "agent.hello":
                        for piece in self.pause_maps():
                            with contextlib.suppress(Exception):
                                await bus.publish("agent.pause_map", piece)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def queue_status(self) -> list[dict[str, str]]:
        return [dict(m.items()) for m in await self.client.queue_status(queue=self.config.queue)]

    async def transfer(self, channel: str, target: str, *, context: str = "transfer", blind: bool = False) -> None:
        """Send the caller's channel to a department's number (三方通话); the tracker records the
        transfer on the call from the resulting events (DialBegin / BlindTransfer)."""
        if blind:
            await self.client.blind_transfer(channel, context, target)
        else:
            await self.client.redirect(channel, context, target)


_SEAT_OK = re.compile(r"^[0-9A-Za-z_.-]{1,32}$")


def _failure_code(e: BaseException) -> str:
    """What the console tells the operator (callcenter.floor.agents.PAUSE_FAILURES)."""
    text = str(e)
    if isinstance(e, AMITimeout):
        return "timeout"
    if isinstance(e, AMINotConnected):
        return "not_connected"
    if "Interface not found" in text:
        return "not_in_queue"
    if "Permission denied" in text:
        return "permission"
    return "error"


def _payload(f: CallFact) -> dict[str, Any]:
    return {
        "pbx": f.pbx, "linkedid": f.linkedid, "direction": f.direction, "caller_number": f.caller_number,
        "outcome": f.outcome, "seat": f.seat, "operator_name": f.operator_name, "queue": f.queue,
        "line": f.line, "wait_s": f.wait_s, "talk_s": f.talk_s, "ticket_ref": f.ticket_ref,
        "offered_at": f.offered_at.isoformat(),
        "answered_at": f.answered_at.isoformat() if f.answered_at else None,
        "ended_at": f.ended_at.isoformat() if f.ended_at else None,
    }
