"""A loopback fake of NCBI E-utilities (esearch, efetch) and PubMed RSS for tests (stdlib HTTP server, 127.0.0.1).

What it serves, under ``<fake.url>`` = ``http://127.0.0.1:<port>/entrez/eutils`` (use it as ``MONITOR_EUTILS_URL``):

- ``esearch.fcgi`` (GET or POST form)  ``db=pubmed&term=...`` -> JSON with ``retmode=json`` (XML otherwise),
  shaped like the real answer: ``{"header": {...}, "esearchresult": {"count": "<string>", "retmax", "retstart",
  "idlist": [...], "translationset": [], "querytranslation": term}}`` (plus ``warninglist`` when nothing matched).
- ``efetch.fcgi`` (GET or POST form)   ``db=pubmed&id=1,2,3&retmode=xml`` -> a ``PubmedArticleSet`` holding the
  fragments of the requested PMIDs that ``fake.articles`` knows, in the order asked (unknown PMIDs are left out, as
  PubMed does), and a ``DeleteCitation`` for the PMIDs in ``fake.deleted``; ``id`` may also be repeated.
- ``GET <fake.rss_root>/<name>/?...``  -> the bytes of ``fake.feeds[name]`` (``fake.add_feed`` returns the URL).

Which PMIDs an esearch ``term`` matches (the first rule that applies):

1. ``fake.searches[term]`` (``fake.add_search(term, pmids)``; whitespace in the term is normalised);
2. ``fake.search_rule(term, params)`` when set and it returns a list (None = no opinion);
3. a term made only of ``NCTxxxxxxxx[si]`` / ``NCTxxxxxxxx[tiab]`` joined by ``OR`` (what
   ``PubmedSource.search_trials`` sends) is evaluated against ``fake.articles``: ``[si]`` matches a ClinicalTrials.gov
   ``AccessionNumber`` in the DataBankList, ``[tiab]`` the id written in ArticleTitle / AbstractText;
4. otherwise nothing (count "0").

Then ``mindate``/``maxdate`` (``YYYY/MM/DD``, ``YYYY/MM`` or ``YYYY``; any ``datetype``) keep the PMIDs whose
``fake.created[pmid]`` lies in the window, both ends included; a PMID without a creation date matches every window.
``count`` is the number of matches; ``idlist`` is ``retstart``/``retmax`` (default 20) of the first
``fake.max_listed`` (9,999, as PubMed) matches. ``retstart`` > 9998 answers NCBI's real error (raw newline included).

Faults: ``fake.inject(kind, nth=1, times=1, endpoint="efetch", **options)`` makes the nth (1-based, counting only
requests to ``endpoint``: ``"esearch"``, ``"efetch"``, ``"rss"``; ``None`` counts every request) and the following
``times - 1`` requests fail (``times=None``: every request from the nth on). Kinds (``FAULT_KINDS``):

==================  ==========================================================================================
``429``             429 application/json with the real rate-limit body ``{"error":"API rate limit exceeded",
                    "api-key":"<the request's api_key, else the client IP>","count":"4","limit":"3"}`` and
                    ``X-RateLimit-*`` headers; ``retry_after`` adds Retry-After
``rate_limit_200``  the same JSON body with status 200
``500`` ``502``     that status with an HTML error page (``status`` + ``body`` override)
``503``
``status``          ``status`` (default 503) with a text/plain ``body``
``html_200``        200 text/html error page
``truncated``       the real answer cut in half (200, Content-Length matches)
``malformed``       200 with a body of the right type that does not parse (mismatched XML tags / broken JSON)
``esearch_error``   200 JSON ``{"esearchresult": {"ERROR": body}}`` (default "Invalid query syntax")
``efetch_error``    200 XML ``<eFetchResult><ERROR>body</ERROR></eFetchResult>``
``empty``           200 with an empty body
==================  ==========================================================================================

Bookkeeping: ``fake.requests`` is a list of :class:`Request` (``endpoint``, ``method``, ``params`` = query and form
merged, ``headers`` lower-cased, ``path``); ``fake.count(endpoint=None)``; ``fake.efetch_ids()`` = the ids of each
efetch request; ``fake.reset()`` clears requests and faults (data stays).

Use it through the pytest fixture ``fake_eutils`` (``from tests.eutils_server import fake_eutils  # noqa: F401``)
or as a context manager::

    with FakeEutils() as fake:
        pmids = fake.add_articles(Path("tests/recordings/pubmed/hawc_efetch_21813367_structured.xml").read_bytes(),
                                  created=date(2026, 1, 5))
        fake.add_search("exosome AND cancer", pmids)
        client = make_client(fake.url, user_agent="t", timeout=5)
        source = PubmedSource(client, tool="t", email="t@example.org", sleep=lambda s: None)
        assert source.search_window("exosome AND cancer", mindate=date(2026, 1, 1), maxdate=date(2026, 1, 31)) == pmids
"""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.loopback import LoopbackServer

EUTILS_ROOT = "/entrez/eutils"
RSS_ROOT = "/rss/search"
MAX_LISTED = 9999
XML_HEAD = (
    '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
)
RATE_LIMIT_BODY = {"error": "API rate limit exceeded", "api-key": "", "count": "4", "limit": "3"}
RETSTART_ERROR = (
    b'{"header":{"type":"esearch","version":"0.3"},"esearchresult":{"ERROR":'
    b"\"Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For PubMed, ESearch can only "
    b'retrieve the first 9,999 records matching the query."}}'
)
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>{status} {reason}</title></head>"
    "<body><h1>{reason}</h1><p>The server encountered a temporary error and could not complete your request.</p>"
    "</body></html>"
)
FAULT_KINDS = ("429", "rate_limit_200", "500", "502", "503", "status", "html_200", "truncated", "malformed",
               "esearch_error", "efetch_error", "empty")
TRIAL_TOKEN = re.compile(r"(NCT\d{8})\[(si|tiab)\]", re.IGNORECASE)
TRIAL_TERM_REST = re.compile(r"^[\s()]*(?:OR[\s()]*)*$", re.IGNORECASE)
ET.register_namespace("mml", "http://www.w3.org/1998/Math/MathML")  # keep MathML's usual prefix in fragments


@dataclass(frozen=True)
class Request:
    """One request the fake received. Unpacks as ``(endpoint, params)``."""

    endpoint: str  # "esearch", "efetch", "rss", or the path when it is none of these
    method: str
    params: dict[str, str]  # query string and form body merged; repeated names joined with ","
    headers: dict[str, str] = field(default_factory=dict)
    path: str = ""

    def __iter__(self) -> Iterator[Any]:
        return iter((self.endpoint, self.params))


@dataclass
class Fault:
    kind: str
    nth: int = 1
    times: int | None = 1
    endpoint: str | None = "efetch"
    status: int | None = None
    retry_after: str | None = None
    body: str | None = None
    hits: int = 0

    def matches(self, number: int) -> bool:
        return number >= self.nth and (self.times is None or number < self.nth + self.times)


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def split_articles(xml: bytes | str) -> list[tuple[str, str]]:
    """(PMID, fragment) for each PubmedArticle / PubmedBookArticle of a PubmedArticleSet document."""
    root = ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    out = []
    for element in root:
        if element.tag in ("PubmedArticle", "PubmedBookArticle"):
            pmid = element.findtext("MedlineCitation/PMID") or element.findtext("BookDocument/PMID") or ""
            out.append((pmid.strip(), ET.tostring(element, encoding="unicode")))
    return out


def _parse_day(text: str, *, end: bool) -> date:
    parts = [int(p) for p in re.split(r"[/-]", text.strip()) if p]
    year = parts[0]
    month = parts[1] if len(parts) > 1 else (12 if end else 1)
    if len(parts) > 2:
        return date(year, month, parts[2])
    if not end:
        return date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


class FakeEutils(LoopbackServer):
    """The fake E-utilities. Attributes tests may set at any time: ``articles``, ``created``, ``searches``,
    ``search_rule``, ``deleted``, ``feeds``, ``max_listed``; read: ``url``, ``requests``, ``faults``."""

    def __init__(self) -> None:
        self.articles: dict[str, str] = {}  # PMID -> <PubmedArticle> or <PubmedBookArticle> fragment
        self.created: dict[str, date] = {}  # PMID -> creation date (crdt), for mindate/maxdate windows
        self.searches: dict[str, list[str]] = {}  # normalised term -> PMIDs
        self.search_rule: Callable[[str, Mapping[str, str]], list[str] | None] | None = None
        self.deleted: set[str] = set()
        self.feeds: dict[str, bytes] = {}
        self.max_listed = MAX_LISTED
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._counts: dict[str | None, int] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------------ lifecycle

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"owner": self})

    @property
    def url(self) -> str:
        """Base URL of E-utilities, like ``https://eutils.ncbi.nlm.nih.gov/entrez/eutils`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}{EUTILS_ROOT}"

    @property
    def rss_root(self) -> str:
        return f"http://127.0.0.1:{self.port}{RSS_ROOT}"

    # ------------------------------------------------------------------------------------------------ test data

    def add_article(self, fragment: str | bytes, *, created: date | None = None) -> str:
        """Add one ``<PubmedArticle>`` / ``<PubmedBookArticle>`` fragment; returns its PMID."""
        text = fragment.decode("utf-8") if isinstance(fragment, bytes) else fragment
        ((pmid, piece),) = split_articles(f"<PubmedArticleSet>{text}</PubmedArticleSet>")
        self.articles[pmid] = piece
        if created is not None:
            self.created[pmid] = created
        return pmid

    def add_articles(self, xml: bytes | str, *, created: date | None = None) -> list[str]:
        """Add every article of a PubmedArticleSet document (e.g. a recording); returns their PMIDs in order."""
        pmids = []
        for pmid, piece in split_articles(xml):
            if pmid:  # an article without a PMID cannot be served by id
                self.articles[pmid] = piece
                if created is not None:
                    self.created[pmid] = created
                pmids.append(pmid)
        return pmids

    def add_search(self, term: str, pmids: list[str]) -> None:
        """``term`` (exactly, whitespace normalised) matches ``pmids``, before any date window."""
        self.searches[" ".join(term.split())] = list(pmids)

    def add_feed(self, name: str, body: bytes | str) -> str:
        """Serve an RSS document; returns its absolute URL (with a query string, like PubMed's feed URLs)."""
        self.feeds[name] = body.encode("utf-8") if isinstance(body, str) else body
        return f"{self.rss_root}/{name}/?limit=15&utm_campaign=pubmed-2&fc=20211108074834"

    def inject(self, kind: str, *, nth: int = 1, times: int | None = 1, endpoint: str | None = "efetch",
               status: int | None = None, retry_after: str | int | None = None, body: str | None = None) -> Fault:
        """Make requests nth .. nth+times-1 to ``endpoint`` (1-based; None = any) fail with ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if nth < 1:
            raise ValueError("nth counts from 1")
        fault = Fault(kind, nth, times, endpoint, status, None if retry_after is None else str(retry_after), body)
        with self._lock:
            self.faults.append(fault)
        return fault

    def count(self, endpoint: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if endpoint is None or r.endpoint == endpoint)

    def efetch_ids(self) -> list[list[str]]:
        """The PMIDs each efetch request asked for, in order."""
        with self._lock:
            return [[i for i in r.params.get("id", "").split(",") if i] for r in self.requests
                    if r.endpoint == "efetch"]

    def reset(self) -> None:
        """Forget requests, faults and counters (articles, searches and feeds stay)."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self._counts.clear()

    # ------------------------------------------------------------------------------------------------ esearch

    def matching(self, term: str, params: Mapping[str, str]) -> list[str]:
        """The PMIDs an esearch with this term and params matches (date window applied, not sliced)."""
        key = " ".join(term.split())
        if key in self.searches:
            pmids = list(self.searches[key])
        elif self.search_rule is not None and (ruled := self.search_rule(term, params)) is not None:
            pmids = list(ruled)
        else:
            pmids = self._trial_matches(term)
        if params.get("mindate") and params.get("maxdate"):
            low = _parse_day(params["mindate"], end=False)
            high = _parse_day(params["maxdate"], end=True)
            pmids = [p for p in pmids if p not in self.created or low <= self.created[p] <= high]
        return list(dict.fromkeys(pmids))

    def _trial_matches(self, term: str) -> list[str]:
        tokens = TRIAL_TOKEN.findall(term)
        if not tokens or not TRIAL_TERM_REST.match(TRIAL_TOKEN.sub(" ", term)):
            return []
        found = []
        for pmid, fragment in list(self.articles.items()):
            element = ET.fromstring(fragment)
            banks = {(a.text or "").strip().upper() for a in element.iter("AccessionNumber")}
            text = " ".join("".join(e.itertext()) for tag in ("ArticleTitle", "AbstractText")
                            for e in element.iter(tag)).upper()
            if any((nct.upper() in banks) if tag.lower() == "si" else (nct.upper() in text) for nct, tag in tokens):
                found.append(pmid)
        return sorted(found, key=int, reverse=True)

    def _esearch(self, params: Mapping[str, str]) -> _Answer:
        term = params.get("term", "")
        try:
            retstart = int(params.get("retstart", "0") or 0)
            retmax = int(params.get("retmax", "20") or 20)
        except ValueError:
            return _Answer(400, b"retstart/retmax must be integers", "text/plain")
        if retstart > self.max_listed - 1:
            return _Answer(200, RETSTART_ERROR, "application/json; charset=UTF-8")
        pmids = self.matching(term, params)
        listed = pmids[: self.max_listed][retstart: retstart + retmax]
        if params.get("retmode", "xml") != "json":
            ids = "".join(f"<Id>{p}</Id>\n" for p in listed)
            body = (f'<?xml version="1.0" encoding="UTF-8" ?>\n<eSearchResult><Count>{len(pmids)}</Count>'
                    f"<RetMax>{len(listed)}</RetMax><RetStart>{retstart}</RetStart><IdList>\n{ids}</IdList>"
                    "<TranslationSet/></eSearchResult>\n")
            return _Answer(200, body.encode(), "text/xml; charset=UTF-8")
        result: dict[str, Any] = {"count": str(len(pmids)), "retmax": str(len(listed)), "retstart": str(retstart),
                                  "idlist": listed, "translationset": [], "querytranslation": term}
        if not pmids:
            result["warninglist"] = {"phrasesignored": [], "quotedphrasesnotfound": [],
                                     "outputmessages": ["No items found."]}
        payload = {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result}
        return _Answer(200, json.dumps(payload).encode(), "application/json; charset=UTF-8")

    # ------------------------------------------------------------------------------------------------ efetch

    def _efetch(self, params: Mapping[str, str]) -> _Answer:
        if params.get("retmode", "xml") != "xml":
            return _Answer(400, b"the fake efetch serves retmode=xml only", "text/plain")
        ids = [i.strip() for i in params.get("id", "").split(",") if i.strip()]
        if not ids:
            body = '<?xml version="1.0" encoding="UTF-8" ?>\n<eFetchResult>\n\t<ERROR>Empty id list - nothing todo' \
                   "</ERROR>\n</eFetchResult>\n"
            return _Answer(200, body.encode(), "text/xml; charset=UTF-8")
        pieces = [self.articles[i] for i in ids if i in self.articles]
        deleted = "".join(f'<PMID Version="1">{i}</PMID>' for i in ids if i in self.deleted)
        tail = f"<DeleteCitation>{deleted}</DeleteCitation>" if deleted else ""
        body = XML_HEAD + "<PubmedArticleSet>\n" + "".join(pieces) + tail + "</PubmedArticleSet>"
        return _Answer(200, body.encode("utf-8"), "text/xml; charset=UTF-8")

    # ------------------------------------------------------------------------------------------------ serving

    def handle(self, method: str, path: str, params: dict[str, str], headers: dict[str, str],
               client_ip: str) -> _Answer:
        endpoint = _endpoint(path)
        with self._lock:
            self.requests.append(Request(endpoint, method, params, headers, path))
            for key in (endpoint, None):
                self._counts[key] = self._counts.get(key, 0) + 1
            fault = None
            for rule in self.faults:
                number = self._counts.get(rule.endpoint, 0) if rule.endpoint in (endpoint, None) else 0
                if number and rule.matches(number):
                    fault, rule.hits = rule, rule.hits + 1
                    break
        if fault is not None and fault.kind not in ("truncated", "malformed"):
            return _fault_answer(fault, params, client_ip)
        answer = self._route(endpoint, path, params)
        if fault is not None and fault.kind == "truncated":
            answer.body = answer.body[: max(1, len(answer.body) // 2)]
        elif fault is not None:
            answer.body = _malformed(answer)
        return answer

    def _route(self, endpoint: str, path: str, params: Mapping[str, str]) -> _Answer:
        if endpoint in ("esearch", "efetch") and params.get("db", "pubmed") != "pubmed":
            return _Answer(200, b'{"esearchresult":{"ERROR":"Invalid db name"}}', "application/json")
        if endpoint == "esearch":
            return self._esearch(params)
        if endpoint == "efetch":
            return self._efetch(params)
        if endpoint == "rss":
            name = path[len(RSS_ROOT):].strip("/")
            if name in self.feeds:
                return _Answer(200, self.feeds[name], "application/xml; charset=utf-8")
        return _Answer(404, HTML_PAGE.format(status=404, reason="Not Found").encode(), "text/html; charset=utf-8")


def _endpoint(path: str) -> str:
    if path.startswith(EUTILS_ROOT + "/"):
        name = path[len(EUTILS_ROOT) + 1:].strip("/")
        if name in ("esearch.fcgi", "efetch.fcgi"):
            return name[:-5]
    if path.startswith(RSS_ROOT + "/"):
        return "rss"
    return path


def _fault_answer(fault: Fault, params: Mapping[str, str], client_ip: str) -> _Answer:
    kind = fault.kind
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    if kind in ("429", "rate_limit_200"):
        limit = "10" if params.get("api_key") else "3"
        body = dict(RATE_LIMIT_BODY, **{"api-key": params.get("api_key") or client_ip, "limit": limit})
        headers.update({"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": "0"})
        status = 429 if kind == "429" else 200
        return _Answer(status, json.dumps(body, separators=(",", ":")).encode(), "application/json", headers)
    if kind in ("500", "502", "503", "html_200"):
        status = fault.status or (200 if kind == "html_200" else int(kind))
        reason = {200: "Service Unavailable", 500: "Internal Server Error", 502: "Bad Gateway",
                  503: "Service Unavailable"}.get(status, "Error")
        body = fault.body or HTML_PAGE.format(status=503 if status == 200 else status, reason=reason)
        return _Answer(status, body.encode(), "text/html; charset=utf-8", headers)
    if kind == "status":
        status = fault.status or 503
        return _Answer(status, (fault.body or f"HTTP {status}").encode(), "text/plain", headers)
    if kind == "esearch_error":
        payload = {"header": {"type": "esearch", "version": "0.3"},
                   "esearchresult": {"ERROR": fault.body or "Invalid query syntax"}}
        return _Answer(200, json.dumps(payload).encode(), "application/json; charset=UTF-8", headers)
    if kind == "efetch_error":
        body = f'<?xml version="1.0" ?>\n<eFetchResult><ERROR>{fault.body or "Unable to obtain query #1"}</ERROR>' \
               "</eFetchResult>"
        return _Answer(200, body.encode(), "text/xml; charset=UTF-8", headers)
    return _Answer(200, b"", "text/xml; charset=UTF-8", headers)  # empty


def _malformed(answer: _Answer) -> bytes:
    if "json" in answer.content_type:
        return b'{"header":{"type":"esearch","version":"0.3"},"esearchresult":{"count":"1","idlist":["1",]}}'
    if "xml" in answer.content_type and b"<rss" in answer.body[:500]:
        return b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><item></channel></rss>'
    return (XML_HEAD + "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID></PubmedArticle>"
            "</PubmedArticleSet>").encode()


class _Handler(BaseHTTPRequestHandler):
    owner: FakeEutils
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve("POST", self.rfile.read(length) if length else b"")

    def _serve(self, method: str, body: bytes) -> None:
        parts = urlsplit(self.path)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if body and "form" in (self.headers.get("Content-Type") or ""):
            pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        params: dict[str, str] = {}
        for name, value in pairs:
            params[name] = f"{params[name]},{value}" if name in params else value
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.owner.handle(method, parts.path, params, headers, self.client_address[0])
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)


@pytest.fixture
def fake_eutils() -> Iterator[FakeEutils]:
    """A started FakeEutils on 127.0.0.1 (random port), stopped after the test."""
    with FakeEutils() as fake:
        yield fake
