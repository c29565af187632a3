"""monitor.sources.http: pacing, Retry-After, backoff, body checks and fetch against a loopback server."""

from __future__ import annotations

import email.utils
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WzRequest
from werkzeug import Response as WzResponse

from monitor.errors import SourceError
from monitor.sources.http import (
    MAX_RETRY_AFTER,
    BodyError,
    Pacer,
    backoff_delay,
    decode_json,
    describe_body,
    fetch,
    make_client,
    retry_after_seconds,
)

UA = "secretome-monitor-tests/0.1"


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def response(status: int = 200, text: str = "", content_type: str = "text/plain", **headers: str) -> httpx.Response:
    return httpx.Response(status, text=text, headers={"content-type": content_type, **headers},
                          request=httpx.Request("GET", "http://127.0.0.1/x"))


# ------------------------------------------------------------------------------------------------ Pacer


def test_pacer_keeps_the_interval_between_request_starts():
    t = FakeTime()
    pacer = Pacer(1.5, clock=t.clock, sleep=t.sleep)
    pacer.wait()
    assert t.sleeps == []  # the first request goes at once
    pacer.wait()
    pacer.wait()
    assert t.sleeps == [1.5, 1.5]
    t.now += 0.5  # the caller spent 0.5 s on its own
    pacer.wait()
    assert t.sleeps == [1.5, 1.5, 1.0]
    t.now += 10  # a long pause: no wait at all
    pacer.wait()
    assert t.sleeps == [1.5, 1.5, 1.0]


def test_pacer_with_zero_interval_never_sleeps():
    t = FakeTime()
    pacer = Pacer(0.0, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        pacer.wait()
    assert t.sleeps == []


# ------------------------------------------------------------------------------------------------ Retry-After


def test_retry_after_delta_seconds():
    assert retry_after_seconds(response(429, **{"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(response(429, **{"Retry-After": " 0 "})) == 0.0
    assert retry_after_seconds(response(429, **{"Retry-After": "100000"})) == MAX_RETRY_AFTER


def test_retry_after_http_date():
    now = datetime(2026, 11, 20, 14, 0, 0, tzinfo=UTC)
    later = email.utils.format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert later.endswith("GMT")
    assert retry_after_seconds(response(503, **{"Retry-After": later}), now=now) == 42.0
    earlier = email.utils.format_datetime(now - timedelta(seconds=42), usegmt=True)
    assert retry_after_seconds(response(503, **{"Retry-After": earlier}), now=now) == 0.0


def test_retry_after_http_date_with_minus_zero_zone_and_naive_now():
    # "-0000" makes email.utils return a naive datetime; it used to raise TypeError inside fetch
    value = "Fri, 20 Nov 2026 14:00:30 -0000"
    assert retry_after_seconds(response(503, **{"Retry-After": value}),
                               now=datetime(2026, 11, 20, 14, 0, 0, tzinfo=UTC)) == 30.0
    assert retry_after_seconds(response(503, **{"Retry-After": value}), now=datetime(2026, 11, 20, 14, 0, 0)) == 30.0


@pytest.mark.parametrize("value", ["", "soon", "1.5", "-3", "Fri, 99 Foo 2026"])
def test_retry_after_unreadable_is_ignored(value):
    assert retry_after_seconds(response(429, **{"Retry-After": value})) is None
    assert retry_after_seconds(response(429)) is None


def test_backoff_delay_is_exponential_with_jitter():
    for attempt in range(6):
        for _ in range(20):
            assert 0.5 * 2.0 * 2**attempt <= backoff_delay(attempt, 2.0) <= 2.0 * 2**attempt
    assert backoff_delay(3, 0.0) == 0.0


# ------------------------------------------------------------------------------------------------ bodies


def test_describe_body():
    html = "<!DOCTYPE html><html><head><title> 502 Bad Gateway </title></head><body>x</body></html>"
    assert describe_body(response(502, html, "text/html")) == "HTML page '502 Bad Gateway'"
    assert describe_body(response(200, "<html><body>no title</body></html>", "text/plain")) == "an HTML page"
    assert describe_body(response(400, "Invalid prefix in parameter name:\n  query.recrs")) == (
        "Invalid prefix in parameter name: query.recrs"
    )
    long = describe_body(response(500, "x" * 500), limit=20)
    assert long == "x" * 20 + "..."


@pytest.mark.parametrize(
    ("text", "content_type", "message"),
    [
        ("<html><head><title>Maintenance</title></head></html>", "text/html",
         "expected JSON, got \"HTML page 'Maintenance'\""),
        ("Service Unavailable", "text/plain", "expected JSON, got 'Service Unavailable'"),
        ('{"studies": [{"protocolSection": {', "application/json", "invalid or truncated JSON"),
        ("", "application/json", "expected JSON, got ''"),
    ],
)
def test_decode_json_rejects_what_is_not_json(text, content_type, message):
    with pytest.raises(BodyError) as info:
        decode_json(response(200, text, content_type))
    assert message in str(info.value)


def test_decode_json_accepts_json_with_leading_whitespace():
    assert decode_json(response(200, '\n {"studies": []}', "application/json")) == {"studies": []}
    assert decode_json(response(200, "[1, 2]", "application/json")) == [1, 2]


# ------------------------------------------------------------------------------------------------ fetch


@pytest.fixture(scope="module")
def module_server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0)  # our own, on 127.0.0.1; stopping one takes 0.5 s, so once
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def server(module_server) -> Iterator[HTTPServer]:
    module_server.clear()
    yield module_server
    module_server.clear()


@pytest.fixture
def client(server) -> Iterator[httpx.Client]:
    with make_client(server.url_for("/api/v2"), user_agent=UA, timeout=2.0) as c:
        yield c


def scripted(server: HTTPServer, path: str, replies: list[WzResponse]) -> list[WzRequest]:
    """Serve ``replies`` in order on ``path`` (the last one repeats); returns the list of requests seen."""
    seen: list[WzRequest] = []

    def handler(request: WzRequest) -> WzResponse:
        seen.append(request)
        return replies[min(len(seen), len(replies)) - 1]

    server.expect_request(path).respond_with_handler(handler)
    return seen


def test_make_client_resolves_relative_paths_under_the_base_url(server, client):
    seen = scripted(server, "/api/v2/version", [WzResponse('{"ok": 1}', content_type="application/json")])
    assert fetch(client, "GET", "version", decode_json, what="v", sleep=lambda s: None) == {"ok": 1}
    assert seen[0].headers["User-Agent"] == UA
    assert "application/json" in seen[0].headers["Accept"]


def test_fetch_retries_until_success_and_sleeps_between(server, client):
    seen = scripted(server, "/api/v2/studies", [
        WzResponse("Bad Gateway", status=502),
        WzResponse("<html><title>Oops</title></html>", status=200, content_type="text/html"),
        WzResponse('{"studies": [', content_type="application/json"),
        WzResponse('{"studies": []}', content_type="application/json"),
    ])
    sleeps: list[float] = []
    body = fetch(client, "GET", "studies", decode_json, what="page 1", params={"a": "1"}, retries=4,
                 backoff=0.01, sleep=sleeps.append)
    assert body == {"studies": []}
    assert len(seen) == 4 and len(sleeps) == 3
    assert all(r.args["a"] == "1" for r in seen)


def test_fetch_honours_retry_after_over_backoff(server, client):
    scripted(server, "/api/v2/x", [
        WzResponse("slow down", status=429, headers={"Retry-After": "12"}),
        WzResponse("[]", content_type="application/json"),
    ])
    sleeps: list[float] = []
    assert fetch(client, "GET", "x", decode_json, what="x", backoff=0.01, sleep=sleeps.append) == []
    assert sleeps == [12.0]


def test_fetch_gives_up_with_one_line(server, client):
    seen = scripted(server, "/api/v2/x", [WzResponse("<html><title>Blocked</title></html>", status=403,
                                                     content_type="text/html")])
    with pytest.raises(SourceError) as info:
        fetch(client, "GET", "x", decode_json, what="CT.gov /x", retries=2, backoff=0.01, sleep=lambda s: None)
    assert str(info.value) == (
        "CT.gov /x failed after 3 attempts: HTTP 403: HTML page 'Blocked' "
        "(403: check MONITOR_USER_AGENT and whether this address is blocked)"
    )
    assert len(seen) == 3


def test_fetch_does_not_retry_a_client_error(server, client):
    seen = scripted(server, "/api/v2/x", [WzResponse("Invalid prefix in parameter name: q", status=400)])
    with pytest.raises(SourceError, match=r"^CT.gov /x failed: HTTP 400: Invalid prefix in parameter name: q \(http"):
        fetch(client, "GET", "x", decode_json, what="CT.gov /x", sleep=lambda s: None)
    assert len(seen) == 1


def test_fetch_paces_every_attempt(server, client):
    scripted(server, "/api/v2/x", [WzResponse("no", status=500), WzResponse("{}", content_type="application/json")])
    t = FakeTime()
    pacer = Pacer(1.0, clock=t.clock, sleep=t.sleep)
    pacer.wait()  # a request just went out
    assert fetch(client, "GET", "x", decode_json, what="x", backoff=0.0, pacer=pacer, sleep=t.sleep) == {}
    assert t.sleeps == [1.0, 0.0, 1.0]  # pace, (no backoff), pace again before the retry


def test_fetch_times_out_and_retries(server):
    import time

    calls = []

    def handler(request: WzRequest) -> WzResponse:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.5)
        return WzResponse("{}", content_type="application/json")

    server.expect_request("/api/v2/slow").respond_with_handler(handler)
    with make_client(server.url_for("/api/v2"), user_agent=UA, timeout=0.2) as c:
        assert fetch(c, "GET", "slow", decode_json, what="slow", backoff=0.0, sleep=lambda s: None) == {}
    assert 2 <= len(calls) <= 3  # the stdlib test server is single-threaded: a retry may queue behind the slow one


def test_fetch_connection_refused_is_a_source_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        make_client(f"http://127.0.0.1:{port}/api/v2", user_agent=UA, timeout=1.0) as c,
        pytest.raises(SourceError, match=r"^dead failed after 2 attempts: connection failed \(ConnectError"),
    ):
        fetch(c, "GET", "version", decode_json, what="dead", retries=1, sleep=lambda s: None)


def test_fetch_retries_a_corrupt_gzip_body(server, client):
    seen = scripted(server, "/api/v2/x", [
        WzResponse(b"not gzip at all", content_type="application/json", headers={"Content-Encoding": "gzip"}),
        WzResponse("{}", content_type="application/json"),
    ])
    assert fetch(client, "GET", "x", decode_json, what="x", backoff=0.0, sleep=lambda s: None) == {}
    assert len(seen) == 2
