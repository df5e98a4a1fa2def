#!/usr/bin/env python3
"""Side by side in one run: django-helpdesk's REST API (the peer, set up by
../shared/peers/django-helpdesk/setup_peer.sh under $PEER, database `helpdesk` on the same
PostgreSQL) and our POST /api/v1/tickets, the same load generator, alternating runs.

    PEER=/root/peers/django-helpdesk .venv/bin/python bench/compare_peer.py --total 3000 --runs 3

Ports: --port (ours, default 8765) and --peer-port (gunicorn, default 8001; passed to the
harness's server.sh as PORT). The peer's database name comes from $HD_PG_NAME (the peer's
settings; default `helpdesk`), ours from $HOTLINE_BENCH_DB (api_create.py).

Prints the medians and the ratio ours/peer for throughput and p99.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_create as ours  # noqa: E402

HARNESS = ours.LOADGEN.parent


def peer_token() -> str:
    peer = os.environ["PEER"]
    code = ("import django;django.setup();from rest_framework.authtoken.models import Token;"
            "print(Token.objects.get(user__username='operator').key)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hdsite.settings", "PYTHONPATH": peer, "HD_DB": "pg"}
    return subprocess.run([f"{peer}/venv/bin/python", "-c", code], env=env, cwd=peer, capture_output=True,
                          text=True, check=True).stdout.strip()


def peer_run(conc: int, total: int, out: Path, token: str, port: int) -> dict:  # type: ignore[type-arg]
    out.unlink(missing_ok=True)
    subprocess.run([sys.executable, str(ours.LOADGEN), "--base", f"http://127.0.0.1:{port}", "--path",
                    "/helpdesk/api/tickets/", "--method", "POST", "--ok", "201", "-H", f"Authorization: Token {token}",
                    "--body", '{"queue": {QUEUE}, "title": "{TITLE}", "description": "{DESC}", "priority": {PRIO}}',
                    "--conc", str(conc), "--total", str(total), "--max-seconds", "300", "--out", str(out)], check=True)
    return json.loads(out.read_text().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--total", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conc", default="10,50")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--peer-port", type=int, default=8001)
    a = ap.parse_args()
    env = {**os.environ, "HD_DB": "pg", "PORT": str(a.peer_port)}
    base = f"http://127.0.0.1:{a.port}"
    subprocess.run(["bash", str(HARNESS / "server.sh"), "start"], env=env, check=True)
    url, token = ours.setup_db()
    srv = subprocess.Popen([str(ours.ROOT / ".venv/bin/hotline"), "serve", "--workers", "2", "--port", str(a.port)],
                           env={**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": tempfile.mkdtemp(),
                                "HOTLINE_DB_POOL_SIZE": "20"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        ptoken = peer_token()
        out = Path(tempfile.mkdtemp()) / "lg.jsonl"
        res: dict[tuple[str, int], list[dict]] = {}  # type: ignore[type-arg]
        for conc in map(int, a.conc.split(",")):
            for _ in range(a.runs):
                res.setdefault(("peer", conc), []).append(peer_run(conc, a.total, out, ptoken, a.peer_port))
                ours.truncate(url)
                res.setdefault(("ours", conc), []).append(ours.loadgen(base, token, conc, a.total, "ours", out))
        print("\n| clients | system | tickets/s | p50 ms | p99 ms |")
        print("|---|---|---|---|---|")
        for conc in map(int, a.conc.split(",")):
            for who in ("peer", "ours"):
                rs = res[(who, conc)]
                print(f"| {conc} | {'django-helpdesk 2.6.1 (DRF, gunicorn 2 sync)' if who == 'peer' else 'Hotline 12345 (uvicorn 2 workers)'} | "
                      f"{statistics.median(r['rps'] for r in rs):.1f} | {statistics.median(r['p50_ms'] for r in rs):.1f} | "
                      f"{statistics.median(r['p99_ms'] for r in rs):.1f} |")
            o, p = res[("ours", conc)], res[("peer", conc)]
            print(f"| {conc} | ratio ours/peer | ×{statistics.median(r['rps'] for r in o) / statistics.median(r['rps'] for r in p):.1f} | | "
                  f"p99 ×{statistics.median(r['p99_ms'] for r in o) / statistics.median(r['p99_ms'] for r in p):.2f} |")
    finally:
        srv.terminate()
        srv.wait(10)
        subprocess.run(["bash", str(HARNESS / "server.sh"), "stop"], env=env)


if __name__ == "__main__":
    main()
