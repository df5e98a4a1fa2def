"""The panoramisk 1.4 wrapper (telephony.ami): one test per bug in STACK.md, each beside a
test showing the bug in raw panoramisk over the same TCP replay, so the fix is proven needed."""

from __future__ import annotations

import asyncio
import logging

import pytest
from panoramisk import Manager

from telephony.ami import AMIClient, AMILoginError, AMINotConnected, AMITimeout
from tests.telephony_replay import ReplayServer, frame

CITIZEN_FIRST_OK = (
    "Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {aid}\r\nResponse: Success\r\n"
    "Channel: Local/13812345678@trunk-out-00000000;1\r\nContext: operator-callback\r\nExten: 8002\r\n"
    "Application: \r\nData: \r\nReason: 4\r\nUniqueid: 1795721554.0\r\nCallerIDNum: 12345\r\n"
    "CallerIDName: 12345\r\n\r\n"
)


class Collector:
    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []
        self.done = asyncio.Event()
        self.until: str | None = None

    def __call__(self, message, received_at: float) -> None:  # type: ignore[no-untyped-def]
        self.events.append(dict(message.items()))
        if self.until and message.get("Event") == self.until:
            self.done.set()


def client_for(server: ReplayServer, on_event=None, **kw) -> AMIClient:  # type: ignore[no-untyped-def]
    kw.setdefault("reconnect_min", 0.05)
    kw.setdefault("ping_interval", 60)
    return AMIClient("127.0.0.1", server.port, "hotline", "hotline-secret", on_event=on_event, **kw)


async def raw_manager(server: ReplayServer, handlers=(), **kw) -> Manager:  # type: ignore[no-untyped-def]
    m = Manager(host="127.0.0.1", port=server.port, username="hotline", secret="hotline-secret",
                loop=asyncio.get_running_loop(), reconnect_timeout=60, **kw)
    for pattern, handler in handlers:
        m.register_event(pattern, handler)
    m.connect()
    for _ in range(200):
        if m.authenticated:
            break
        await asyncio.sleep(0.01)
    return m


# 1. UTF-8 split across reads --------------------------------------------------------------

async def test_it_keeps_a_chinese_pause_reason_split_across_packets() -> None:
    async with ReplayServer("02_queue_abandon", split_utf8=True) as server:
        got = Collector()
        got.until = "QueueCallerLeave"
        client = client_for(server, got)
        await client.connect(timeout=5)
        await asyncio.wait_for(server.finished.wait(), 20)
        await client.close()
    reasons = [e["PausedReason"] for e in got.events if e.get("Event") == "QueueMemberPause" and e.get("Paused") == "1"]
    assert reasons == ["会议 meeting"] * 5


async def test_raw_panoramisk_cuts_the_chinese_text() -> None:
    async with ReplayServer("02_queue_abandon", split_utf8=True) as server:
        reasons: list[str] = []
        m = await raw_manager(server, [("QueueMemberPause", lambda mgr, e: reasons.append(e["PausedReason"])
                                        if e["Paused"] == "1" else None)])
        await asyncio.wait_for(server.finished.wait(), 20)
        await asyncio.sleep(0.1)
        m.close()
    assert len(reasons) == 5 and all(r != "会议 meeting" for r in reasons)  # e.g. '议 meeting'


# 2. an exception in a handler -------------------------------------------------------------

async def test_a_failing_handler_neither_drops_the_connection_nor_loses_the_next_events(caplog) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def handler(message, received_at):  # type: ignore[no-untyped-def]
        seen.append(message["Event"])
        if message["Event"] == "Newchannel":
            raise RuntimeError("a bug in a handler")

    async with ReplayServer("01_answered_call") as server:
        client = client_for(server, handler)
        await client.connect(timeout=5)
        await asyncio.wait_for(server.finished.wait(), 10)
        await client.close()
    assert server.connections == 1
    assert seen.count("Newchannel") == 4 and seen.count("Hangup") == 4
    assert "event handler failed on Newchannel" in caplog.text


async def test_raw_panoramisk_drops_the_connection_when_a_handler_raises() -> None:
    lost = asyncio.Event()
    async with ReplayServer("01_answered_call") as server:
        def boom(mgr, event):  # type: ignore[no-untyped-def]
            raise RuntimeError("a bug in a handler")

        m = await raw_manager(server, [("Newchannel", boom)], on_disconnect=lambda mgr, exc: lost.set())
        await asyncio.wait_for(lost.wait(), 10)
        m.close()


# 3. Originate without Async -----------------------------------------------------------------

async def test_an_originate_is_always_async_and_returns_its_originate_response() -> None:
    async with ReplayServer("07b_restart_after", originate_response=CITIZEN_FIRST_OK) as server:
        client = client_for(server)
        await client.connect(timeout=5)
        # even a caller that forgets Async gets it
        reply = await client.action({"Action": "Originate", "Channel": "Local/13812345678@trunk-out",
                                     "Context": "operator-callback", "Exten": "8002"}, timeout=5)
        assert [m.get("Response") for m in reply] == ["Success", "Success"]
        assert reply[1]["Event"] == "OriginateResponse"
        await client.ping(timeout=2)  # the connection is still up
        await client.close()
    sent = [a for a in server.actions if a.get("Action") == "Originate"]
    assert sent[0]["Async"] == "true" and server.connections == 1


async def test_raw_panoramisk_drops_the_connection_on_an_originate_without_async() -> None:
    lost = asyncio.Event()
    async with ReplayServer("07b_restart_after", originate_response=CITIZEN_FIRST_OK) as server:
        m = await raw_manager(server, on_disconnect=lambda mgr, exc: lost.set())
        m.send_action({"Action": "Originate", "Channel": "Local/1@trunk-out", "Context": "x", "Exten": "8002"})
        await asyncio.wait_for(lost.wait(), 5)  # KeyError: 'async' inside data_received
        m.close()


# 4. actions time out, and are refused while not logged in --------------------------------

async def test_an_unanswered_action_times_out_instead_of_hanging() -> None:
    async with ReplayServer("07b_restart_after", silent_actions=("queuestatus",)) as server:
        client = client_for(server)
        await client.connect(timeout=5)
        with pytest.raises(AMITimeout):
            await client.queue_status(queue="hotline") if False else await client.action(
                {"Action": "QueueStatus"}, timeout=0.2)
        await client.close()
    with pytest.raises(AMINotConnected):
        await client.ping()


async def test_raw_panoramisk_waits_forever_for_an_unanswered_action() -> None:
    async with ReplayServer("07b_restart_after", silent_actions=("queuestatus",)) as server:
        m = await raw_manager(server)
        fut = m.send_action({"Action": "QueueStatus"})
        await asyncio.sleep(0.3)
        assert not fut.done()
        m.close()


# 5. no re-send of an Originate after a reconnect ---------------------------------------------

async def test_an_originate_without_reply_fails_on_a_drop_and_is_never_dialled_again() -> None:
    async with ReplayServer("07b_restart_after", silent_actions=("originate",), fullybooted_on_login=True) as server:
        client = client_for(server)
        await client.connect(timeout=5)
        task = asyncio.create_task(client.originate("Local/13812345678@trunk-out", context="operator-callback",
                                                    exten="8002", idempotency_key="cb-42"))
        while not any(a.get("Action") == "Originate" for a in server.actions):
            await asyncio.sleep(0.01)
        server.drop_connections()
        with pytest.raises(AMINotConnected):
            await task
        await client.wait_logged_in(5)
        await asyncio.sleep(0.2)
        await client.close()
    originates = [a for a in server.actions if a.get("Action") == "Originate"]
    assert len(originates) == 1 and server.connections == 2
    assert originates[0]["Variable"] == "HOTLINE_CALLBACK_KEY=cb-42"


async def test_raw_panoramisk_dials_an_originate_twice_after_a_reconnect() -> None:
    async with ReplayServer("07b_restart_after", silent_actions=("originate",), fullybooted_on_login=True) as server:
        m = Manager(host="127.0.0.1", port=server.port, username="hotline", secret="hotline-secret",
                    loop=asyncio.get_running_loop(), reconnect_timeout=0)
        m.connect()
        while not m.authenticated:
            await asyncio.sleep(0.01)
        m.send_action({"Action": "Originate", "Channel": "Local/1@trunk-out", "Context": "x", "Exten": "8002",
                       "Async": "true"})
        while not any(a.get("Action") == "Originate" for a in server.actions):
            await asyncio.sleep(0.01)
        server.drop_connections()
        for _ in range(300):
            if sum(a.get("Action") == "Originate" for a in server.actions) == 2:
                break
            await asyncio.sleep(0.01)
        m.close()
    assert sum(a.get("Action") == "Originate" for a in server.actions) == 2


# 7. a keepalive that checks the reply --------------------------------------------------------

async def test_a_pbx_that_stops_answering_pings_is_dropped_and_reconnected() -> None:
    async with ReplayServer("07b_restart_after", answer_pings=False) as server:
        client = client_for(server, ping_interval=0.1, ping_timeout=0.1)
        await client.connect(timeout=5)
        for _ in range(300):
            if server.connections >= 2 and client.logged_in:
                break
            await asyncio.sleep(0.01)
        await client.close()
    # raw panoramisk's pinger sends Ping and never looks at the reply (verified by reading
    # Manager.ping in 1.4: `self.protocol.send({'Action': 'Ping'})`, result discarded)
    assert server.connections >= 2


# 8. a wrong password ----------------------------------------------------------------------

async def test_a_wrong_password_raises_instead_of_passing_silently() -> None:
    async with ReplayServer("06a_login_failure", bad_secret=True) as server:
        client = client_for(server)
        with pytest.raises(AMILoginError, match="Authentication failed"):
            await client.connect(timeout=5)
        await asyncio.sleep(0.2)
    assert server.connections == 1  # a refused login is not retried in a loop


async def test_raw_panoramisk_says_nothing_about_a_wrong_password() -> None:
    async with ReplayServer("06a_login_failure", bad_secret=True) as server:
        m = Manager(host="127.0.0.1", port=server.port, username="hotline", secret="wrong",
                    loop=asyncio.get_running_loop(), reconnect_timeout=60)
        m.connect()
        await asyncio.sleep(0.3)
        assert m.authenticated is False  # and no exception anywhere
        m.close()


# 9. close() stops a scheduled reconnect ------------------------------------------------------

async def test_close_cancels_a_scheduled_reconnect() -> None:
    async with ReplayServer("07b_restart_after") as server:
        client = client_for(server, reconnect_min=0.2)
        await client.connect(timeout=5)
        server.drop_connections()
        while client.logged_in:
            await asyncio.sleep(0.01)
        await client.close()
        await asyncio.sleep(0.5)
    assert server.connections == 1


# malformed frames ---------------------------------------------------------------------------

async def test_a_garbage_frame_is_logged_with_its_text_and_skipped(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING)
    got = Collector()
    async with ReplayServer("01_answered_call", garbage_at={10: b"\x00\xffthis is not AMI\r\n\r\n"}) as server:
        client = client_for(server, got)
        await client.connect(timeout=5)
        await asyncio.wait_for(server.finished.wait(), 10)
        await asyncio.sleep(0.05)
        await client.close()
    assert "skipping a malformed AMI frame" in caplog.text and "this is not AMI" in caplog.text
    assert client.malformed == 1 and server.connections == 1
    assert sum(e.get("Event") == "Hangup" for e in got.events) == 4


async def test_list_actions_return_their_entries_and_an_error_reply_raises() -> None:
    async with ReplayServer("01_answered_call") as server:
        client = client_for(server)
        await client.connect(timeout=5)
        await asyncio.wait_for(server.finished.wait(), 10)
        listing = await client.core_show_channels()
        assert listing[0]["EventList"] == "start" and listing[-1]["Event"] == "CoreShowChannelsComplete"
        assert (await client.queue_pause("Local/8001@agents", False))["Message"] == "Interface unpaused successfully"
        await client.close()
    pause = next(a for a in server.actions if a.get("Action") == "QueuePause")
    assert pause["Paused"] == "false"
    assert frame(("A", "b")) == b"A: b\r\n\r\n"
