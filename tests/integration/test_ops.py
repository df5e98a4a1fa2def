"""Operations endpoints (issue 7): /readyz reads the database, the bus and what the telephony
adapter and the scheduler leader record; /metrics speaks Prometheus text; logs can be JSON."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from callcenter.core.logs import JsonFormatter, log_context, reset_context
from callcenter.core.settings import Settings
from callcenter.entry.app import create_app
from callcenter.ops.heartbeat import beat
from callcenter.store.db import Database
from callcenter.store.models import SchedulerLease, utcnow
from tests.conftest import make_personas
from tests.livesrv import serve

BODY = {"kind": "complaint", "category": "物业管理", "content": "小区电梯故障", "caller_phone": "13812345678"}


async def _telephony(db: Database, logged_in: bool, age_s: float = 0.0, spool: int = 3) -> None:
    await beat(db, "telephony:default", "telephony",
               {"pbx": "default", "ami_logged_in": logged_in, "lines_in_use": 4, "lines_limit": 10,
                "queue_waiting": 2, "spool_depth": spool, "calls_written": 17}, utcnow())
    if age_s:
        from sqlalchemy import update

        from callcenter.store.models import ProcessHeartbeat

        async with db.transaction() as s:
            await s.execute(update(ProcessHeartbeat).where(ProcessHeartbeat.name == "telephony:default")
                            .values(beat_at=utcnow() - timedelta(seconds=age_s)))


async def _lease(db: Database, age_s: float) -> None:
    async with db.transaction() as s:
        await s.merge(SchedulerLease(name="scheduler", holder="sched-a", renewed_at=utcnow() - timedelta(seconds=age_s)))


async def test_readyz_and_metrics(database: Database, tmp_path: Path) -> None:
    people = await make_personas(database)
    # the app opens its own connections, in the server's event loop
    with serve(create_app, settings=Settings(data_dir=tmp_path, database_url=database.url)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as c:
            r = await c.get("/readyz")
            body = r.json()
            # no adapter, no scheduler yet: the web worker itself is ready (200), the whole is degraded
            assert r.status_code == 200 and body["status"] == "degraded", body
            assert body["checks"]["database"]["ok"] and body["checks"]["bus"]["ok"]
            assert (await c.get("/readyz?strict=1")).status_code == 503

            await _telephony(database, True)
            await _lease(database, 2)
            r = await c.get("/readyz?strict=1")
            assert r.status_code == 200 and r.json()["status"] == "ok", r.json()
            tel = r.json()["checks"]["telephony"][0]
            assert tel["ami_logged_in"] and tel["spool_depth"] == 3
            assert r.json()["checks"]["scheduler"]["leader"] == "sched-a"

            await _telephony(database, True, age_s=120)  # the adapter stopped reporting
            r = await c.get("/readyz")
            assert r.json()["status"] == "degraded" and not r.json()["checks"]["telephony"][0]["ami_logged_in"]
            await _telephony(database, False)  # reporting, but the AMI link is down
            assert (await c.get("/readyz?strict=1")).status_code == 503
            await _lease(database, 300)  # the leader is gone
            assert not (await c.get("/readyz")).json()["checks"]["scheduler"]["ok"]

            await _telephony(database, True, spool=5)
            h = {"Authorization": f"Bearer {people.tokens['lina']}"}
            for _ in range(3):
                assert (await c.post("/api/v1/tickets", json=BODY, headers=h)).status_code == 201
            number = (await c.get("/api/v1/tickets", headers=h)).json()["items"][0]["number"]
            assert (await c.get(f"/api/v1/tickets/{number}", headers=h)).status_code == 200
            assert (await c.get("/nowhere")).status_code == 404
            m = await c.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    t = m.text
    assert 'hotline_http_requests_total{method="POST",route="/api/v1/tickets",status="201"} 3' in t
    assert 'route="/api/v1/tickets/{number}",status="200"} 1' in t  # a template, never the raw number
    assert 'route="(unmatched)",status="404"' in t
    assert re.search(r'hotline_http_request_duration_seconds_bucket\{method="POST",route="/api/v1/tickets",'
                     r'le="\+Inf"\} 3', t)
    assert 'hotline_http_request_duration_seconds_count{method="POST",route="/api/v1/tickets"} 3' in t
    assert 'hotline_tickets{status="registered"} 3' in t
    assert 'hotline_spool_depth{pbx="default"} 5' in t
    assert 'hotline_lines_in_use{pbx="default"} 4' in t and 'hotline_queue_waiting{pbx="default"} 2' in t
    assert 'hotline_ami_up{pbx="default"} 1' in t
    assert "hotline_scheduler_leader_up 0" in t
    # every sample line is name{labels} value: what a Prometheus scraper accepts
    for line in t.splitlines():
        assert line.startswith("# ") or re.fullmatch(r'[a-z_]+(\{.*\})? -?[0-9.e+]+', line), line


def test_json_log_lines_carry_the_ticket_and_the_call() -> None:
    out = io.StringIO()
    h = logging.StreamHandler(out)
    h.setFormatter(JsonFormatter("web"))
    lg = logging.getLogger("test.ops.json")
    lg.addHandler(h)
    lg.propagate = False
    lg.setLevel(logging.INFO)
    try:
        tok = log_context(ticket="GD20261128-0007")
        lg.warning("派单 %s", "住建局", extra={"linkedid": "1764300000.12"})
        reset_context(tok)
        lg.info("no context")
    finally:
        lg.removeHandler(h)
    first, second = (json.loads(x) for x in out.getvalue().splitlines())
    assert first["msg"] == "派单 住建局" and first["ticket"] == "GD20261128-0007"
    assert first["linkedid"] == "1764300000.12" and first["level"] == "warning" and first["proc"] == "web"
    assert "ticket" not in second


@pytest.mark.parametrize("fmt", ["yaml"])
def test_a_bad_log_format_is_refused(fmt: str) -> None:
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format=fmt)
