"""Asterisk's own call records (CDR) as the source of the calls the adapter did not see.

AMI keeps no history: a call that rings, is answered or refused while the adapter is down (or
its connection is) exists afterwards only in the PBX's CDR. Asterisk writes it to PostgreSQL
itself (cdr_pgsql, deploy/asterisk/cdr_pgsql.conf); the adapter reads it back — SELECT only —
for every window it did not see, from its last event before a disconnect or crash to the first
listing after it, and registers each inbound call from it (`calls_from_cdr`).

One call = the rows sharing a `linkedid`. Its *trunk rows* are those of the channel that ran the
trunk context (`dcontext` = HOTLINE_TRUNK_CONTEXT, or the `hotline-inbound` / `hotline-linelimit`
userfield the dialplan sets on it); an operator's answer is the earliest `answer` of a row whose
channel is an operator's (Local/8001@agents…, PJSIP/8001-…). Outcomes as DOMAIN.md counts them:

- answered  = an operator answered (wait = operator's answer − trunk start; talk = trunk end − answer)
- refused   = the line limit refused it: userfield `hotline-linelimit`, or the trunk never
              answered and its disposition is BUSY / CONGESTION (wait none, holds no line)
- abandoned = everything else: the trunk answered (ANSWERED) or not (NO ANSWER) and no operator
              did (wait = trunk end − trunk start)

Times are the PBX's (cdr_pgsql writes whole seconds; `timezone=UTC` in cdr_pgsql.conf).
Each fact carries data `cdr: true`; the store lets such a fact replace a call the adapter only
guessed (closed unseen, adopted at reconnect), never one it saw end — and, keyed by
(pbx, linkedid) like every fact, reading a window twice registers nothing twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telephony.ports import CallFact

log = logging.getLogger(__name__)

CDR_COLUMNS = ("linkedid", "uniqueid", "channel", "dstchannel", "dcontext", "src", "clid", "lastapp", "lastdata",
               "start", "answer", "end", "disposition", "userfield")
SEAT_PATTERN = r"^(?:Local|PJSIP|SIP|IAX2)/(\d{3,6})(?:[@\-;]|$)"
_TABLE_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
INBOUND_USERFIELDS = ("hotline-inbound", "hotline-linelimit")


@dataclass(frozen=True, slots=True)
class CdrRow:
    linkedid: str
    uniqueid: str
    channel: str
    dstchannel: str
    dcontext: str
    src: str
    start: datetime
    answer: datetime | None
    end: datetime
    disposition: str
    userfield: str
    lastapp: str = ""
    lastdata: str = ""
    clid: str = ""

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> CdrRow:
        def t(v: Any) -> datetime | None:
            if v is None or v == "":
                return None
            if isinstance(v, str):
                v = datetime.fromisoformat(v)
            return v if v.tzinfo else v.replace(tzinfo=UTC)

        start = t(m.get("start"))
        end = t(m.get("end")) or start
        assert start is not None and end is not None
        return cls(linkedid=str(m.get("linkedid") or ""), uniqueid=str(m.get("uniqueid") or ""),
                   channel=str(m.get("channel") or ""), dstchannel=str(m.get("dstchannel") or ""),
                   dcontext=str(m.get("dcontext") or ""), src=str(m.get("src") or ""), start=start,
                   answer=t(m.get("answer")), end=end, disposition=str(m.get("disposition") or "").upper(),
                   userfield=str(m.get("userfield") or ""), lastapp=str(m.get("lastapp") or ""),
                   lastdata=str(m.get("lastdata") or ""), clid=str(m.get("clid") or ""))


def _is_trunk(r: CdrRow, trunk_context: str) -> bool:
    return r.dcontext == trunk_context or r.userfield in INBOUND_USERFIELDS


def call_from_rows(rows: list[CdrRow], *, pbx: str, trunk_context: str = "inbound",
                   seat_pattern: str = SEAT_PATTERN) -> CallFact | None:
    """One call's rows → its final CallFact; None when it is not an inbound call (a callback,
    an internal call, a feature code)."""
    trunk = [r for r in rows if _is_trunk(r, trunk_context)]
    if not trunk:
        return None
    first = min(trunk, key=lambda r: (r.start, r.uniqueid))
    trunk = [r for r in trunk if r.channel == first.channel]
    start = first.start
    end = max(r.end for r in trunk)
    seat_re = re.compile(seat_pattern)
    ops = sorted((r.answer, seat_re.match(r.channel).group(1), r) for r in rows  # type: ignore[union-attr]
                 if r.channel != first.channel and not _is_trunk(r, trunk_context) and r.answer is not None
                 and r.answer >= start and seat_re.match(r.channel))
    trunk_answered = any(r.answer is not None for r in trunk)
    dispositions = {r.disposition for r in trunk}
    data: dict[str, Any] = {"cdr": True, "cdr_disposition": ",".join(sorted(dispositions))}
    queue = next((r.lastdata.split(",")[0] for r in trunk if r.lastapp == "Queue" and r.lastdata), None)
    number = first.src or None
    answered_at = None
    wait_s = talk_s = None
    seat = None
    if ops:
        answered_at, seat, _ = ops[0]
        outcome = "answered"
        wait_s = (answered_at - start).total_seconds()
        talk_s = max((end - answered_at).total_seconds(), 0.0)
    elif any(r.userfield == "hotline-linelimit" for r in trunk) or (
            not trunk_answered and dispositions & {"BUSY", "CONGESTION"}):
        outcome = "refused"
    else:
        outcome = "abandoned"
        wait_s = (end - start).total_seconds()
    return CallFact(pbx=pbx, linkedid=first.linkedid, uniqueid=first.uniqueid, direction="in",
                    caller_number=number, offered_at=start, answered_at=answered_at, ended_at=end,
                    outcome=outcome, seat=seat, queue=queue, line=None, wait_s=wait_s, talk_s=talk_s, data=data)


def calls_from_cdr(rows: Iterable[CdrRow], *, pbx: str, trunk_context: str = "inbound",
                   seat_pattern: str = SEAT_PATTERN) -> list[CallFact]:
    """Every inbound call in `rows` (grouped by linkedid), in the order they were offered."""
    by_call: dict[str, list[CdrRow]] = {}
    for r in rows:
        if r.linkedid:
            by_call.setdefault(r.linkedid, []).append(r)
    facts = [call_from_rows(rs, pbx=pbx, trunk_context=trunk_context, seat_pattern=seat_pattern)
             for rs in by_call.values()]
    return sorted((f for f in facts if f is not None), key=lambda f: (f.offered_at, f.linkedid))


def check_table_name(table: str) -> str:
    if not _TABLE_OK.match(table):
        raise ValueError(f"HOTLINE_CDR_TABLE must be a table name (optionally schema.table), got {table!r}")
    return table


class CdrReader:
    """Reads a window of the CDR table (PostgreSQL, read-only use) with psycopg."""

    def __init__(self, url: str, table: str = "cdr", timeout: float = 10.0) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://").replace("postgresql+asyncpg://",
                                                                                   "postgresql://")
        self.table = check_table_name(table)
        self.timeout = timeout

    async def read(self, since: datetime, until: datetime) -> list[CdrRow]:
        """Every row of every call that was up at some time in [since, until]: a row ending at or
        after `since` and starting at or before `until` names the call; all its rows come back."""
        import psycopg  # only with a CDR database (cdr_pgsql); the adapter runs without it
        from psycopg import sql  # only with a CDR database
        from psycopg.rows import dict_row  # only with a CDR database

        table = sql.SQL(".").join(sql.Identifier(p) for p in self.table.split("."))
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in CDR_COLUMNS)
        query = sql.SQL(
            "SELECT {cols} FROM {t} WHERE linkedid IN "
            '(SELECT linkedid FROM {t} WHERE "end" >= %s AND start <= %s) ORDER BY start, uniqueid'
        ).format(cols=cols, t=table)
        naive = [since.astimezone(UTC).replace(tzinfo=None), until.astimezone(UTC).replace(tzinfo=None)]
        async with await psycopg.AsyncConnection.connect(self.url, connect_timeout=int(self.timeout),
                                                         autocommit=True, row_factory=dict_row) as conn:
            cur = await conn.execute(query, naive)
            return [CdrRow.from_mapping(r) for r in await cur.fetchall()]
