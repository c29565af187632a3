"""A loopback fake of the ClinicalTrials.gov API v2 for tests (stdlib HTTP server in a thread, 127.0.0.1 only).

What it serves, under ``<fake.url>`` = ``http://127.0.0.1:<port>/api/v2``:

- ``GET /version``           -> ``{"apiVersion": "2.0.5", "dataTimestamp": fake.data_timestamp}``
- ``GET /studies``           -> pages of ``fake.studies`` (``{"studies": [...], "nextPageToken"?, "totalCount"?}``)
- ``GET /studies/<nctId>``   -> one record, or 404 text/plain

``/studies`` behaves like the real API where it matters to monitor:

- ``pageSize`` (default 10, 0 = default, coerced down to 1000); ``countTotal=true`` puts ``totalCount`` on the first
  page only; ``nextPageToken`` values are opaque random strings;
- like the real API (api-reference.md 1.6) a page filled to ``pageSize`` carries a token even when it exhausted the
  results, so the next page is empty and carries none (set ``token_on_full_last_page = False`` to turn that off);
- a ``pageToken`` must come with the same parameters as the first page (except ``pageSize``, ``countTotal``,
  ``pageToken``), else 400 text/plain, as the API rule says; an unknown token is a 400 too;
- ``filter.advanced=AREA[LastUpdatePostDate]RANGE[YYYY-MM-DD,MAX]`` keeps the studies whose
  ``protocolSection.statusModule.lastUpdatePostDateStruct.date`` is on or after the date (any other
  ``filter.advanced`` is a 400); unknown parameter names are a 400 text/plain (as CT.gov does);
- ``query.term`` (and the other ``query.*``) match everything unless ``fake.term_filter`` is set to a function
  ``(params, record) -> bool``;
- the studies are filtered and sliced at each request, so a test may change ``fake.studies`` between pages.

Faults: ``fake.inject(kind, nth=1, times=1, path="/studies", **options)`` makes the nth (1-based, counting only
requests to ``path``; ``path=None`` counts every request) and the following ``times - 1`` requests fail
(``times=None``: every request from the nth on). Kinds (``FAULT_KINDS``):

==========================  ==================================================================================
``slow``                    wait ``delay`` seconds (default 2.0) then answer normally (a client timeout)
``status``                  ``status`` (default 503) with a text/plain ``body``; ``retry_after`` sets Retry-After
``403`` ``429`` ``500``     shorthands for ``status`` with that code (``429`` takes ``retry_after`` too)
``502`` ``503``
``html_200``                200 text/html error page ("Service Unavailable")
``html_5xx``                ``status`` (default 502) text/html error page
``text_400``                400 text/plain ``Invalid prefix in parameter name: ...`` (not retried by clients)
``truncated``               200 application/json, the real answer cut in half (Content-Length matches)
``cut``                     200, headers promise the full body, the connection closes after half of it
``empty_page_with_token``   200 ``{"studies": [], "nextPageToken": <token resuming at the same place>}``
``empty_page_no_token``     200 ``{"studies": []}``: the "zero studies by mistake" page, paging ends there
``no_studies_key``          200 ``{"nextPageToken": ...}`` (the page has no ``studies`` key)
``repeat_token``            the real page, but its ``nextPageToken`` is the token of the previous page (a loop)
==========================  ==================================================================================

Bookkeeping: ``fake.requests`` is a list of :class:`Request` (``path`` relative to the API root such as
``"/studies"``, ``params`` as a dict, ``headers``); a Request unpacks as ``(path, params)``.
``fake.count(path=None)`` counts requests. ``fake.reset()`` clears requests, faults and tokens.

Use it through the pytest fixture ``fake_ctgov`` (import it into a test module or conftest.py with
``from tests.ctgov_server import fake_ctgov  # noqa: F401``) or as a context manager::

    with FakeCtgov(studies=[make_study("NCT90000001")]) as fake:
        client = make_client(fake.url, user_agent="t", timeout=5)
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.loopback import LoopbackServer

API_ROOT = "/api/v2"
DEFAULT_DATA_TIMESTAMP = "2026-11-20T14:00:00"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000

FAULT_KINDS = (
    "slow",
    "status",
    "403",
    "429",
    "500",
    "502",
    "503",
    "html_200",
    "html_5xx",
    "text_400",
    "truncated",
    "cut",
    "empty_page_with_token",
    "empty_page_no_token",
    "no_studies_key",
    "repeat_token",
)
PAGE_ONLY_KINDS = frozenset({"empty_page_with_token", "empty_page_no_token", "no_studies_key", "repeat_token"})

KNOWN_PARAMS = re.compile(
    r"^(format|markupFormat|query\.(cond|term|locn|titles|intr|outc|spons|lead|id|patient)"
    r"|(post)?[fF]ilter\.(overallStatus|geo|ids|advanced|synonyms)|aggFilters|geoDecay|fields|sort"
    r"|countTotal|pageSize|pageToken)$"
)
RANGE_FILTER = re.compile(
    r"^\s*AREA\[LastUpdatePostDate\]\s*RANGE\[\s*(\d{4}-\d{2}-\d{2})\s*,\s*MAX\s*\]\s*$", re.IGNORECASE
)
PAGING_PARAMS = frozenset({"pageToken", "pageSize", "countTotal"})
# the section pieces a `fields` value may name (OpenAPI v2.0.5 Study properties). The real API also takes module and
# field names; this fake knows only sections and answers anything else as CT.gov answers an unknown name.
SECTION_FIELDS = {
    "ProtocolSection": "protocolSection",
    "ResultsSection": "resultsSection",
    "AnnotationSection": "annotationSection",
    "DocumentSection": "documentSection",
    "DerivedSection": "derivedSection",
    "HasResults": "hasResults",
}


def requested_sections(params: Mapping[str, str]) -> set[str] | None:
    """The record keys a ``fields`` parameter keeps (None: no filter); a 400 for an unknown name, as CT.gov."""
    if "fields" not in params:
        return None
    names = [name.strip() for name in re.split(r"[,|]", params["fields"])]
    bad = next((name for name in names if name not in SECTION_FIELDS), None)
    if bad is not None:
        raise _Reply(400, f"Parameter 'fields' contains invalid field name: '{bad}'")
    return {SECTION_FIELDS[name] for name in names}


def only_sections(record: Any, keep: set[str] | None) -> Any:
    if keep is None or not isinstance(record, Mapping):
        return record  # malformed records are served as they are
    return {key: value for key, value in record.items() if key in keep}

HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    "<body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request.</p>"
    "</body></html>"
)


@dataclass(frozen=True)
class Request:
    """One request the fake received. Unpacks as ``(path, params)``."""

    path: str  # relative to the API root: "/version", "/studies", "/studies/NCT..."; the full path if outside it
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)  # header names lower-cased

    def __iter__(self) -> Iterator[Any]:
        return iter((self.path, self.params))


@dataclass
class Fault:
    """A fault rule; see the module docstring for the kinds and options."""

    kind: str
    nth: int = 1
    times: int | None = 1
    path: str | None = "/studies"
    status: int | None = None
    retry_after: str | None = None
    delay: float = 2.0
    body: str | None = None
    hits: int = 0

    def matches(self, number: int) -> bool:
        return number >= self.nth and (self.times is None or number < self.nth + self.times)


def last_update_of(record: Mapping[str, Any]) -> str | None:
    """``protocolSection.statusModule.lastUpdatePostDateStruct.date`` of a record, None when absent."""
    try:
        value = record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def nct_id_of(record: Mapping[str, Any]) -> str | None:
    try:
        value = record["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


class _Reply(Exception):
    """Raised inside the handler to answer at once."""

    def __init__(self, status: int, body: str, content_type: str = "text/plain;charset=UTF-8",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})


class FakeCtgov(LoopbackServer):
    """The fake CT.gov API. Attributes tests may set at any time: ``studies``, ``data_timestamp``,
    ``api_version``, ``token_on_full_last_page``, ``term_filter``; read: ``url``, ``requests``, ``faults``."""

    def __init__(self, studies: list[Mapping[str, Any]] | None = None, *,
                 data_timestamp: str = DEFAULT_DATA_TIMESTAMP) -> None:
        self.studies: list[Mapping[str, Any]] = list(studies or [])
        self.data_timestamp: str | None = data_timestamp
        self.api_version = "2.0.5"
        self.token_on_full_last_page = True
        self.term_filter: Callable[[Mapping[str, str], Mapping[str, Any]], bool] | None = None
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._tokens: dict[str, tuple[int, tuple[tuple[str, str], ...]]] = {}
        self._last_token: str | None = None
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # ------------------------------------------------------------------------------------------------ lifecycle

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"owner": self})

    def start(self) -> FakeCtgov:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        self._stopping.set()  # a "slow" fault waiting in a handler gives up at once
        super().stop()

    @property
    def url(self) -> str:
        """Base URL of the API, like ``https://clinicaltrials.gov/api/v2`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}{API_ROOT}"

    # ------------------------------------------------------------------------------------------------ test API

    def inject(self, kind: str, *, nth: int = 1, times: int | None = 1, path: str | None = "/studies",
               status: int | None = None, retry_after: str | int | None = None, delay: float = 2.0,
               body: str | None = None) -> Fault:
        """Make requests number nth .. nth+times-1 to ``path`` (1-based; None = any path) fail with ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if nth < 1:
            raise ValueError("nth counts from 1")
        fault = Fault(kind=kind, nth=nth, times=times, path=path, status=status,
                      retry_after=None if retry_after is None else str(retry_after), delay=delay, body=body)
        with self._lock:
            self.faults.append(fault)
        return fault

    def count(self, path: str | None = None) -> int:
        """Requests received so far, to ``path`` only when given (e.g. ``"/studies"``, ``"/version"``)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def page_requests(self) -> list[Request]:
        """The requests to ``/studies`` (the list endpoint), in order."""
        with self._lock:
            return [r for r in self.requests if r.path == "/studies"]

    def reset(self) -> None:
        """Forget requests, faults, counters and issued tokens (studies and data_timestamp stay)."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self._tokens.clear()
            self._counts.clear()
            self._last_token = None

    def matching(self, params: Mapping[str, str]) -> list[Mapping[str, Any]]:
        """The studies a ``/studies`` request with these params selects, in order (no paging)."""
        since = None
        advanced = params.get("filter.advanced")
        if advanced is not None:
            match = RANGE_FILTER.match(advanced)
            if not match:
                raise _Reply(400, f"The fake CT.gov supports only AREA[LastUpdatePostDate]RANGE[date,MAX] "
                                  f"in filter.advanced, got: {advanced}")
            since = match.group(1)
        out = []
        for record in list(self.studies):
            if since is not None:
                updated = last_update_of(record)
                if updated is None or updated < since:
                    continue
            if self.term_filter is not None and not self.term_filter(params, record):
                continue
            out.append(record)
        return out

    # ------------------------------------------------------------------------------------------------ serving

    def _handle(self, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, bytes, dict, int]:
        """Returns (status, body, headers, bytes to send before closing; -1 = all)."""
        rel = path[len(API_ROOT):] if path.startswith(API_ROOT + "/") else path
        rel = rel.rstrip("/") or "/"
        with self._lock:
            self.requests.append(Request(rel, params, headers))
            key_counts = {rel, None}
            for key in key_counts:
                self._counts[key] = self._counts.get(key, 0) + 1
            fault = None
            for rule in self.faults:
                number = self._counts[rule.path] if rule.path in key_counts else 0
                if number and rule.matches(number):
                    fault = rule
                    rule.hits += 1
                    break
        if fault is not None and fault.kind == "slow":
            self._stopping.wait(fault.delay)
            fault = None
        if fault is not None and fault.kind not in PAGE_ONLY_KINDS | {"truncated", "cut"}:
            return self._fault_reply(fault)
        try:
            status, payload = self._route(rel, params, fault)
        except _Reply as reply:
            return reply.status, reply.body.encode(), {"Content-Type": reply.content_type, **reply.headers}, -1
        body = json.dumps(payload).encode()
        ctype = {"Content-Type": "application/json"}
        if fault is not None and fault.kind == "truncated":
            return status, body[: max(1, len(body) // 2)], ctype, -1
        if fault is not None and fault.kind == "cut":
            return status, body, ctype, max(1, len(body) // 2)
        return status, body, ctype, -1

    def _fault_reply(self, fault: Fault) -> tuple[int, bytes, dict, int]:
        kind = fault.kind
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        if kind in ("html_200", "html_5xx"):
            status = 200 if kind == "html_200" else (fault.status or 502)
            headers["Content-Type"] = "text/html; charset=utf-8"
            return status, (fault.body or HTML_PAGE).encode(), headers, -1
        if kind == "text_400":
            headers["Content-Type"] = "text/plain;charset=UTF-8"
            body = fault.body or "Invalid prefix in parameter name: bogus.param"
            return 400, body.encode(), headers, -1
        status = fault.status or (int(kind) if kind.isdigit() else 503)
        headers["Content-Type"] = "text/plain;charset=UTF-8"
        body = fault.body or {403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error",
                              502: "Bad Gateway", 503: "Service Unavailable"}.get(status, f"HTTP {status}")
        return status, body.encode(), headers, -1

    def _route(self, rel: str, params: dict[str, str], fault: Fault | None) -> tuple[int, Any]:
        if rel == "/version":
            payload: dict[str, Any] = {"apiVersion": self.api_version}
            if self.data_timestamp is not None:
                payload["dataTimestamp"] = self.data_timestamp
            return 200, payload
        if rel == "/studies":
            return 200, self._page(params, fault)
        if rel.startswith("/studies/"):
            wanted = rel[len("/studies/"):].upper()
            for record in list(self.studies):
                if (nct_id_of(record) or "").upper() == wanted:
                    return 200, record
            raise _Reply(404, f"Study not found: {wanted}")
        raise _Reply(404, f"Not found: {rel}")

    def _page(self, params: dict[str, str], fault: Fault | None) -> dict[str, Any]:
        for name in params:
            if not KNOWN_PARAMS.match(name):
                raise _Reply(400, f"Invalid prefix in parameter name: {name}")
        query_key = tuple(sorted((k, v) for k, v in params.items() if k not in PAGING_PARAMS))
        keep = requested_sections(params)
        try:
            size = int(params.get("pageSize", "0") or 0)
        except ValueError:
            raise _Reply(400, f"Parameter 'pageSize' is not an integer: {params['pageSize']}") from None
        if size < 0:
            raise _Reply(400, "Parameter 'pageSize' must not be negative")
        size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        token = params.get("pageToken")
        with self._lock:
            if token is None:
                offset = 0
            else:
                if token not in self._tokens:
                    raise _Reply(400, f"Invalid page token: {token}")
                offset, issued_for = self._tokens[token]
                if issued_for != query_key:
                    raise _Reply(400, "The pageToken was issued for different query parameters; every page must "
                                      "have the same parameters as the first one except pageSize and countTotal")
        selected = self.matching(params)
        page: dict[str, Any] = {}
        if fault is not None and fault.kind in ("empty_page_with_token", "no_studies_key"):
            # nothing of the page is delivered: the token resumes where this page would have started
            studies: list[Any] = []
            next_offset: int | None = offset
        elif fault is not None and fault.kind == "empty_page_no_token":
            studies, next_offset = [], None
        else:
            studies = [only_sections(record, keep) for record in selected[offset:offset + size]]
            end = offset + len(studies)
            full = len(studies) == size
            more = end < len(selected) or (full and self.token_on_full_last_page)
            next_offset = end if more else None
        if fault is None or fault.kind != "no_studies_key":
            page["studies"] = studies
        if token is None and params.get("countTotal", "").lower() == "true":
            page["totalCount"] = len(selected)
        with self._lock:
            if fault is not None and fault.kind == "repeat_token" and self._last_token is not None:
                page["nextPageToken"] = self._last_token
            elif next_offset is not None:
                new = secrets.token_urlsafe(24)
                self._tokens[new] = (next_offset, query_key)
                self._last_token = new
                page["nextPageToken"] = new
        return page


class _Handler(BaseHTTPRequestHandler):
    owner: FakeCtgov
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls
    server_version = "istio-envoy"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        split = urlsplit(self.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra, send = self.owner._handle(split.path, params, headers)
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if send >= 0:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body if send < 0 else body[:send])
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass


@pytest.fixture
def fake_ctgov() -> Iterator[FakeCtgov]:
    """A started FakeCtgov with no studies; ``fake_ctgov.url`` is the API base URL (``.../api/v2``)."""
    fake = FakeCtgov()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


__all__ = ["API_ROOT", "FAULT_KINDS", "FakeCtgov", "Fault", "Request", "fake_ctgov", "last_update_of", "nct_id_of"]
