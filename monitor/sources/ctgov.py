"""ClinicalTrials.gov API v2: page through ``/studies``; imports domain, errors, sources.http, sources.ctgov_parse.

``CtgovSource`` reads ``/version`` and streams ``/studies`` page by page for one search expression, optionally only
the studies whose LastUpdatePostDate is on or after a date (the incremental window); each record becomes a
``Study`` through :func:`monitor.sources.ctgov_parse.parse_study`.

Paging rules followed here (api-reference.md 1.4 and 1.6, product.md 2 and 8):

- every page is requested with exactly the same parameters, plus ``pageToken`` from the second page on;
- the result set ends only with a page that carries no ``nextPageToken``; an empty page that still carries a
  token is not the end;
- a token seen before (a loop) or more than ``max_pages`` pages end in a SourceError;
- when the first page announced ``totalCount`` and fewer distinct studies arrived (records that failed to parse
  count as arrived), the run ends in a SourceError after the last page, so the caller does not move its watermark;
- timeouts, 403/429/5xx, HTML or plain-text bodies, truncated JSON and bodies without a ``studies`` list are
  retried by :func:`monitor.sources.http.fetch`; when the retries run out it raises one SourceError line naming
  the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

import httpx

from monitor.domain import Study
from monitor.errors import RecordError, SourceError
from monitor.sources.ctgov_parse import parse_study, type_name
from monitor.sources.http import BodyError, Pacer, decode_json, fetch

API_MAX_PAGE_SIZE = 1000
DEFAULT_MAX_PAGES = 10_000
# ``fields`` of every /studies request: the sections parse_study and the classifier read, nothing else.
# OpenAPI v2.0.5 (listStudies ``fields``): items are area, piece, field or special names, and "if a piece ... is a
# branch node, all descendant fields will be included"; ``ProtocolSection`` and ``HasResults`` are the spec's own
# examples, ``ResultsSection`` and ``DerivedSection`` are the Study schema's other section pieces (components
# ``ResultsSection`` / ``DerivedSection``). Read: all of protocolSection (parser and classifier), hasResults,
# resultsSection.outcomeMeasuresModule, derivedSection.miscInfoModule.submissionTracking. Left out:
# documentSection and annotationSection (never read). An invalid name is an HTTP 400 on every poll, so a test
# pins this exact value.
STUDY_FIELDS = "ProtocolSection,ResultsSection,DerivedSection,HasResults"


def build_params(expression: str, *, since: date | None, page_size: int) -> dict[str, str]:
    """The ``/studies`` parameters of one search; identical for every page (``pageToken`` is added per page).

    ``query.term`` searches the whole record. ``fields`` asks only for the sections the bot reads
    (:data:`STUDY_FIELDS`). ``since`` adds ``filter.advanced=AREA[LastUpdatePostDate]RANGE[<since>,MAX]``.
    """
    if not expression or not expression.strip():
        raise ValueError("empty ClinicalTrials.gov search expression")
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
    if isinstance(since, datetime):
        since = since.date()
    params = {
        "query.term": expression.strip(),
        "pageSize": str(min(page_size, API_MAX_PAGE_SIZE)),
        "countTotal": "true",
        "fields": STUDY_FIELDS,
    }
    if since is not None:
        params["filter.advanced"] = f"AREA[LastUpdatePostDate]RANGE[{since.isoformat()},MAX]"
    return params


@dataclass(frozen=True)
class Page:
    """One ``/studies`` page, parsed.

    ``number`` counts from 1. ``record_errors`` holds one line per record that could not be parsed (the rest of
    the page is in ``studies``). ``total_count`` is the ``totalCount`` of the first page (the API sends it only
    there), repeated on every page; None when the API did not send it.
    """

    number: int
    studies: tuple[Study, ...]
    record_errors: tuple[str, ...]
    next_page_token: str | None
    total_count: int | None

    @property
    def received(self) -> int:
        """Records on this page, parsed or not."""
        return len(self.studies) + len(self.record_errors)


@dataclass(frozen=True)
class _RawPage:
    studies: list[Any]
    next_page_token: str | None
    total_count: int | None


def _decode_page(response: httpx.Response) -> _RawPage:
    """A ``/studies`` body -> _RawPage; anything that is not a PagedStudies object is a BodyError (retried)."""
    body = decode_json(response)
    if not isinstance(body, dict):
        raise BodyError(f"expected a JSON object, got {type_name(body)}")
    studies = body.get("studies")
    if not isinstance(studies, list):
        what = "no 'studies' key" if studies is None else f"'studies' is {type_name(studies)}"
        raise BodyError(f"{what} in the page (keys: {', '.join(sorted(body)) or 'none'})")
    token = body.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise BodyError(f"'nextPageToken' is {type_name(token)}, expected a string")
    total = body.get("totalCount")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise BodyError(f"'totalCount' is {total!r}, expected a count")
    return _RawPage(studies=studies, next_page_token=token or None, total_count=total)


def _decode_version(response: httpx.Response) -> Any:
    body = decode_json(response)
    if not isinstance(body, dict):
        raise BodyError(f"expected a JSON object, got {type_name(body)}")
    return body


class CtgovSource:
    """ClinicalTrials.gov API v2 through a caller-made client (``make_client(settings.ctgov_url, ...)``)."""

    kind: ClassVar[str] = "ctgov"

    def __init__(
        self,
        client: httpx.Client,
        *,
        page_size: int = 1000,
        min_interval: float = 1.0,
        retries: int = 4,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        max_pages: int = DEFAULT_MAX_PAGES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self.client = client
        self.page_size = min(page_size, API_MAX_PAGE_SIZE)
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.max_pages = max_pages
        self.pacer = Pacer(min_interval, clock=clock, sleep=sleep)

    def _fetch(
        self, url: str, decode: Callable[[httpx.Response], Any], what: str, params: Mapping[str, str] | None
    ) -> Any:
        return fetch(
            self.client,
            "GET",
            url,
            decode,
            what=what,
            params=params,
            retries=self.retries,
            backoff=self.backoff,
            pacer=self.pacer,
            sleep=self.sleep,
        )

    def data_timestamp(self) -> str:
        """``/version`` -> ``dataTimestamp`` (UTC ``yyyy-MM-ddTHH:mm:ss``); SourceError on failure or missing key."""
        body = self._fetch("version", _decode_version, "ClinicalTrials.gov /version", None)
        stamp = body.get("dataTimestamp")
        if not isinstance(stamp, str) or not stamp.strip():
            raise SourceError(
                f"ClinicalTrials.gov /version failed: no dataTimestamp in the answer (keys: {', '.join(sorted(body))})"
            )
        return stamp.strip()

    def iter_pages(self, expression: str, *, since: date | None) -> Iterator[Page]:
        """Stream the pages of one search, parsed; see the module docstring for the rules.

        The generator raises SourceError when a page cannot be read after the retries, on a repeated token, after
        ``max_pages`` pages, and after the last page when fewer studies arrived than the first page's totalCount.
        """
        params = build_params(expression, since=since, page_size=self.page_size)
        label = f"query.term={_short(expression.strip(), 80)!r}"
        seen_tokens: set[str] = set()
        seen_ids: set[str] = set()  # ids only: a study sent twice must not hide one never sent
        unparsed = 0
        token: str | None = None
        total: int | None = None
        number = 0
        while True:
            number += 1
            what = f"ClinicalTrials.gov /studies page {number} of {label}"
            if number > self.max_pages:
                raise SourceError(f"{what}: more than {self.max_pages} pages, giving up (paging does not end)")
            page_params = dict(params)
            if token is not None:
                page_params["pageToken"] = token
            raw: _RawPage = self._fetch("studies", _decode_page, what, page_params)
            if number == 1:
                total = raw.total_count
            token = raw.next_page_token
            studies, errors = self._parse_records(raw.studies, number)
            del raw
            seen_ids.update(study.nct_id for study in studies)
            unparsed += len(errors)
            if token is not None:
                if token in seen_tokens:
                    raise SourceError(
                        f"{what}: nextPageToken repeats an earlier token ({_short(token)}); paging would loop"
                    )
                seen_tokens.add(token)
            # the generator keeps no reference to the page while the caller holds it, so the page (and every
            # record in it) is freed the moment the caller lets it go: only one page in memory at a time
            box = [
                Page(number=number, studies=studies, record_errors=errors, next_page_token=token, total_count=total)
            ]
            del studies, errors
            yield box.pop()
            if token is None:
                break
        received = len(seen_ids) + unparsed
        if total is not None and received < total:
            raise SourceError(
                f"ClinicalTrials.gov /studies for {label}: received {received} of {total} studies announced by "
                f"totalCount in {number} pages; the result set is incomplete"
            )

    @staticmethod
    def _parse_records(records: Sequence[Any], number: int) -> tuple[tuple[Study, ...], tuple[str, ...]]:
        studies = []
        errors = []
        for i, record in enumerate(records, 1):
            try:
                studies.append(parse_study(record, index=i))
            except RecordError as exc:
                errors.append(f"page {number}: {exc}")
        return tuple(studies), tuple(errors)


def _short(token: str, limit: int = 24) -> str:
    return token if len(token) <= limit else token[:limit] + "..."
