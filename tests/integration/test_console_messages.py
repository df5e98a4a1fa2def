"""Every message a console user can see is Chinese (issue 12). The test walks every console
route (ROUTE_ROLES) through its error paths — as a role it admits: the form empty, every field
garbage, the case / entry / task / user it names missing; as a role it refuses; without the
CSRF token; a GET with a malformed query — and collects what the user reads: the error page's
title and text, flash messages, the problems beside the form's fields, a fragment's or JSON
answer's message. It fails on any message without CJK text, or with an English sentence in it.
"""

from __future__ import annotations

import asyncio
import json
import re
from html import unescape
from typing import Any

import httpx

from callcenter.store.models import Role
from callcenter.web.render import ROUTE_ROLES
from tests.console_people import ROLE_OF, sign_in
from tests.integration.test_console_authz import BODIES, QUERIES, STREAMS, client, fill
from tests.integration.test_console_authz import world as world  # noqa: F401 - the fixture

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z']{2,}){2,}\b")  # three English words in a row
MESSAGE_HTML = [
    re.compile(r'<section class="card error-page">\s*<h1>(.*?)</h1>\s*<p>(.*?)</p>', re.S),
    re.compile(r'<div class="flash [^"]*"[^>]*>(.*?)</div>', re.S),
    re.compile(r'<span class="field-error"[^>]*>(.*?)</span>', re.S),
]
USER_OF = {role: next(u for u, r in ROLE_OF.items() if r is role and u != "wangfang") for role in Role}
GARBAGE = {
    "caller_phone": "abc", "kind": "nonsense", "category": "没有这个分类", "content": "", "then": "fly",
    "department": "没有这个局", "into": "GD00000000-9999", "action": "fly", "version": "x", "until": "2026-13-45",
    "paused": "7", "code": "", "name": "", "username": "", "password": "1", "role": "king", "seat": "abc",
    "priority": "many", "department_id": "x", "category_id": "x", "active": "9", "kb_entry": "NOPE:1",
    "resolve_working_days": "999", "result": "fly", "outcome": "fly", "approve": "maybe", "words": "一",
    "title": "", "answer": "", "reason": "", "valid_from": "2026-02-30", "valid_until": "yesterday",
    "satisfaction": "fly", "note": "", "date": "not-a-date", "year": "1", "month": "13",
}
MISSING_IDS = {"number": "GD00000000-9999", "code": "NOPE", "dep_id": 999999, "rule_id": 999999,
               "user_id": 999999, "cat_id": 999999, "callback_id": 999999, "group_id": 999999, "kind": "fly",
               "inspection_id": 999999}


def messages(r: httpx.Response) -> list[str]:
    ctype = r.headers.get("content-type", "")
    if "json" in ctype:
        out: list[str] = []

        def walk(v: Any) -> None:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, dict):
                for k, x in v.items():
                    if k in ("msg", "detail", "message", "error", "reason"):
                        walk(x)
                    elif isinstance(x, (dict, list)):
                        walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        try:
            walk(json.loads(r.text))
        except ValueError:
            return [r.text]
        return out
    if "html" not in ctype:
        return [r.text] if r.status_code >= 400 and r.text.strip() else []
    found = []
    for pat in MESSAGE_HTML:
        for m in pat.finditer(r.text):
            found.append(" ".join(re.sub(r"<[^>]+>", "", unescape(g)).strip() for g in m.groups()))
    if r.status_code >= 400 and not found:
        found.append(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unescape(r.text)))[:300])
    return found


def bad(msgs: list[str]) -> list[str]:
    return [m for m in msgs if m.strip() and (not CJK.search(m) or ENGLISH.search(m))]


async def fetch(c: httpx.AsyncClient, method: str, url: str, data: dict[str, Any] | None = None) -> httpx.Response:
    if method == "GET" and url.split("?")[0] in STREAMS:
        try:
            r = await asyncio.wait_for(c.get(url), 3)
        except TimeoutError:  # an admitted stream: no error to read
            return httpx.Response(200)
    elif method == "GET":
        r = await c.get(url)
    else:
        r = await c.post(url, data=data or {})
    if r.status_code in (302, 303) and r.headers.get("location", "").startswith("/"):
        # the message travels as a flash to the page redirected to
        r2 = await c.get(r.headers["location"])
        return r2
    return r


async def test_every_console_error_message_is_chinese(world) -> None:  # type: ignore[no-untyped-def]
    app, _, ids = world
    problems: list[str] = []
    routes = sorted((k, v) for k, v in ROUTE_ROLES.items() if k[1] != "/logout")
    sessions = {}
    async with client(app) as c0, client(app) as c1, client(app) as c2, client(app) as c3, client(app) as anon:
        for role, c in zip(Role, (c0, c1, c2, c3), strict=True):
            sessions[role] = await sign_in(c, USER_OF[role])

        async def check(what: str, r: httpx.Response) -> None:
            if r.status_code >= 500:
                problems.append(f"{what} → {r.status_code} (a server error, not a message)")
            for m in bad(messages(r)):
                problems.append(f"{what} → {r.status_code}: {m[:200]}")

        for (method, path), roles in routes:
            admitted = roles[0]
            s = sessions[admitted]
            url, missing_url = fill(path, ids), fill(path, {**ids, **MISSING_IDS})
            if method == "GET":
                if path in STREAMS:
                    continue
                await check(f"GET {path} (missing)", await fetch(s.client, "GET", missing_url + QUERIES.get(path, "")))
                query = "?" + "&".join(f"{k}={v}" for k, v in GARBAGE.items() if k in ("date", "year", "month")) + \
                    "&page=abc&from=2026-02-30&to=x&figure=fly&q=" + "长" * 60
                await check(f"GET {path} (garbage query)", await fetch(s.client, "GET", url + query))
            else:
                await check(f"POST {path} (empty)", await fetch(s.client, "POST", url, {"csrf_token": s.csrf}))
                body = {"csrf_token": s.csrf, **BODIES.get(path, {})}
                body.update({k: v for k, v in GARBAGE.items()})
                await check(f"POST {path} (garbage)", await fetch(s.client, "POST", url, body))
                await check(f"POST {path} (missing)", await fetch(s.client, "POST", missing_url,
                                                                  {"csrf_token": s.csrf, **BODIES.get(path, {})}))
                await check(f"POST {path} (no CSRF token)", await fetch(s.client, "POST", url,
                                                                        BODIES.get(path, {})))
                s.csrf = await _fresh_csrf(s.client)
            refused = next((r for r in Role if r not in roles), None)
            if refused is not None and path not in STREAMS:
                rs = sessions[refused]
                data = {"csrf_token": rs.csrf, **BODIES.get(path, {})} if method == "POST" else None
                await check(f"{method} {path} (as {refused.value})", await fetch(rs.client, method, url, data))
            # signed out
            if path not in STREAMS:
                await check(f"{method} {path} (signed out)", await fetch(anon, method, url, {} if method == "POST" else None))
        # an unknown page and a wrong method
        await check("GET /no-such-page", await fetch(c0, "GET", "/no-such-page"))
        await check("GET /operator/register", await fetch(sessions[Role.operator].client, "GET", "/operator/register"))
    assert not problems, "messages a console user reads that are not Chinese:\n" + "\n".join(problems)


async def _fresh_csrf(c: httpx.AsyncClient) -> str:
    from tests.console_people import csrf_of

    r = await c.get("/")
    if r.status_code in (302, 303):
        r = await c.get(r.headers["location"])
    return csrf_of(r.text)
