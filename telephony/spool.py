"""The durable spool: call facts wait here until the store has them.

One SQLite file under HOTLINE_DATA_DIR (stdlib sqlite3, WAL). Every fact the tracker emits is
appended here first — so a fact accepted from the PBX survives the database being away and
the adapter being SIGKILLed — and deleted only after the sink has written it. Facts leave in
append order; a batch that fails stays and is retried as a whole. A crash between the sink's
commit and the delete re-sends that batch once more, which the sink's idempotent upsert
absorbs: in order, exactly once in effect.

The same file keeps a journal of calls still in progress, so that a restarted adapter can take
them back and reconcile them with the PBX (CoreShowChannels).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from telephony.ports import CallFact


class Spool:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL: a committed append survives a process kill (not a power cut)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, fact TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS open_calls (pbx TEXT, linkedid TEXT, fact TEXT NOT NULL,"
                         " PRIMARY KEY (pbx, linkedid))")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def append(self, facts: Sequence[CallFact]) -> None:
        """Durably append facts (one transaction) and keep the in-progress journal in step."""
        if not facts:
            return
        cur = self._db.cursor()
        cur.execute("BEGIN")
        try:
            cur.executemany("INSERT INTO spool (fact) VALUES (?)",
                            [(json.dumps(f.to_json(), ensure_ascii=False),) for f in facts])
            for f in facts:
                if f.is_final:
                    cur.execute("DELETE FROM open_calls WHERE pbx = ? AND linkedid = ?", (f.pbx, f.linkedid))
                else:
                    cur.execute("INSERT OR REPLACE INTO open_calls (pbx, linkedid, fact) VALUES (?, ?, ?)",
                                (f.pbx, f.linkedid, json.dumps(f.to_json(), ensure_ascii=False)))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def peek(self, limit: int = 500) -> tuple[int, list[CallFact]]:
        """The oldest facts, up to `limit`, and the sequence number of the last one (0 if none)."""
        rows = self._db.execute("SELECT seq, fact FROM spool ORDER BY seq LIMIT ?", (limit,)).fetchall()
        if not rows:
            return 0, []
        return rows[-1][0], [CallFact.from_json(json.loads(r[1])) for r in rows]

    def ack(self, upto_seq: int) -> None:
        """The sink has written everything up to and including `upto_seq`."""
        self._db.execute("DELETE FROM spool WHERE seq <= ?", (upto_seq,))

    def pending(self) -> int:
        return self._db.execute("SELECT count(*) FROM spool").fetchone()[0]

    def open_calls(self, pbx: str | None = None) -> list[CallFact]:
        q = "SELECT fact FROM open_calls"
        args: tuple[str, ...] = ()
        if pbx is not None:
            q, args = q + " WHERE pbx = ?", (pbx,)
        return [CallFact.from_json(json.loads(r[0])) for r in self._db.execute(q, args).fetchall()]

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self._db.close()
