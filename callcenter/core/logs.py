"""Structured logs: `HOTLINE_LOG_FORMAT=json` → one JSON object per line (for journald, Loki,
ELK), with the ticket number and the call id where the code knows them; `text` (the default)
keeps the readable one-line format. Light: the telephony adapter uses it too.

Code that knows the case or the call says so with `extra={"ticket": …}` / `extra={"linkedid": …}`,
or sets the context for a whole request (`log_context`, done by the web middleware from the URL).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from callcenter.core.settings import get_settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("hotline_log_context", default=None)
_FIELDS = ("ticket", "linkedid", "call_id", "seat", "pbx", "request_id", "method", "path", "status", "ms", "user")
_configured: str | None = None


def log_context(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add fields to every log line of the current task (and the tasks it starts)."""
    cur = dict(_context.get() or {})
    cur.update({k: v for k, v in fields.items() if v is not None})
    return _context.set(cur)


def reset_context(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


def context_value(name: str) -> Any:
    """A field of the current task's log context (e.g. the web request's `request_id`), or None."""
    return (_context.get() or {}).get(name)


class JsonFormatter(logging.Formatter):
    def __init__(self, process_kind: str | None = None) -> None:
        super().__init__()
        self.kind = process_kind

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        if self.kind:
            out["proc"] = self.kind
        ctx = _context.get()
        if ctx:
            out.update(ctx)
        for k in _FIELDS:
            v = record.__dict__.get(k)
            if v is not None:
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(fmt: str | None = None, process_kind: str | None = None, level: int = logging.INFO) -> None:
    """Point the root logger (and uvicorn's) at stderr in `fmt` (json | text; default the
    settings' log_format, HOTLINE_LOG_FORMAT, validated there). Idempotent: a second call with
    the same format changes nothing."""
    global _configured
    fmt = (fmt or get_settings().log_format).lower()
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be json or text, not {fmt!r}")
    if _configured == fmt:
        return
    _configured = fmt
    root = logging.getLogger()
    if fmt == "text" and root.handlers:
        return  # text: keep what the host set up (basicConfig, uvicorn, pytest)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_kind) if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    if fmt == "json":
        # uvicorn installs its own text handlers: send its lines through ours instead
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            lg = logging.getLogger(name)
            if name == "uvicorn.access" and not lg.handlers:
                continue  # switched off (`hotline serve` has access_log=False: ops logs each request)
            for h in list(lg.handlers):
                lg.removeHandler(h)
            lg.propagate = True
