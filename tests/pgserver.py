"""Find or start the PostgreSQL server the tests use.

Order: $HOTLINE_TEST_PG (an admin URL), then a server on 127.0.0.1:5432 (the project's
machines run one), then a throwaway cluster started with initdb/pg_ctl under the test
output folder. Where none can be had, PostgreSQL tests are skipped — loudly — except under
CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import psycopg


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as c:
            c.execute("select 1")
        return True
    except Exception:
        return False


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return found[0] if found else shutil.which(name)


def _throwaway_cluster() -> str | None:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        return None
    base = tempfile.mkdtemp(prefix="hotline-pg-")
    data = os.path.join(base, "data")
    port = _free_port()
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres")
    try:
        subprocess.run(
            [*run_as, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*run_as, pg_ctl, "-D", data, "-l", os.path.join(base, "log"), "-w", "-o",
             f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, FileNotFoundError, KeyError):
        return None
    atexit.register(
        lambda: subprocess.run([*run_as, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    for _ in range(50):
        if _can_connect(url):
            return url
        time.sleep(0.1)
    return None


_admin_url: str | None | bool = False


def admin_url() -> str | None:
    """An URL to a maintenance database with the right to create databases, or None."""
    global _admin_url
    if _admin_url is False:
        candidates = [os.environ.get("HOTLINE_TEST_PG"), "postgresql://postgres@127.0.0.1:5432/postgres"]
        _admin_url = next((u for u in candidates if u and _can_connect(u)), None) or _throwaway_cluster()
    return _admin_url or None


def create_database(prefix: str = "hotline_test") -> str:
    """Create a fresh database; return its URL. Dropped at exit."""
    admin = admin_url()
    assert admin
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        try:
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:
            pass

    atexit.register(drop)
    base = admin.rsplit("/", 1)[0]
    return f"{base}/{name}"
