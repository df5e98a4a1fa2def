"""One input layer in front of every route: text a person could not have typed is refused with
a 422 naming the field, before any handler (or the database) sees it.

Refused anywhere: NUL and the other C0 control characters, DEL, lone UTF-16 surrogates (which
JSON's `\\ud800` escapes can produce) and the non-characters U+FFFE/U+FFFF. Tab, newline and
carriage return are allowed in request bodies (free text: 诉求内容, 答复), never in the path or
the query string. PostgreSQL refuses 0x00 and surrogates outright, openpyxl refuses the control
characters: without this layer each would be a 500 somewhere deep.

The JSON API gets FastAPI's own error shape (`detail[].loc` = ["query", "q"], ["body",
"content"], ["path"]); console pages get a short page in Chinese. Malformed JSON is left to
FastAPI (422 `json_invalid`, documented with every operation that takes a body).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

from callcenter.cases.workdays import MAX_YEAR, MIN_YEAR
from callcenter.core.errors import Invalid

_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_BAD_LINE = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
MAX_BODY = 8 * 1024 * 1024  # bigger bodies (file uploads) are multipart and pass through



def bad_char(value: str, *, multiline: bool) -> str | None:
    """'U+0000' for the first character refused in `value`, or None."""
    m = (_BAD_TEXT if multiline else _BAD_LINE).search(value)
    return f"U+{ord(m.group()):04X}" if m else None


def check_text(value: str, field: str, *, multiline: bool = True) -> str:
    """`value` if every character may be stored; Invalid naming `field` otherwise."""
    bad = bad_char(value, multiline=multiline)
    if bad:
        raise Invalid(f"{field}: 含有不允许的控制字符（{bad}）", field=field)
    return value


def check_year(d: date | datetime | None, field: str) -> None:
    """Dates outside 2000–2100 are refused (the calendar, the reports and the store's date
    arithmetic are defined there; year 1 or 9999 overflows a time zone shift)."""
    if d is not None and not MIN_YEAR <= d.year <= MAX_YEAR:
        raise Invalid(f"{field}: 日期须在 {MIN_YEAR}–{MAX_YEAR} 年之间", field=field)


def check_year_number(year: int, field: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid(f"{field}: 年份须在 {MIN_YEAR}–{MAX_YEAR} 之间", field=field)


def _walk(v: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(v, str):
        yield loc, v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield (*loc, k), str(k)
            yield from _walk(x, (*loc, k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _walk(x, (*loc, i))


MALFORMED = "malformed"


def first_bad(scope: dict[str, Any], body: bytes | None) -> tuple[list[Any], str] | None:
    """(loc, 'U+0000') of the first refused character of the request, (["body"], MALFORMED) for
    a JSON body that does not parse (bad UTF-8 included), or None."""
    bad = bad_char(scope.get("path", ""), multiline=False)
    if bad:
        return ["path"], bad
    qs = scope.get("query_string", b"").decode("latin-1")
    for k, v in parse_qsl(qs, keep_blank_values=True):
        for text in (k, v):
            bad = bad_char(text, multiline=False)
            if bad:
                return ["query", k], bad
    if not body:
        return None
    ctype = _header(scope, b"content-type")
    pairs: Iterator[tuple[tuple[Any, ...], str]]
    if ctype.startswith(b"application/json"):
        try:
            data = json.loads(body)
        except ValueError:  # UnicodeDecodeError too: FastAPI would answer an undocumented 400
            return ["body"], MALFORMED
        pairs = _walk(data, ())
    elif ctype.startswith(b"application/x-www-form-urlencoded"):
        pairs = (((k,), v) for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    else:
        return None
    for loc, text in pairs:
        bad = bad_char(text, multiline=True)
        if bad:
            return ["body", *loc], bad
    return None


def _header(scope: dict[str, Any], name: bytes) -> bytes:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return bytes(v).lower()
    return b""


def _wants_json(scope: dict[str, Any]) -> bool:
    path = scope.get("path", "")
    return path.startswith(("/api/", "/healthz", "/readyz", "/metrics")) or b"application/json" in _header(
        scope, b"accept")


class InputGuardMiddleware:
    """Pure ASGI: reads a JSON or form body (≤ MAX_BODY) once, checks it, and replays it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body: bytes | None = None
        ctype = _header(scope, b"content-type")
        if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE") and ctype.startswith(
                (b"application/json", b"application/x-www-form-urlencoded")):
            length = _header(scope, b"content-length")
            if not length.isdigit() or int(length) <= MAX_BODY:
                chunks: list[bytes] = []
                more = True
                while more:
                    msg = await receive()
                    if msg["type"] != "http.request":
                        break
                    chunks.append(msg.get("body", b""))
                    more = msg.get("more_body", False)
                body = b"".join(chunks)
                receive = replay_body(body, False, receive)
        found = first_bad(scope, body)
        if found is None:
            await self.app(scope, receive, send)
            return
        loc, bad = found
        field = str(loc[-1]) if len(loc) > 1 else loc[0]
        if bad == MALFORMED:
            detail = {"loc": loc, "msg": "the body is not valid JSON (UTF-8)", "type": "json_invalid"}
        else:
            detail = {"loc": loc, "msg": f"{field}: control character {bad} not allowed", "type": "value_error"}
        if _wants_json(scope):
            payload = json.dumps({"detail": [detail]}).encode()
            ctype_out = b"application/json"
        else:
            what = "提交的数据格式有误" if bad == MALFORMED else f"「{html.escape(field)}」含有不允许的控制字符（{bad}）"
            payload = (
                '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>填写有误</title>'
                f'<h1>填写有误</h1><p>{what}，'
                '请用浏览器的“后退”返回（已填写的内容仍在），修改后重新提交。</p></html>'
            ).encode()
            ctype_out = b"text/html; charset=utf-8"
        await send({"type": "http.response.start", "status": 422,
                    "headers": [(b"content-type", ctype_out), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def replay_body(body: bytes, more: bool, receive: Any) -> Any:
    """An ASGI `receive` as if nothing had been read: the body read so far, then the rest."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay
