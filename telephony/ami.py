"""The one AMI connection: panoramisk 1.4 behind a wrapper that fixes what it gets wrong.

This is the only module that imports panoramisk (pinned to 1.4: its unreleased master changes
what `send_action` returns). Every fix below is named after the problem in
docs/../STACK.md ("panoramisk 1.4 — use it behind one wrapper") and has a test in
tests/unit/test_ami_*.py that fails against raw panoramisk:

1. UTF-8 text split across TCP reads was cut (`data.decode(encoding, 'ignore')` per chunk):
   `_Protocol` decodes with one incremental decoder per connection.
2. An exception in an event handler dropped the connection (handlers run inside
   `data_received`): every event is only enqueued there; one consumer task hands them to the
   handler in wire order, each in try/except. Async handlers are awaited, never spawned as
   unordered tasks.
3. Originate without `Async` raises `KeyError: 'async'` inside the protocol and drops the
   connection (panoramisk issues #90, #97): every Originate is sent with `Async: true`.
4. Actions never time out and are lost while disconnected: every action runs under
   `asyncio.wait_for`, is refused unless logged in, and fails at once when the connection drops.
5. After a reconnect panoramisk re-sends actions that had no reply (an Originate was dialled
   twice): pending actions are failed on a drop, never re-sent; `originate` is also in
   `forgetable_actions`. Retries belong to callbacks/, with an idempotency key.
6. Re-sending waited for FullyBooted (which needs the `system` read class): we do not wait for
   it; login success is enough (capture 06c: a restricted user never sees FullyBooted).
7. The keepalive Ping never checked its reply: our watchdog pings with a timeout and aborts
   the transport when the PBX does not answer, which starts a reconnect.
8. A wrong password raised nothing: `connect()` raises `AMILoginError`.
9. `close()` did not cancel a scheduled reconnect: reconnects are ours and stop on close.
Reconnects back off exponentially (jittered), reset after a successful login. Frames that are
not AMI messages are logged with their raw text and skipped.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

EOM = "\r\n\r\n"
BANNER = "Asterisk Call Manager/"
# side-effecting actions must never be re-sent by panoramisk after a reconnect (STACK.md #5)
FORGETABLE = ("ping", "login", "logoff", "originate", "redirect", "blindtransfer", "atxfer", "hangup",
              "queuepause", "queuestatus", "coreshowchannels", "getvar", "command", "status")

EventHandler = Callable[[Message, float], Awaitable[None] | None]


class AMIError(Exception):
    """An AMI action failed; `message` is the PBX's reply if there was one."""

    def __init__(self, text: str, message: Message | None = None) -> None:
        super().__init__(text)
        self.message = message


class AMILoginError(AMIError):
    pass


class AMINotConnected(AMIError):
    pass


class AMITimeout(AMIError, TimeoutError):
    pass


class _Protocol(AMIProtocol):
    """panoramisk's protocol with correct decoding, guarded parsing and ordered event delivery."""

    # set by panoramisk's untyped base class
    version: Any
    closed: bool

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # fix 1: one incremental decoder keeps a multi-byte character split across reads whole
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text = ""

    def data_received(self, data: bytes) -> None:
        text = self._text + self._decoder.decode(data)
        if self.version is None and text.startswith(BANNER):
            line, sep, rest = text.partition("\r\n")
            if not sep:
                self._text = text
                return
            self.version = line[len(BANNER):].strip()
            self.log.info("AMI protocol version %s", self.version)
            text = rest
        frames = text.split(EOM)
        self._text = frames.pop()
        for frame in frames:
            self._frame(frame)

    def _frame(self, frame: str) -> None:
        stripped = frame.strip()
        if not stripped:
            return
        try:
            message = Message.from_line(stripped)
        except Exception:  # noqa: BLE001 - a frame must never stop the connection
            message = None
        if message is None:
            self.log.warning("skipping a malformed AMI frame: %r", frame[:2000])
            factory = getattr(self, "factory", None)
            if factory is not None:
                factory.client.malformed += 1
            return
        try:
            self.handle_message(message)
        except Exception:  # noqa: BLE001 - fix 2: never let one message drop the connection
            self.log.exception("failed to handle AMI message %r", stripped[:2000])

    def handle_message(self, message: Message) -> None:
        action = self.responses.get(message.id)
        if action is None and message.action_id:
            action = self.responses.get(message.action_id)
        if action is not None:
            if action.add_message(message):
                self.responses.pop(action.id, None)
                if action.action_id:
                    self.responses.pop(action.action_id, None)
        if "event" in message:
            # every event goes into the ordered queue, also those that answer one of our actions
            # (OriginateResponse, CoreShowChannel…): the tracker must see them in wire order
            self.factory.client._enqueue(message)
            if message.event == "Shutdown":
                self.factory.client._on_shutdown(message)

    def close(self) -> None:
        # fix 4/5: fail what is pending instead of queueing it to be re-sent after a reconnect
        for action in {id(a): a for a in self.responses.values()}.values():
            if not action.future.done():
                action.future.set_exception(AMINotConnected("AMI connection lost before the reply"))
        self.responses.clear()
        if not self.closed:
            try:
                self.transport.close()
            finally:
                self.closed = True

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.close()
            if self.factory is not None:
                self.factory.connection_lost(exc)


class _Manager(Manager):
    """panoramisk's Manager with our reconnect, login check and no built-in pinger."""

    def __init__(self, client: AMIClient, **config: Any) -> None:
        super().__init__(**config)
        self.client = client

    def ping(self) -> None:  # fix 7: replaced by AMIClient._watchdog, which checks the reply
        self.pinger = None

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.client._closing:  # fix 9
            return None
        return super().connect(*args, **kwargs)

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if self.client._closing:
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        try:
            f.result()
        except OSError as exc:
            log.warning("cannot reach the PBX at %s:%s: %s", self.config["host"], self.config["port"], exc)
            self.client._schedule_reconnect()
            return
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        self.authenticated_future = None
        try:
            resp = future.result()
        except Exception as exc:  # noqa: BLE001 - the connection dropped before the reply
            log.warning("AMI login got no reply: %s", exc)
            return False
        self.authenticated = bool(resp.success)
        self.client._on_login(resp)
        return self.authenticated

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self.client._on_connection_lost(exc)


class AMIClient:
    """One AMI connection: login, ordered events, keepalive, reconnect, actions with timeouts.

    `on_event(message, received_at)` is called for every event, in wire order, by one task;
    an exception there is logged and the next event follows. `on_login()` runs (awaited, in
    the same task) after each successful login, before any later event is handed over —
    so an action it sends, like CoreShowChannels, lands at a known point of the stream.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 5038, username: str = "hotline",
                 secret: str = "", *, on_event: EventHandler | None = None,
                 on_login: Callable[[], Awaitable[None]] | None = None,
                 action_timeout: float = 10.0, ping_interval: float = 10.0, ping_timeout: float = 5.0,
                 reconnect_min: float = 0.5, reconnect_max: float = 30.0,
                 queue_high: int = 20_000, queue_low: int = 5_000) -> None:
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self.on_event = on_event
        self.on_login = on_login
        self.action_timeout = action_timeout
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self._backoff = reconnect_min
        self.queue_high, self.queue_low = queue_high, queue_low
        self._queue: asyncio.Queue[tuple[float, Message | None]] = asyncio.Queue()
        self._paused = False
        self._closing = False
        self._closed = False
        self._logged_in = asyncio.Event()
        self._login_failed: AMILoginError | None = None
        self._login_waiter: asyncio.Future[None] | None = None
        self._reconnect_handle: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._manager: _Manager | None = None
        self.logins = 0
        self.disconnects = 0
        self.malformed = 0
        self.events = 0
        self.last_uptime: int | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self._logged_in.is_set()

    async def connect(self, timeout: float | None = None) -> None:
        """Connect and log in; retry with backoff while the PBX is unreachable.

        Raises AMILoginError if the PBX refuses the credentials (nothing is retried then),
        TimeoutError if no login succeeded within `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        self._manager = _Manager(
            self, host=self.host, port=self.port, username=self.username, secret=self._secret,
            loop=loop, protocol_factory=_Protocol, forgetable_actions=FORGETABLE,
            ping_delay=10**6, ping_interval=10**6, reconnect_timeout=1,
        )
        self._login_waiter = loop.create_future()
        self._tasks = [asyncio.create_task(self._consume(), name="ami-events"),
                       asyncio.create_task(self._watchdog(), name="ami-watchdog")]
        self._manager.connect()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._login_waiter)
                await self._logged_in.wait()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Log off, close the connection, stop reconnecting; idempotent."""
        if self._closed:
            return
        self._closed = self._closing = True
        if self._reconnect_handle is not None:
            self._reconnect_handle.cancel()
        if self.logged_in and self._manager is not None:
            with contextlib.suppress(Exception):
                await self.action({"Action": "Logoff"}, timeout=1.0)
        self._logged_in.clear()
        if self._manager is not None:
            self._manager.close()
        await self._queue.put((0.0, None))  # let the consumer finish what is queued, then stop
        for t in self._tasks:
            if t.get_name() == "ami-events":
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(t, 30)
            t.cancel()
        self._tasks = []

    async def wait_logged_in(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._logged_in.wait(), timeout)

    def _schedule_reconnect(self) -> None:
        if self._closing or self._manager is None:
            return
        delay = self._backoff * (0.8 + 0.4 * random.random())
        self._backoff = min(self._backoff * 2, self.reconnect_max)
        log.info("reconnecting to the PBX in %.2f s", delay)
        loop = asyncio.get_running_loop()
        self._reconnect_handle = loop.call_later(delay, self._manager.connect)

    def _on_login(self, resp: Message) -> None:
        waiter = self._login_waiter
        if resp.success:
            self.logins += 1
            self._backoff = self.reconnect_min
            log.info("logged in to the PBX at %s:%s as %s", self.host, self.port, self.username)
            # the consumer runs on_login at this point of the stream, then sets logged_in
            self._queue.put_nowait((time.time(), _LOGIN_MARK))
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        err = AMILoginError(f"AMI login as {self.username!r} refused: {resp.get('Message', '')}", resp)
        log.error("%s", err)
        if waiter is not None and not waiter.done():
            # fix 8: a wrong password on the first login is fatal, never a silent retry loop
            waiter.set_exception(err)
            self._closing = True
        self._login_failed = err

    def _on_connection_lost(self, exc: Any) -> None:
        self._logged_in.clear()
        self.disconnects += 1
        if self._closing:
            return
        log.warning("lost the AMI connection (%s)", exc if exc else "closed by the PBX")
        self._schedule_reconnect()

    def _on_shutdown(self, message: Message) -> None:
        log.warning("the PBX is shutting down (%s, restart %s)", message.get("Shutdown"), message.get("Restart"))

    # ---- events ------------------------------------------------------------------------------

    def _enqueue(self, message: Message) -> None:
        self._queue.put_nowait((time.time(), message))
        if not self._paused and self._queue.qsize() > self.queue_high:
            # backpressure: stop reading from the socket rather than grow without bound
            transport = self._transport()
            if transport is not None:
                transport.pause_reading()
                self._paused = True

    def _transport(self) -> Any:
        proto = self._manager.protocol if self._manager is not None else None
        return getattr(proto, "transport", None) if proto is not None and not proto.closed else None

    async def _consume(self) -> None:
        while True:
            received_at, message = await self._queue.get()
            if self._paused and self._queue.qsize() < self.queue_low:
                transport = self._transport()
                if transport is not None:
                    transport.resume_reading()
                self._paused = False
            if message is None:
                if self._closing and self._queue.empty():
                    return
                continue
            if message is _LOGIN_MARK:
                if self.on_login is not None:
                    self._logged_in.set()
                    try:
                        await self.on_login()
                    except Exception:  # noqa: BLE001
                        log.exception("on_login failed")
                self._logged_in.set()
                continue
            if message.get("Event") == "FullyBooted":
                uptime = _int(message.get("Uptime"))
                if uptime is not None and self.last_uptime is not None and uptime < self.last_uptime:
                    log.warning("the PBX restarted (uptime %s s)", uptime)
                self.last_uptime = uptime
            self.events += 1
            if self.on_event is None:
                continue
            try:
                result = self.on_event(message, received_at)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - fix 2: one bad event never stops the others
                log.exception("event handler failed on %s %r", message.get("Event"), dict(message.items()))

    async def _watchdog(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.ping_interval)
            if not self.logged_in:
                continue
            try:
                await self.action({"Action": "Ping"}, timeout=self.ping_timeout)
            except AMINotConnected:
                continue
            except AMIError as exc:
                log.warning("the PBX did not answer a Ping (%s): dropping the connection", exc)
                transport = self._transport()
                if transport is not None:
                    transport.abort()

    # ---- actions -------------------------------------------------------------------------------

    async def action(self, fields: Mapping[str, Any], *, timeout: float | None = None,
                     as_list: bool | None = None) -> Any:
        """Send one action; return its reply (a Message, or a list for list actions).

        Raises AMINotConnected when not logged in or when the connection drops before the
        reply, AMITimeout after `timeout` (default action_timeout), AMIError on an Error reply.
        """
        if not self.logged_in or self._manager is None or self._manager.protocol is None:
            raise AMINotConnected("not logged in to the PBX")
        act = Action(dict(fields), as_list=as_list)
        if act["Action"].lower() == "originate":
            act["Async"] = "true"  # fix 3: without it panoramisk 1.4 drops the connection
        self._manager.send_action(act)
        try:
            reply = await asyncio.wait_for(act.future, timeout if timeout is not None else self.action_timeout)
        except TimeoutError:
            proto = self._manager.protocol
            if proto is not None:
                proto.responses.pop(act.id, None)
            raise AMITimeout(f"no reply to {act['Action']} within {timeout or self.action_timeout} s") from None
        first = reply[0] if isinstance(reply, list) else reply
        if first.get("Response") in ("Error", "Fail", "Failure") and not first.get("Event"):
            raise AMIError(f"{act['Action']} failed: {first.get('Message', '')}", first)
        return reply

    async def ping(self, timeout: float | None = None) -> Message:
        return await self.action({"Action": "Ping"}, timeout=timeout)

    async def originate(self, channel: str, *, context: str, exten: str, priority: int = 1,
                        caller_id: str | None = None, timeout_ms: int = 30_000, action_id: str | None = None,
                        variables: Mapping[str, str] | None = None, idempotency_key: str | None = None,
                        extra_wait: float = 15.0) -> list[Message]:
        """Originate (always Async) and wait for its OriginateResponse.

        Returns `[Response, OriginateResponse]`. The idempotency key travels as the channel
        variable HOTLINE_CALLBACK_KEY so a retry by callbacks/ can be recognised on the PBX.
        Never re-sent by this module: a timeout or a drop raises and the caller decides.
        """
        fields: dict[str, Any] = {"Action": "Originate", "Channel": channel, "Context": context,
                                  "Exten": exten, "Priority": str(priority), "Timeout": str(timeout_ms),
                                  "Async": "true"}
        if action_id:
            fields["ActionID"] = action_id
        if caller_id:
            fields["CallerID"] = caller_id
        var = dict(variables or {})
        if idempotency_key:
            var["HOTLINE_CALLBACK_KEY"] = idempotency_key
        if var:
            fields["Variable"] = [f"{k}={v}" for k, v in var.items()]
        reply = await self.action(fields, timeout=timeout_ms / 1000 + extra_wait)
        return reply if isinstance(reply, list) else [reply]

    async def queue_pause(self, interface: str, paused: bool, reason: str | None = None,
                          queue: str | None = None) -> Message:
        """Pause or unpause a member (Asterisk 22 has no QueueUnpause: `Paused: false`)."""
        fields = {"Action": "QueuePause", "Interface": interface, "Paused": "true" if paused else "false"}
        if reason:
            fields["Reason"] = reason
        if queue:
            fields["Queue"] = queue
        return await self.action(fields)

    async def queue_status(self, queue: str | None = None, member: str | None = None,
                           action_id: str | None = None) -> list[Message]:
        """The queue's params, members (QueueMember: Paused / PausedReason) and callers. The rows
        are events: they also reach `on_event`, in wire order, carrying this ActionID."""
        fields = {"Action": "QueueStatus"}
        if queue:
            fields["Queue"] = queue
        if member:
            fields["Member"] = member
        if action_id:
            fields["ActionID"] = action_id
        return _as_list(await self.action(fields))

    async def core_show_channels(self) -> list[Message]:
        return _as_list(await self.action({"Action": "CoreShowChannels"}))

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> Message:
        return await self.action({"Action": "Redirect", "Channel": channel, "Context": context,
                                  "Exten": exten, "Priority": str(priority)})

    async def blind_transfer(self, channel: str, context: str, exten: str) -> Message:
        return await self.action({"Action": "BlindTransfer", "Channel": channel, "Context": context,
                                  "Exten": exten})

    async def getvar(self, variable: str, channel: str | None = None) -> str | None:
        fields = {"Action": "Getvar", "Variable": variable}
        if channel:
            fields["Channel"] = channel
        reply = await self.action(fields)
        value = reply.get("Value")
        return value if value not in (None, "", "(null)") else None


_LOGIN_MARK = Message({"Event": "__login__"})


def _as_list(reply: Any) -> list[Message]:
    return list(reply) if isinstance(reply, list) else [reply]


def _int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None
