"""PubMed through NCBI E-utilities: ``PubmedSource`` (esearch by creation-date window or by trial id, efetch in
batches), pacing, and decoding of the JSON answers and E-utilities errors.

Imports domain, errors, sources.http and sources.pubmed_xml only (plus httpx).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, ClassVar, cast

import httpx

from monitor.domain import Publication
from monitor.errors import ConfigError, SourceError
from monitor.sources.http import BodyError, Pacer, describe_body, fetch
from monitor.sources.pubmed_xml import normalise_nct_id, parse_article_set

log = logging.getLogger(__name__)

MAX_ESEARCH_IDS = 9999  # "For PubMed, ESearch can only retrieve the first 9,999 records"
ESEARCH_RETMAX = 10000
POST_TERM_LENGTH = 1500  # longer esearch terms go in a POST body
TRIAL_IDS_PER_SEARCH = 500
TRANSIENT_HINTS = ("rate limit", "backend", "temporar", "try again", "unavailable", "timeout", "timed out",
                   "too many", "unable to obtain")


def is_transient(message: str) -> bool:
    """Whether an E-utilities error text reads like a passing fault (rate limit, backend down) worth a retry."""
    lowered = message.lower()
    if "cannot be larger than" in lowered:  # "'retstart' cannot be larger than 9998": a Backend failure for good
        return False
    return any(hint in lowered for hint in TRANSIENT_HINTS)


def decode_json_lenient(response: httpx.Response) -> Any:
    """Like ``http.decode_json`` but accepting raw control characters inside strings: NCBI's ERROR texts hold
    raw newlines (``"Search Backend failed: Exception:<newline>'retstart' cannot be larger than 9998."``)."""
    text = response.text
    if text.lstrip()[:1] not in ("{", "["):
        raise BodyError(f"expected JSON, got {describe_body(response)!r}")
    try:
        return json.loads(text, strict=False)
    except ValueError as exc:
        error = BodyError(f"invalid or truncated JSON ({exc.args[0].split(':')[0]})")
    raise error


def decode_esearch(response: httpx.Response) -> tuple[int, list[str]]:
    """(count, PMIDs) from an esearch ``retmode=json`` body; errors in a 200 body -> BodyError / SourceError."""
    payload = decode_json_lenient(response)
    if not isinstance(payload, dict):
        raise BodyError(f"esearch answered {describe_body(response)}")
    if "error" in payload:
        _raise_api_error(str(payload["error"]))
    result = payload.get("esearchresult")
    if not isinstance(result, dict):
        raise BodyError(f"esearch answer has no esearchresult: {describe_body(response)}")
    if "ERROR" in result:
        _raise_api_error(str(result["ERROR"]))
    try:
        count = int(result["count"])
        ids = [str(pmid) for pmid in result.get("idlist", [])]
    except (KeyError, TypeError, ValueError):
        raise BodyError(f"esearch answer without a numeric count: {describe_body(response)}") from None
    if not all(pmid.isdigit() for pmid in ids):
        raise BodyError(f"esearch idlist holds a non-numeric PMID: {describe_body(response)}")
    phrases = (result.get("errorlist") or {}).get("phrasesnotfound") or []
    if phrases:
        log.warning("PubMed did not recognise these phrases of a search term: %s", ", ".join(map(str, phrases)))
    return count, list(dict.fromkeys(ids))


def decode_efetch(response: httpx.Response) -> tuple[list[Publication], list[tuple[str, str]]]:
    """Parse an efetch body: (publications, (PMID, error) pairs); a JSON error body is retried or reported."""
    if response.content.lstrip()[:1] in (b"{", b"["):
        payload = decode_json_lenient(response)
        message = payload.get("error") if isinstance(payload, dict) else None
        _raise_api_error(str(message or describe_body(response)))
    return parse_article_set(response.content)


def _raise_api_error(message: str) -> None:
    if is_transient(message):
        raise BodyError(f"E-utilities error: {message}")
    raise SourceError(f"E-utilities error: {message}")


class PubmedSource:
    """PubMed via NCBI E-utilities.

    ``search_window`` finds the PMIDs a query's term matches among records *created* (``crdt``) in a date window,
    splitting the window when it holds more than E-utilities can list (9,999); ``search_trials`` finds papers that
    cite tracked trials (``[si]`` DataBank links or the NCT id in title/abstract); ``fetch`` reads the articles with
    efetch in POSTed batches. Requests are paced at 3/s (10/s with an API key) and identify the tool and e-mail
    address, as NCBI asks; the API key never appears in messages or logs.
    """

    kind: ClassVar[str] = "pubmed"

    def __init__(self, client: httpx.Client, *, tool: str, email: str, api_key: str | None = None,
                 retries: int = 4, backoff: float = 2.0, sleep: Callable[[float], None] = time.sleep,
                 batch_size: int = 200) -> None:
        if not tool or any(ch.isspace() for ch in tool):
            raise ConfigError(f"MONITOR_NCBI_TOOL must be one word without spaces (NCBI's rule), got {tool!r}")
        if not 1 <= batch_size <= 10000:
            raise ValueError("batch_size must be between 1 and 10000")
        self._client = client
        self._identity = {"tool": tool, "email": email} if email else {"tool": tool}
        self._api_key = api_key or None
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._batch_size = batch_size
        self._pacer = Pacer(0.1 if self._api_key else 0.34, sleep=sleep)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"PubmedSource(base_url={str(self._client.base_url)!r}, tool={self._identity['tool']!r}, api_key={key})"

    # ---------------------------------------------------------------------------------------- searches

    def search_window(self, term: str, *, mindate: date, maxdate: date) -> list[str]:
        """PMIDs of records matching ``term`` created between mindate and maxdate (both included)."""
        if mindate > maxdate:
            raise ValueError(f"mindate {mindate} is after maxdate {maxdate}")
        pmids: dict[str, None] = {}
        for pmid in self._window(term, mindate, maxdate):
            pmids[pmid] = None
        return list(pmids)

    def _window(self, term: str, mindate: date, maxdate: date) -> Iterator[str]:
        params = {"datetype": "crdt", "mindate": _ymd(mindate), "maxdate": _ymd(maxdate)}
        what = f"PubMed esearch {_short(term)} created {mindate}..{maxdate}"
        count, ids = self._esearch(term, params, what=what)
        if count <= MAX_ESEARCH_IDS:
            yield from ids
            return
        if mindate == maxdate:
            raise SourceError(
                f"PubMed search {_short(term)} matches {count} records created on {mindate}, more than E-utilities "
                f"can list ({MAX_ESEARCH_IDS}); narrow the query's PubMed term"
            )
        middle = mindate + (maxdate - mindate) // 2
        log.info("%s: %d records, splitting the window at %s", what, count, middle)
        yield from self._window(term, mindate, middle)
        yield from self._window(term, middle + timedelta(days=1), maxdate)

    def search_trials(self, nct_ids: Sequence[str], *, mindate: date | None = None) -> list[str]:
        """PMIDs of papers linked to any of the trials (DataBank ``[si]`` or NCT id in title/abstract)."""
        wanted = sorted({_require_nct_id(value) for value in nct_ids})
        if not wanted:
            return []
        params: dict[str, str] = {}
        if mindate is not None:
            maxdate = date.today() + timedelta(days=1)
            params = {"datetype": "crdt", "mindate": _ymd(mindate), "maxdate": _ymd(max(mindate, maxdate))}
        pmids: dict[str, None] = {}
        chunks = list(_chunks(wanted, TRIAL_IDS_PER_SEARCH))
        for number, chunk in enumerate(chunks, 1):
            term = trial_term(chunk)
            what = f"PubMed esearch for {len(chunk)} trial ids (search {number}/{len(chunks)})"
            count, ids = self._esearch(term, params, what=what)
            if count > MAX_ESEARCH_IDS:
                raise SourceError(f"{what} matches {count} records, more than E-utilities can list")
            pmids.update(dict.fromkeys(ids))
        return list(pmids)

    def _esearch(self, term: str, extra: Mapping[str, str], *, what: str) -> tuple[int, list[str]]:
        params = {"db": "pubmed", "term": term, "retmode": "json", "retmax": str(ESEARCH_RETMAX), **extra}

        def decode(response: httpx.Response) -> tuple[int, list[str]]:
            count, ids = decode_esearch(response)
            if len(ids) < min(count, ESEARCH_RETMAX, MAX_ESEARCH_IDS):
                raise BodyError(f"esearch listed {len(ids)} PMIDs of a count of {count}")
            return count, ids

        if len(term) > POST_TERM_LENGTH:
            found = self._call("POST", "esearch.fcgi", decode, what=what, data=params)
        else:
            found = self._call("GET", "esearch.fcgi", decode, what=what, params=params)
        return cast(tuple[int, list[str]], found)

    # ---------------------------------------------------------------------------------------- efetch

    def fetch(self, pmids: Sequence[str]) -> Iterator[tuple[list[Publication], list[str]]]:
        """Read the articles in POSTed efetch batches: yields (publications, record errors) per batch.

        Duplicates are fetched once. A requested PMID that efetch does not return (deleted or merged, or a wrong PMID
        cited by a registry) is only logged: it is not an unreadable record, and failing the run for it would fail
        every run.
        """
        wanted = list(dict.fromkeys(str(pmid).strip() for pmid in pmids))
        bad = [pmid for pmid in wanted if not pmid.isdigit()]
        if bad:
            raise ValueError(f"not PubMed ids: {', '.join(bad[:5])}")
        batches = list(_chunks(wanted, self._batch_size))
        for number, batch in enumerate(batches, 1):
            what = f"PubMed efetch batch {number}/{len(batches)} ({len(batch)} PMIDs)"
            data = {"db": "pubmed", "retmode": "xml", "id": ",".join(batch)}
            publications, failures = self._call("POST", "efetch.fcgi", decode_efetch, what=what, data=data)
            accounted = {p.pmid for p in publications} | {pmid for pmid, _ in failures}
            missing = [pmid for pmid in batch if pmid not in accounted]
            if missing:
                log.warning("%s: PubMed returned no record for %d PMID(s) (deleted, merged or wrong): %s",
                            what, len(missing), ", ".join(missing[:10]))
            yield _dedupe(publications), [message for _, message in failures]

    # ---------------------------------------------------------------------------------------- plumbing

    def _call(self, method: str, url: str, decode: Callable[[httpx.Response], Any], *, what: str,
              params: Mapping[str, str] | None = None, data: Mapping[str, str] | None = None) -> Any:
        auth = {**self._identity, **({"api_key": self._api_key} if self._api_key else {})}
        try:
            return fetch(
                self._client, method, url, decode, what=what,
                params={**params, **auth} if params is not None else None,
                data={**data, **auth} if data is not None else None,
                retries=self._retries, backoff=self._backoff, pacer=self._pacer, sleep=self._sleep,
            )
        except SourceError as exc:
            error = type(exc)(self.scrub(str(exc)))
        raise error  # outside the except block: no __context__ that still holds the unscrubbed text

    def scrub(self, text: str) -> str:
        """The text with the API key replaced by ``***`` (in URLs and echoed in error bodies)."""
        text = re.sub(r"(api_key=)[^&\s)'\"]+", r"\1***", text)
        return text.replace(self._api_key, "***") if self._api_key else text


def trial_term(nct_ids: Iterable[str]) -> str:
    """``(NCT01234567[si] OR NCT01234567[tiab] OR ...)``: papers citing any of the trials."""
    return "(" + " OR ".join(f"{n}[si] OR {n}[tiab]" for n in nct_ids) + ")"


def _require_nct_id(value: str) -> str:
    nct_id = normalise_nct_id(value)
    if nct_id is None:
        raise ValueError(f"not an NCT id: {value!r}")
    return nct_id


def _ymd(day: date) -> str:
    return day.strftime("%Y/%m/%d")


def _short(term: str, limit: int = 80) -> str:
    text = " ".join(term.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _dedupe(publications: list[Publication]) -> list[Publication]:
    first: dict[str, Publication] = {}
    for publication in publications:
        first.setdefault(publication.pmid, publication)
    return list(first.values())
