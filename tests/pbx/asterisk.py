"""A real Asterisk 22 for the `pbx` test tier: the relocatable build in ../shared/pbx, started on a
free loopback port with the project's own configs (deploy/asterisk adapted to Local channels).

- manager.conf: deploy/asterisk/manager.conf's `[hotline]` user as shipped (its rights and event
  filters; test secret), plus a `driver` user (all) that places the calls, as the captures did;
- extensions.conf: the Local-channel model of the captures (citizens, operators, PSTN phones) plus
  deploy/asterisk/extensions.conf's `[phone-features]` (*21/*22) as shipped, reached from
  `[phones-test]`;
- cdr_pgsql.conf: deploy/asterisk/cdr_pgsql.conf with the test run's database, written by the
  role deploy/asterisk/cdr_pgsql.sql gives Asterisk (INSERT only).
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "asterisk"
HOTLINE_SECRET = "hotline-test-secret"
DRIVER_SECRET = "driver-secret"


def find_package() -> Path | None:
    """The Asterisk build: $HOTLINE_PBX_DIR, else ../shared/pbx/asterisk-* next to the checkout."""
    env = os.environ.get("HOTLINE_PBX_DIR")
    if env:
        return Path(env) if (Path(env) / "start.sh").exists() else None
    for base in (ROOT.parent / "shared" / "pbx", ROOT / ".." / ".." / "shared" / "pbx"):
        found = sorted(glob.glob(str(base / "asterisk-*" / "start.sh")), reverse=True)
        if found:
            return Path(found[0]).parent.resolve()
    return None


def missing_libraries(pkg: Path) -> list[str]:
    """Shared libraries the daemon cannot find (scripts/sysdeps.sh installs their packages)."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(pkg / "lib")}
    try:
        out = subprocess.run(["ldd", str(pkg / "sbin" / "asterisk")], env=env, capture_output=True,
                             text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split()[0] for line in out.splitlines() if "not found" in line]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def _section(text: str, name: str) -> str:
    """One `[name]` section of an Asterisk config, up to the next section."""
    m = re.search(rf"^\[{re.escape(name)}\][^\n]*\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    assert m, f"[{name}] not found"
    return f"[{name}]\n{m.group(1)}"


def manager_conf() -> str:
    deployed = (DEPLOY / "manager.conf").read_text()
    deployed = re.sub(r"^secret = .*$", f"secret = {HOTLINE_SECRET}", deployed, count=1, flags=re.M)
    return deployed + f"""
; the scenario driver of the tests (places the calls, as the captures' client did)
[driver]
secret = {DRIVER_SECRET}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all
writetimeout = 1000
"""


def extensions_conf(pkg: Path) -> str:
    model = (pkg / "configs" / "extensions.conf").read_text()
    deployed = (DEPLOY / "extensions.conf").read_text()
    features = _section(deployed, "phone-features")
    record = _section(deployed, "record-call")
    return model + f"""
; ---- the shipped feature codes (deploy/asterisk/extensions.conf), on Local channels ----
[phones-test]
include => phone-features

{features}

; ---- the shipped recording (deploy/asterisk [record-call]) on an answered Local call: the
; callee answers, starts MixMonitor as the queue's Gosub does, hears music for RECORD_TALK s ----
{record}

[record-test]
exten => talk,1,Answer()
 same => n,Gosub(record-call,s,1)
 same => n,MusicOnHold(default,${{RECORD_TALK}})
 same => n,Hangup()
"""


def cdr_pgsql_conf(dbname: str, host: str, port: int, user: str) -> str:
    text = (DEPLOY / "cdr_pgsql.conf").read_text()
    for key, value in (("hostname", host), ("port", str(port)), ("dbname", dbname), ("user", user)):
        text = re.sub(rf"^{key}=.*$", f"{key}={value}", text, flags=re.M)
    return re.sub(r"^password=.*$", ";password=", text, flags=re.M)


@dataclass
class Asterisk:
    pkg: Path
    rundir: Path
    port: int
    cdr_url: str  # the adapter's (SELECT-only) URL to the CDR database
    cdr_admin_url: str
    extra: Path
    pid: int | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        out = subprocess.run([str(self.pkg / "start.sh"), str(self.rundir), str(self.port)], env=self.env,
                             capture_output=True, text=True, timeout=90)
        if out.returncode != 0:
            raise RuntimeError(f"start.sh failed ({out.returncode}): {out.stderr[-3000:]}")
        self.pid = int(out.stdout.strip().splitlines()[-1])
        self.starts += 1

    def stop(self) -> None:
        subprocess.run([str(self.pkg / "stop.sh"), str(self.rundir)], capture_output=True, timeout=60)
        self.pid = None

    def cli(self, command: str) -> str:
        out = subprocess.run([str(self.pkg / "cli.sh"), str(self.rundir), command], capture_output=True,
                             text=True, timeout=30)
        return out.stdout + out.stderr

    @property
    def queue_log(self) -> Path:
        return self.rundir / "log" / "queue_log"

    def messages(self) -> str:
        p = self.rundir / "log" / "messages.log"
        return p.read_text(errors="replace") if p.exists() else ""


def make_asterisk(pkg: Path, cdr_db_url: str, cdr_admin_url: str) -> Asterisk:
    """Write the configs, create the CDR table and roles; not started yet."""
    import psycopg

    with psycopg.connect(cdr_admin_url, autocommit=True) as c:
        for attempt in range(3):
            try:
                c.execute((DEPLOY / "cdr_pgsql.sql").read_text())
                break
            except psycopg.errors.UniqueViolation:  # two test runs creating the roles at once
                if attempt == 2:
                    raise
    m = re.match(r"postgresql://(?:[^@]*@)?([^:/]+)(?::(\d+))?/(.+)$", cdr_admin_url)
    assert m, cdr_admin_url
    host, port, dbname = m.group(1), int(m.group(2) or 5432), m.group(3)
    rundir = Path(tempfile.mkdtemp(prefix="hl-pbx-", dir="/tmp"))
    extra = rundir.with_name(rundir.name + "-etc")
    extra.mkdir()
    (extra / "manager.conf").write_text(manager_conf())
    (extra / "extensions.conf").write_text(extensions_conf(pkg))
    (extra / "cdr_pgsql.conf").write_text(cdr_pgsql_conf(dbname, host, port, "asterisk_cdr"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PBX_")}
    env["PBX_EXTRA_CONFIGS"] = str(extra)
    reader = f"postgresql://hotline_cdr@{host}:{port}/{dbname}"
    return Asterisk(pkg, rundir, free_port(), reader, cdr_admin_url, extra, env=env)


def cleanup(ast: Asterisk) -> None:
    ast.stop()
    shutil.rmtree(ast.extra, ignore_errors=True)
    if not os.environ.get("HOTLINE_KEEP_PBX"):
        shutil.rmtree(ast.rundir, ignore_errors=True)


# ---- the driver: a plain AMI client that places calls and records every event ---------------


class Driver:
    """Logs in as `driver` (read/write all) and places calls as the capture client did."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.events: list[dict[str, str]] = []
        self._replies: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._lists: dict[str, list[dict[str, str]]] = {}
        self._seq = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def connect(self, username: str = "driver", secret: str = DRIVER_SECRET) -> dict[str, str]:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        await self._reader.readline()  # banner
        self._task = asyncio.create_task(self._read())
        return await self.action({"Action": "Login", "Username": username, "Secret": secret})

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self._writer:
            self._writer.close()

    async def _read(self) -> None:
        assert self._reader
        buf = b""
        while True:
            chunk = await self._reader.read(65536)
            if not chunk:
                return
            buf += chunk
            while b"\r\n\r\n" in buf:
                raw, buf = buf.split(b"\r\n\r\n", 1)
                msg: dict[str, str] = {}
                for line in raw.decode("utf-8", "replace").split("\r\n"):
                    k, sep, v = line.partition(": ")
                    if sep and k not in msg:
                        msg[k] = v
                aid = msg.get("ActionID", "")
                if "Event" in msg:
                    if aid in self._lists:
                        self._lists[aid].append(msg)
                        if msg.get("EventList") == "Complete" or msg["Event"].endswith("Complete"):
                            fut = self._replies.pop(aid, None)
                            if fut and not fut.done():
                                fut.set_result({"Response": "Success", "List": "1"})
                    else:
                        self.events.append(msg)
                elif aid in self._replies:
                    if aid in self._lists and msg.get("EventList") == "start":
                        continue
                    if aid in self._lists and msg.get("Response") == "Success" and "EventList" in msg:
                        continue
                    fut = self._replies.pop(aid)
                    if not fut.done():
                        fut.set_result(msg)

    async def action(self, fields: dict[str, Any], *, listing: bool = False,
                     timeout: float = 15.0) -> dict[str, str]:
        assert self._writer
        self._seq += 1
        aid = f"drv-{self._seq}"
        fut: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._replies[aid] = fut
        if listing:
            self._lists[aid] = []
        lines = [f"{k}: {v}" for k, v in fields.items() if not isinstance(v, list)]
        for k, v in fields.items():
            if isinstance(v, list):
                lines += [f"{k}: {x}" for x in v]
        self._writer.write(("\r\n".join([*lines, f"ActionID: {aid}"]) + "\r\n\r\n").encode())
        reply = await asyncio.wait_for(fut, timeout)
        if listing:
            reply = {**reply, "_items": self._lists.pop(aid)}  # type: ignore[dict-item]
        return reply

    async def inbound(self, number: str, patience: float) -> dict[str, str]:
        """A citizen calls: Originate Local/<number>@inbound → Context=citizen (the captures' way)."""
        return await self.action({"Action": "Originate", "Channel": f"Local/{number}@inbound",
                                  "Context": "citizen", "Exten": number, "Priority": "1",
                                  "CallerID": f'"{number}" <{number}>', "Async": "true",
                                  "Variable": f"CITIZEN_PATIENCE={patience:g}"})

    async def setvar_global(self, name: str, value: str) -> None:
        await self.action({"Action": "Setvar", "Variable": name, "Value": value})

    async def feature_code(self, code: str, *, caller: str | None = None, seat_var: str | None = None) -> None:
        """Dial *21/*22 from a simulated phone (a Local channel in [phones-test])."""
        fields: dict[str, Any] = {"Action": "Originate", "Channel": f"Local/{code}@phones-test",
                                  "Application": "Wait", "Data": "1", "Async": "true"}
        if caller:
            fields["CallerID"] = f'"phone {caller}" <{caller}>'
        if seat_var:
            fields["Variable"] = f"HOTLINE_SEAT={seat_var}"
        await self.action(fields)

    async def channels(self) -> list[dict[str, str]]:
        reply = await self.action({"Action": "CoreShowChannels"}, listing=True)
        return [m for m in reply["_items"] if m.get("Event") == "CoreShowChannel"]  # type: ignore[union-attr]
