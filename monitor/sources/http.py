"""HTTP plumbing shared by the sources: client construction, pacing, retries; imports domain/errors only.

``fetch`` retries timeouts, connection errors, 403, 429 and 5xx with exponential backoff and jitter, honours
``Retry-After``, and lets the caller's ``decode`` reject a body (an HTML error page served with 200, truncated
JSON) so that it is retried like any other transient fault. After the retries it raises one SourceError line.
"""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import orjson

from monitor.errors import SourceError

T = TypeVar("T")
RETRY_STATUSES = frozenset({403, 408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0


class BodyError(ValueError):
    """Raised by a ``decode`` function when a 2xx body is not what the API sends (retried)."""


def make_client(base_url: str, *, user_agent: str, timeout: float) -> httpx.Client:
    """An httpx client for one registry: base URL, identifying User-Agent, timeouts, no redirects surprises."""
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        headers={"User-Agent": user_agent, "Accept": "application/json, text/xml;q=0.9, */*;q=0.5"},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        follow_redirects=True,
    )


class Pacer:
    """Keeps at least ``interval`` seconds between the starts of two requests (thread-safe)."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


def describe_body(response: httpx.Response, limit: int = 160) -> str:
    """A one-line summary of an error body: plain text, the <title> of an HTML page, or JSON as is."""
    text = response.text.strip()
    ctype = response.headers.get("content-type", "")
    if "html" in ctype or text[:15].lower().startswith(("<!doctype", "<html")):
        match = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        text = f"HTML page '{match.group(1).strip()}'" if match else "an HTML page"
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" gives a naive datetime; HTTP dates are UTC
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    delta = (when - now).total_seconds()
    return min(max(delta, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt: int, base: float) -> float:
    """Exponential backoff with full jitter: up to base * 2**attempt seconds."""
    return random.uniform(base / 2, base) * (2**attempt) if base > 0 else 0.0


def fetch(
    client: httpx.Client,
    method: str,
    url: str,
    decode: Callable[[httpx.Response], T],
    *,
    what: str,
    params: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    retries: int = 4,
    backoff: float = 2.0,
    pacer: Pacer | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """One request with retries; ``what`` names it in the error (e.g. "ClinicalTrials.gov /studies page 3")."""
    last = "no attempt"
    delay = 0.0
    for attempt in range(retries + 1):
        if attempt:
            sleep(delay)
        if pacer is not None:
            pacer.wait()
        delay = backoff_delay(attempt, backoff)
        try:
            response = client.request(method, url, params=params, data=data)
        except httpx.TimeoutException:
            last = "timed out"
            continue
        except httpx.TransportError as exc:
            last = f"connection failed ({type(exc).__name__}: {exc})"
            continue
        except httpx.RequestError as exc:  # e.g. DecodingError (corrupt gzip body), TooManyRedirects
            last = f"request failed ({type(exc).__name__}: {exc})"
            continue
        if response.status_code in RETRY_STATUSES:
            last = f"HTTP {response.status_code}: {describe_body(response)}"
            hinted = retry_after_seconds(response)
            if hinted is not None:
                delay = max(delay, hinted)
            continue
        if response.status_code >= 400:
            raise SourceError(
                f"{what} failed: HTTP {response.status_code}: {describe_body(response)} "
                f"({response.url.copy_with(query=None)})"
            )
        try:
            return decode(response)
        except BodyError as exc:
            last = f"bad body: {exc}"
            continue
    hint = " (403: check MONITOR_USER_AGENT and whether this address is blocked)" if last.startswith("HTTP 403") else ""
    raise SourceError(f"{what} failed after {retries + 1} attempts: {last}{hint}")


def decode_json(response: httpx.Response) -> Any:
    """Decode a JSON body, turning HTML pages, plain text and truncated JSON into BodyError."""
    content = response.content
    head = content[:64].lstrip()[:1]
    if head not in (b"{", b"["):
        raise BodyError(f"expected JSON, got {describe_body(response)!r}")
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"invalid or truncated JSON ({exc})") from None
