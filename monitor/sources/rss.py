"""PubMed RSS feeds (a user's saved search) read with feedparser: the PMIDs of the items, newest first.

Imports errors and sources.http only (plus httpx and feedparser, imported lazily).
"""

from __future__ import annotations

import calendar
import io
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.errors import ConfigError, SourceError
from monitor.sources.http import BodyError, describe_body, fetch

log = logging.getLogger(__name__)

PMID = re.compile(r"^\d{1,10}$")
PMID_IDENTIFIER = re.compile(r"^\s*(?:pmid|pubmed):\s*(\d{1,10})\s*$", re.IGNORECASE)
RAW_ITEM = re.compile(rb"<(?:[\w.-]+:)?(item|entry)\b.*?</(?:[\w.-]+:)?\1\s*>", re.DOTALL)
RAW_PMID_IDENTIFIER = re.compile(rb"<(?:[\w.-]+:)?identifier\b[^>]*>\s*pmid:\s*(\d{1,10})\s*<", re.IGNORECASE)


def pmid_from_link(link: str) -> str | None:
    """The PMID of a PubMed item link (``https://pubmed.ncbi.nlm.nih.gov/39201801/?utm_source=...`` -> ``39201801``).

    The query string and fragment are ignored; the last path segment must be the number. Links to hosts other than
    NCBI's (``*.nih.gov``) are not PubMed pages and give None, as does a link without a number.
    """
    if not link:
        return None
    try:
        parts = urlsplit(link.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host and not (host == "nih.gov" or host.endswith(".nih.gov")):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if segments and PMID.match(segments[-1]) and segments[-1].strip("0"):
        return segments[-1]
    return None


def read_feed(client: httpx.Client, url: str, *, retries: int = 4, backoff: float = 2.0,
              sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """GET a PubMed RSS feed and return its items' PMIDs, newest first, de-duplicated.

    A body feedparser cannot read as a feed (HTML page, truncated XML) is retried, then raises SourceError naming
    the URL. A feed whose items carry no PMID at all raises SourceError (it is not a PubMed feed).
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"PubMed RSS feed URL must be an absolute http(s) URL, got {url!r}")
    what = f"PubMed RSS feed {url}"
    return fetch(client, "GET", url, lambda response: parse_feed(response, url=url),
                 what=what, retries=retries, backoff=backoff, sleep=sleep)


def parse_feed(response: httpx.Response, *, url: str) -> list[str]:
    """The PMIDs of a feed response (the ``decode`` step of read_feed): BodyError when it is not a feed."""
    import feedparser  # lazy: feedparser is slow to import and only feeds need it

    content = response.content
    feed = feedparser.parse(io.BytesIO(content),
                            response_headers={"content-type": response.headers.get("content-type", "")})
    entries = list(feed.entries)
    if not entries:
        if feed.bozo or not feed.get("version"):
            reason = type(feed.get("bozo_exception")).__name__ if feed.bozo else "no RSS or Atom document"
            raise BodyError(f"not a readable feed ({reason}): {describe_body(response)}")
        return []
    if feed.bozo:
        log.warning("PubMed RSS feed %s is not well-formed (%s); read %d items anyway",
                    url, type(feed.get("bozo_exception")).__name__, len(entries))
    raw_items = [match.group(0) for match in RAW_ITEM.finditer(content)]
    raw = raw_items if len(raw_items) == len(entries) else [b""] * len(entries)
    dated = []
    for position, (entry, raw_item) in enumerate(zip(entries, raw, strict=True)):
        pmid = entry_pmid(entry, raw_item)
        if pmid is None:
            log.warning("PubMed RSS feed %s: item %r has no PMID; skipped", url, entry.get("title", "")[:80])
            continue
        dated.append((_timestamp(entry), position, pmid))
    if not dated and feed.bozo:  # a broken body (truncated, an error page) rather than a feed of other things
        raise BodyError(f"not a readable feed ({type(feed.get('bozo_exception')).__name__}): "
                        f"{describe_body(response)}")
    if not dated:
        raise SourceError(f"PubMed RSS feed {url}: none of its {len(entries)} items links to a PubMed record")
    dated.sort(key=lambda item: (-item[0], item[1]))  # newest first; the feed's order among equal dates
    return list(dict.fromkeys(pmid for _, _, pmid in dated))


def entry_pmid(entry: Any, raw_item: bytes = b"") -> str | None:
    """PMID of a feedparser entry: its link path, else a ``pubmed:``/``pmid:`` guid or identifier.

    feedparser keeps only the LAST ``dc:identifier`` of an item (``doi:...`` in PubMed feeds), so the raw item's
    ``<dc:identifier>pmid:N</dc:identifier>`` is the last resort.
    """
    candidates = [pmid_from_link(entry.get("link", ""))]
    for link in entry.get("links", []):
        candidates.append(pmid_from_link(link.get("href", "")))
    for value in (entry.get("id", ""), entry.get("dc_identifier", "")):
        match = PMID_IDENTIFIER.match(value or "")
        candidates.append(match.group(1) if match else None)
    raw_match = RAW_PMID_IDENTIFIER.search(raw_item)
    candidates.append(raw_match.group(1).decode() if raw_match else None)
    return next((c for c in candidates if c), None)


def _timestamp(entry: Any) -> float:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return float(calendar.timegm(parsed)) if parsed else float("-inf")
