"""Reading the recorded AMI captures (tests/fixtures/ami) without a network."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CAPTURES = Path(__file__).parent / "fixtures" / "ami"


@dataclass(frozen=True)
class Record:
    t: float
    dir: str
    raw: str


def records(name: str) -> list[Record]:
    path = CAPTURES / (name if name.endswith(".jsonl") else f"{name}.jsonl")
    with path.open(encoding="utf-8") as f:
        return [Record(**json.loads(line)) for line in f if line.strip()]


def parse(raw: str) -> dict[str, str]:
    """One AMI message as a dict (first value of a repeated key wins, like the tracker reads)."""
    msg: dict[str, str] = {}
    for line in raw.split("\r\n"):
        k, sep, v = line.partition(": ")
        if sep:
            msg.setdefault(k, v)
    return msg


def first_epoch(recs: list[Record]) -> float:
    """The PBX clock at the capture's start, from the first Uniqueid (epoch.sequence)."""
    for r in recs:
        for line in r.raw.split("\r\n"):
            if line.startswith("Uniqueid: ") and line[10:11].isdigit():
                return float(line[10:].split(".")[0])
    return 1_795_721_400.0


def inbound_messages(name: str, drop_events: tuple[str, ...] = ()) -> list[tuple[float, dict[str, str]]]:
    """(time, message) for every message received, time on the PBX's epoch scale."""
    recs = records(name)
    t0 = first_epoch(recs)
    out = []
    for r in recs:
        if r.dir != "in" or r.raw.startswith("Asterisk Call Manager"):
            continue
        msg = parse(r.raw)
        if msg.get("Event") in drop_events:
            continue
        out.append((t0 + r.t, msg))
    return out
