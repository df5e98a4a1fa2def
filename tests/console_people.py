"""The console's personas with passwords, and a signed-in httpx client (tests of issue 4).

conftest.make_personas creates people without passwords (the API uses bearer tokens); the
console signs in with a password, so these are added with one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from callcenter.entry.seed import seed_reference
from callcenter.people.auth import add_user
from callcenter.store.db import Database
from callcenter.store.models import Role

PASSWORD = "hotline-test-pw"
PEOPLE = [
    # username, display name, role, department, seat
    ("lina", "李娜", Role.operator, None, "8001"),
    ("zhangwei", "张伟", Role.clerk, "zjj", None),
    ("wangfang", "王芳", Role.clerk, "cgj", None),
    ("chenjing", "陈静", Role.supervisor, None, None),
    ("admin", "管理员", Role.admin, None, None),
]
ROLE_OF = {u: r for u, _, r, _, _ in PEOPLE}


async def seed_console_people(db: Database) -> None:
    await seed_reference(db)
    for username, name, role, dep, seat in PEOPLE:
        await add_user(db, username, role, display_name=name, department=dep, password=PASSWORD, seat=seat)


_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


@dataclass
class Session:
    client: httpx.AsyncClient
    csrf: str


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> Session:
    r = await client.get("/login")
    token = csrf_of(r.text)
    r = await client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 303, (r.status_code, r.text[:500])
    r = await client.get(r.headers["location"])
    return Session(client, csrf_of(r.text))
