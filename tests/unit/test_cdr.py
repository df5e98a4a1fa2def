"""Asterisk's CDR → calls (telephony.cdr), against the real CDR files of the captures: the same
outcomes as the tracker found in the AMI stream, and waits equal to queue_log's within 1 s."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from telephony.cdr import CdrRow, calls_from_cdr

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "ami" / "asterisk-logs"
# Master.csv columns (cdr_csv with loguniqueid and loguserfield)
CSV = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata", "start",
       "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield")


def rows_of(name: str) -> list[CdrRow]:
    out = []
    with (LOGS / f"{name}.cdr.csv").open(newline="") as f:
        for rec in csv.reader(f):
            out.append(dict(zip(CSV, rec, strict=False)))
    # cdr_csv has no linkedid column (cdr_pgsql has): in these one-call captures the rows of a call
    # are the ones that started in the same second
    by_start: dict[str, str] = {}
    rows = []
    for m in out:
        key = m["start"]
        by_start.setdefault(key, m["uniqueid"])
        m["linkedid"] = by_start[key]
        m["start"] = datetime.fromisoformat(m["start"])
        m["end"] = datetime.fromisoformat(m["end"])
        m["answer"] = datetime.fromisoformat(m["answer"]) if m["answer"] else None
        rows.append(CdrRow.from_mapping(m))
    return rows


def queue_log(name: str) -> dict[str, tuple[str, int]]:
    """call uniqueid → (CONNECT|ABANDON, wait) from Asterisk's queue_log."""
    out = {}
    for line in (LOGS / f"{name}.queue_log").read_text().splitlines():
        p = line.split("|")
        if p[4] == "CONNECT":
            out[p[1]] = ("answered", int(p[5]))
        elif p[4] == "ABANDON":
            out[p[1]] = ("abandoned", int(p[7]))
    return out


@pytest.mark.parametrize(("name", "expected"), [
    ("01_answered_call", {"answered": 1}),
    ("02_queue_abandon", {"abandoned": 1}),
    ("02b_abandon_while_ringing", {"abandoned": 1}),
])
def test_cdr_rows_give_the_outcome_and_the_queue_logs_wait(name: str, expected: dict[str, int]) -> None:
    facts = calls_from_cdr(rows_of(name), pbx="default")
    assert Counter(f.outcome for f in facts) == expected
    ql = queue_log(name)
    for f in facts:
        outcome, wait = ql[f.uniqueid or ""]
        assert f.outcome == outcome
        assert f.wait_s is not None and abs(f.wait_s - wait) <= 1.0, (f.wait_s, wait)
        assert f.data["cdr"] is True and f.ended_at is not None
    if expected.get("answered"):
        assert facts[0].seat == "8001" and facts[0].talk_s == 7.0


def test_the_line_limit_is_a_refused_call_without_wait_or_line() -> None:
    rows = [r for r in rows_of("03_line_limit") if r.userfield == "hotline-linelimit"]
    [f] = calls_from_cdr(rows, pbx="default")
    assert (f.outcome, f.caller_number, f.wait_s, f.line) == ("refused", "13548967012", None, None)


def test_callbacks_and_feature_codes_are_not_inbound_calls() -> None:
    rows = rows_of("05a_callback_citizen_first")
    assert calls_from_cdr(rows, pbx="default") == []


def test_no_answer_and_congestion_mapping() -> None:
    t = datetime(2026, 12, 1, 9, 0, 0)
    base = {"linkedid": "1.1", "uniqueid": "1.2", "channel": "PJSIP/hotline-trunk-0001", "dcontext": "inbound",
            "src": "13800000000", "start": t, "end": t.replace(second=5), "userfield": ""}
    [no_answer] = calls_from_cdr([CdrRow.from_mapping({**base, "answer": None, "disposition": "NO ANSWER"})],
                                 pbx="p")
    assert (no_answer.outcome, no_answer.wait_s) == ("abandoned", 5.0)
    [congested] = calls_from_cdr([CdrRow.from_mapping({**base, "answer": None, "disposition": "CONGESTION"})],
                                 pbx="p")
    assert congested.outcome == "refused"
