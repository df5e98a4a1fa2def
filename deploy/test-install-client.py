"""The browser's and monitoring's side of deploy/test-install.sh, through the scratch nginx over
TLS (self-signed: not verified). Standard library only: it runs on a bare server's python3.

  test-install-client.py nginx HTTPS_PORT HTTP_PORT
  test-install-client.py register HTTPS_PORT TOKEN CONTENT...
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import sys
import time
import urllib.parse

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
SECURITY = ("strict-transport-security", "x-content-type-options", "x-frame-options")


def conn(port: int, source: str = "127.0.0.1", timeout: float = 10) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", port, context=CTX, timeout=timeout, source_address=(source, 0))


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    c = conn(port, source)
    c.request(method, path, body=body, headers={"Host": "localhost", **(headers or {})})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def check(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"test-install-client: {what}")
    print(f"  ok: {what}")


def sign_in(port: int, user: str, password: str) -> str:
    status, h, body = request(port, "GET", "/login")
    check(status == 200, f"GET /login through nginx ({status})")
    for k in SECURITY:
        check(k in h, f"/login carries {k}")
    cookie = h["set-cookie"].split(";", 1)[0]
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    form = {"username": user, "password": password}
    if csrf:
        form["csrf_token"] = csrf.group(1).decode()
    status, h, _ = request(port, "POST", "/login", urllib.parse.urlencode(form).encode(),
                           {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    check(status in (302, 303) and "set-cookie" in h, f"{user} signs in ({status})")
    return h["set-cookie"].split(";", 1)[0]


def sse(port: int, path: str, cookie: str, events: int, timeout: float) -> tuple[dict[str, str], list[tuple[str, float]]]:
    """The first `events` events of a stream, each with the time it arrived."""
    c = conn(port, timeout=timeout)
    c.request("GET", path, headers={"Host": "localhost", "Cookie": cookie, "Accept": "text/event-stream"})
    r = c.getresponse()
    h = {k.lower(): v for k, v in r.getheaders()}
    check(r.status == 200 and h.get("content-type", "").startswith("text/event-stream"),
          f"{path} streams through nginx ({r.status} {h.get('content-type')})")
    got: list[tuple[str, float]] = []
    t0 = time.monotonic()
    while len(got) < events and time.monotonic() - t0 < timeout:
        line = r.fp.readline().decode().strip()
        if line.startswith("event:"):
            got.append((line.split(":", 1)[1].strip(), time.monotonic() - t0))
    c.close()
    return h, got


def nginx(https: int, http_port: int) -> None:
    # plain HTTP is sent to HTTPS
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
    c.request("GET", "/login", headers={"Host": "localhost"})
    r = c.getresponse()
    check(r.status == 301 and r.getheader("location", "").startswith("https://"), "HTTP → HTTPS (301)")
    c.close()

    lina = sign_in(https, "lina", "CHANGE-ME-5")
    status, h, body = request(https, "GET", "/operator", headers={"Cookie": lina})
    check(status == 200 and b"/static/vendor/htmx.min.js" in body, f"the operator's page from the wheel's templates ({status})")
    for k in SECURITY:
        check(k in h, f"/operator carries {k}")
    h, got = sse(https, "/operator/stream", lina, 1, 15)
    check(got[:1] and got[0][0] == "hello", f"the operator's stream says hello ({got})")
    for k in SECURITY:
        check(k in h, f"the SSE response carries {k} (the location's add_header keeps the server's)")

    chen = sign_in(https, "chenjing", "CHANGE-ME-4")
    h, got = sse(https, "/wall/stream", chen, 3, 20)
    check(len(got) == 3 and all(e == "wall" for e, _ in got), f"the wall's stream: 3 events ({got})")
    # unbuffered: each event arrives on its own (the wall sends one at least every 5 s)
    # (the wall pushes on its timer and on every change, so two may come close together: the
    # three together must still span more than a second — a buffering proxy delivers them at once)
    check(got[-1][1] - got[0][1] > 1.0, f"the wall's events arrive one by one, not in a burst ({got})")

    status, h, body = request(https, "GET", "/static/vendor/htmx.min.js")
    check(status == 200 and len(body) > 10_000, f"the vendored htmx served by nginx from the package ({status})")
    status, h, body = request(https, "GET", "/static/vendor/echarts.min.js")
    check(status == 200 and len(body) > 100_000, f"the vendored ECharts served by nginx ({status})")

    for path in ("/readyz?strict=1", "/metrics"):
        status, _, body = request(https, "GET", path)
        check(status == 200, f"{path} for the monitoring address 127.0.0.1 ({status})")
        status, _, _ = request(https, "GET", path, source="127.0.0.2")
        check(status == 403, f"{path} refused to any other address ({status})")
    status, _, _ = request(https, "GET", "/healthz", source="127.0.0.2")
    check(status == 200, f"/healthz open to all ({status})")

    # sign-in attempts from one address: 10 a minute and a burst of 10, then 429
    codes = []
    for _ in range(25):
        status, _, _ = request(https, "POST", "/login", b"username=nobody&password=x",
                               {"Content-Type": "application/x-www-form-urlencoded"}, source="127.0.0.3")
        codes.append(status)
    check(429 in codes and codes[0] != 429, f"sign-in attempts limited: {codes.count(429)} of 25 got 429")
    status, _, _ = request(https, "GET", "/login", source="127.0.0.4")
    check(status == 200, "another address is not limited")


def register(https: int, token: str, contents: list[str]) -> None:
    for content in contents:
        body = json.dumps({"kind": "complaint", "category": "物业管理", "content": content,
                           "caller_phone": "13812345678"}).encode()
        status, _, data = request(https, "POST", "/api/v1/tickets", body,
                                  {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        check(status == 201, f"case {content!r} registered through nginx ({status} {data[:200]!r})")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "nginx":
        nginx(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "register":
        register(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    else:
        raise SystemExit(f"unknown command {cmd}")
