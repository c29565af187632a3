"""A loopback fake of the Slack Web API and of an incoming webhook (stdlib HTTP server in a thread, 127.0.0.1 only).

``fake.api_url`` = ``http://127.0.0.1:<port>/api/`` (slack-sdk ``base_url``), token ``fake.token`` (``xoxb-test``):

- ``chat.postMessage`` (JSON or form body): ``invalid_auth`` for another token, ``channel_not_found`` for a channel
  that is neither a name nor an id of ``fake.channels``; else stores the message (text, blocks, metadata) and
  answers ``{"ok": true, "channel": <id>, "ts": <strictly increasing>, "message": {...}}``;
- ``conversations.history``: the stored messages of a channel id, newest first, ``ts > oldest`` (``>=`` with
  ``inclusive``), ``latest``, ``limit`` (default 100) and opaque ``cursor`` / ``response_metadata.next_cursor``;
  a message's ``metadata`` only with ``include_all_metadata=true``;
- ``conversations.list``: ``fake.channels`` as ``{"id", "name"}``.

``fake.webhook_url`` = ``http://127.0.0.1:<port>/services/T0FAKE/B0FAKE/<secret>``: a JSON body is stored as a
message of channel ``C0WEBHOOK`` and answered ``200 ok`` (text/html, as Slack does); another path is 404
``no_service``.

Every request is recorded in ``fake.requests`` (``Recorded(method, path, headers, body)``; ``method`` is the API
method or ``"webhook"``), processed or not. ``ts`` values come from ``fake.clock`` (default ``time.time``).

Faults: ``fake.inject(kind, nth=1, times=1, method="chat.postMessage", **options)`` makes the nth request to
``method`` (1-based; ``method=None`` counts every request) and the ``times - 1`` after it fail (``times=None``:
all from the nth on). Kinds:

=============  ===================================================================================================
``429``        HTTP 429, ``Retry-After: <retry_after>`` (default 0), ``{"ok": false, "error": "ratelimited"}``
``500``        HTTP 500 ``{"ok": false, "error": "internal_error"}`` (webhook: text body); ``posted=True`` stores
               the message first (Slack failed after posting)
``503``        HTTP 503 ``service_unavailable``
``drop``       the request is read, then the connection is closed without an answer (nothing stored)
``drop_after`` the message is stored, then the connection is closed without an answer (a "maybe sent")
``slow``       wait ``delay`` seconds (default 1.0), then process and answer normally (a client timeout)
``error``      ``{"ok": false, "error": <error>}`` with HTTP 200 (default ``channel_not_found``); on the webhook:
               HTTP ``status`` (default 404) with body ``<error>``
=============  ===================================================================================================
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.loopback import LoopbackServer

FAULT_KINDS = ("429", "500", "503", "drop", "drop_after", "slow", "error")
WEBHOOK_PATH = "/services/T0FAKE/B0FAKE/"
WEBHOOK_CHANNEL = "C0WEBHOOK"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class _Fault:
    kind: str
    method: str | None
    nth: int
    times: int | None
    options: dict[str, Any]

    def applies(self, count: int) -> bool:
        return count >= self.nth and (self.times is None or count < self.nth + self.times)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and left (the ``slow`` fault) is expected: no traceback on stderr."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class FakeSlack(LoopbackServer):
    server_class = _QuietServer  # a client that timed out is expected; other handler errors are still shown
    token: str = "xoxb-test"
    webhook_secret: str = "WHsecret0123456789abcdef"
    channels: dict[str, str] = field(default_factory=lambda: {"alerts": "C0ALERTS01", "general": "C0GENERAL1"})
    clock: Callable[[], float] = time.time
    requests: list[Recorded] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._counts: dict[str | None, int] = {}
        self._last_ts = 0.0

    # lifecycle -----------------------------------------------------------------------------------------
    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"slack": self})

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}{self.webhook_secret}"

    # test helpers --------------------------------------------------------------------------------------
    def inject(self, kind: str, *, nth: int = 1, times: int | None = 1, method: str | None = "chat.postMessage",
               **options: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(_Fault(kind, method, nth, times, options))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def channel_messages(self, channel: str = "C0ALERTS01") -> list[dict[str, Any]]:
        """Messages of a channel (id or name), oldest first."""
        with self._lock:
            return list(self.messages.get(self.channels.get(channel.lstrip("#"), channel), []))

    def calls(self, method: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def add_message(self, channel: str, text: str, *, metadata: dict[str, Any] | None = None) -> str:
        """A message posted by someone else (noise in the history); returns its ts."""
        return self._store(self.channels.get(channel.lstrip("#"), channel), {"text": text, "metadata": metadata,
                                                                             "user": "U0SOMEONE"})

    # internals -----------------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        ts = max(self.clock(), self._last_ts + 0.000001)
        self._last_ts = ts
        return f"{ts:.6f}"

    def _store(self, channel_id: str, body: dict[str, Any]) -> str:
        with self._lock:
            ts = self._next_ts()
            message = {"type": "message", "ts": ts, "text": body.get("text") or "",
                       "user": body.get("user", "U0FAKEBOT")}
            if body.get("user") is None:
                message.update(bot_id="B0FAKEBOT", app_id="A0FAKEAPP")
            if body.get("blocks"):
                message["blocks"] = body["blocks"]
            if body.get("metadata"):
                message["metadata"] = body["metadata"]
            self.messages.setdefault(channel_id, []).append(message)
            return ts

    def _fault_for(self, method: str) -> _Fault | None:
        with self._lock:
            for key in (method, None):
                self._counts[key] = self._counts.get(key, 0) + 1
            for fault in self._faults:
                if fault.method in (method, None) and fault.applies(self._counts[fault.method]):
                    return fault
            return None


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        data = json.loads(raw.decode("utf-8"))
        return data if isinstance(data, dict) else {"_": data}
    return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))


def _decode(value: Any) -> Any:
    """Form-encoded blocks / metadata arrive as JSON strings."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


class _Handler(BaseHTTPRequestHandler):
    slack: FakeSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.do_POST()

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = dict(parse_qsl(url.query))
        body.update(_parse_body(raw, self.headers.get("Content-Type") or ""))
        body = {k: _decode(v) for k, v in body.items()}
        webhook = url.path.startswith("/services/")
        method = "webhook" if webhook else url.path.removeprefix("/api/")
        fake = self.slack
        with fake._lock:
            fake.requests.append(Recorded(method, url.path, dict(self.headers.items()), body))
        fault = fake._fault_for(method)
        if fault is not None and self._apply(fault, method, body, webhook):
            return
        if webhook:
            self._webhook(url.path, body)
        else:
            self._api(method, body)

    # faults --------------------------------------------------------------------------------------------
    def _apply(self, fault: _Fault, method: str, body: dict[str, Any], webhook: bool) -> bool:
        """Answer a fault; False when the request should still be processed normally (``slow``)."""
        kind, opts = fault.kind, fault.options
        if kind == "slow":
            time.sleep(float(opts.get("delay", 1.0)))
            return False
        if kind in ("drop", "drop_after"):
            if kind == "drop_after":
                self._process_quietly(method, body, webhook)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if kind == "429":
            self._reply(429, {"ok": False, "error": "ratelimited"}, webhook,
                        headers={"Retry-After": str(opts.get("retry_after", 0))})
        elif kind in ("500", "503"):
            if opts.get("posted"):
                self._process_quietly(method, body, webhook)
            error = "internal_error" if kind == "500" else "service_unavailable"
            self._reply(int(kind), {"ok": False, "error": error}, webhook)
        else:  # error
            error = str(opts.get("error", "channel_not_found"))
            if webhook:
                self._send(int(opts.get("status", 404)), error.encode(), "text/html")
            else:
                self._send(200, json.dumps({"ok": False, "error": error, **opts.get("extra", {})}).encode())
        return True

    def _process_quietly(self, method: str, body: dict[str, Any], webhook: bool) -> None:
        if webhook:
            self.slack._store(WEBHOOK_CHANNEL, body)
        elif method == "chat.postMessage":
            channel = self.slack.channels.get(str(body.get("channel", "")).lstrip("#"), body.get("channel"))
            self.slack._store(str(channel), body)

    def _reply(self, status: int, data: dict[str, Any], webhook: bool, headers: dict[str, str] | None = None) -> None:
        if webhook:
            self._send(status, str(data.get("error", "")).encode(), "text/html", headers)
        else:
            self._send(status, json.dumps(data).encode(), headers=headers)

    def _send(self, status: int, payload: bytes, content_type: str = "application/json; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    # endpoints -----------------------------------------------------------------------------------------
    def _webhook(self, path: str, body: dict[str, Any]) -> None:
        if path != WEBHOOK_PATH + self.slack.webhook_secret:
            self._send(404, b"no_service", "text/html")
            return
        if not body.get("text") and not body.get("blocks"):
            self._send(400, b"no_text", "text/html")
            return
        self.slack._store(WEBHOOK_CHANNEL, body)
        self._send(200, b"ok", "text/html")

    def _api(self, method: str, body: dict[str, Any]) -> None:
        auth = self.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ") if auth else str(body.get("token", ""))
        if token != self.slack.token:
            self._send(200, json.dumps({"ok": False, "error": "invalid_auth"}).encode())
            return
        handler = {"chat.postMessage": self._post, "conversations.history": self._history,
                   "conversations.list": self._list}.get(method)
        if handler is None:
            self._send(404, json.dumps({"ok": False, "error": "unknown_method"}).encode())
            return
        self._send(200, json.dumps(handler(body)).encode())

    def _channel_id(self, value: Any) -> str | None:
        name = str(value or "").lstrip("#")
        if name in self.slack.channels:
            return self.slack.channels[name]
        return name if name in self.slack.channels.values() else None

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(body.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self.slack._store(channel, body)
        message = next(m for m in self.slack.channel_messages(channel) if m["ts"] == ts)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or "")
        if channel not in self.slack.channels.values():
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(body.get("oldest") or 0)
        latest = float(body.get("latest") or 1e12)
        inclusive = _truthy(body.get("inclusive", "0"))
        limit = max(1, min(int(body.get("limit") or 100), 999))
        offset = _offset(body.get("cursor"))
        messages = [m for m in reversed(self.slack.channel_messages(channel))
                    if (float(m["ts"]) >= oldest if inclusive else float(m["ts"]) > oldest)
                    and float(m["ts"]) <= latest]
        page = messages[offset : offset + limit]
        if not _truthy(body.get("include_all_metadata", "0")):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = offset + limit < len(messages)
        out: dict[str, Any] = {"ok": True, "messages": page, "has_more": more}
        out["response_metadata"] = {"next_cursor": _cursor(offset + limit) if more else ""}
        return out

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        channels = [{"id": cid, "name": name, "is_channel": True} for name, cid in self.slack.channels.items()]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: Any) -> int:
    if not cursor:
        return 0
    return int(base64.b64decode(str(cursor)).decode().removeprefix("offset:"))


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A started FakeSlack; ``fake_slack.api_url`` / ``.webhook_url`` / ``.token``."""
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()
