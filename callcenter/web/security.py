"""Response headers every page and API answer carries: a Content-Security-Policy with a fresh
nonce per request, X-Frame-Options, nosniff and Referrer-Policy.

Scripts run only from /static (same origin) or from an inline block carrying the request's
nonce (`<script nonce="{{ csp_nonce }}">`); inline event handlers (`onclick=` …) never run.
Styles may be inline (`style=` attributes; the charts set them too): a style cannot run code.
"""

from __future__ import annotations

import secrets
from typing import Any

NONCE_KEY = "csp_nonce"

# the interactive API docs (off in production) load Swagger UI / ReDoc from their CDN
_DOCS_PATHS = ("/docs", "/redoc")


def csp(nonce: str) -> str:
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


def docs_csp(nonce: str) -> str:
    return (
        "default-src 'self'; "
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
        "font-src 'self' https://fonts.gstatic.com; worker-src blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )


STATIC_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """Pure ASGI (streams, SSE included, pass through untouched but for their headers)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        path: str = scope.get("path", "")
        policy = (docs_csp if path.startswith(_DOCS_PATHS) else csp)(nonce).encode()

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", policy))
                headers.extend(h for h in STATIC_HEADERS if h[0] not in names)
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def nonce_of(request: Any) -> str:
    return str(getattr(request.state, NONCE_KEY, ""))
