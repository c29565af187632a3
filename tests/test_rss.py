"""read_feed / pmid_from_link on the two real PubMed feeds a week apart, served by the loopback fake."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from monitor.errors import ConfigError, SourceError
from monitor.sources.http import make_client
from monitor.sources.rss import pmid_from_link, read_feed
from tests.eutils_server import FakeEutils, fake_eutils  # noqa: F401

RECORDINGS = Path(__file__).parent / "recordings" / "pubmed"
DEC_14 = (RECORDINGS / "pubmed_rss_biorss_2021-12-14.xml").read_bytes()
DEC_21 = (RECORDINGS / "pubmed_rss_biorss_2021-12-21.xml").read_bytes()
ITEM = re.compile(rb"<item>.*?</item>\s*", re.DOTALL)


@pytest.fixture
def client(fake_eutils: FakeEutils) -> Iterator[httpx.Client]:
    """A client whose base URL is E-utilities: feeds are read by absolute URL, whatever the base."""
    with make_client(fake_eutils.url, user_agent="monitor-tests/0.1", timeout=5) as http:
        yield http


def items_of(feed: bytes) -> list[bytes]:
    return ITEM.findall(feed)


def with_items(feed: bytes, items: list[bytes]) -> bytes:
    """The feed with its items replaced (channel head and tail kept)."""
    found = items_of(feed)
    start, end = feed.index(found[0]), feed.index(found[-1]) + len(found[-1])
    return feed[:start] + b"".join(items) + feed[end:]


def links_in(feed: bytes) -> list[str]:
    return [m.decode() for m in re.findall(rb"<link>https://pubmed\.ncbi\.nlm\.nih\.gov/(\d+)/", feed)]


def test_two_real_feeds_a_week_apart(fake_eutils: FakeEutils, client: httpx.Client) -> None:
    first = read_feed(client, fake_eutils.add_feed("saved-search", DEC_14), sleep=lambda s: None)
    fake_eutils.feeds["saved-search"] = DEC_21  # the same feed URL, seven days later
    second = read_feed(client, fake_eutils.add_feed("saved-search", DEC_21), sleep=lambda s: None)

    assert first == links_in(DEC_14) and len(first) == 15  # the feed is already newest first
    assert first[0] == "34902460" and first[-1] == "34889730"
    assert second[0] == "34929406" and len(second) == 15
    new = [pmid for pmid in second if pmid not in set(first)]
    assert new == second  # no item of Dec 14 is still in the feed on Dec 21
    (request,) = [r for r in fake_eutils.requests if r.path.endswith("/saved-search/")][:1]
    assert request.method == "GET" and request.params["limit"] == "15"


def test_items_are_returned_newest_first_whatever_the_feed_order(fake_eutils: FakeEutils,
                                                                 client: httpx.Client) -> None:
    reversed_feed = with_items(DEC_14, items_of(DEC_14)[::-1])

    pmids = read_feed(client, fake_eutils.add_feed("reversed", reversed_feed))

    dates = dict(zip(links_in(DEC_14), re.findall(rb"<dc:date>([\d-]+)</dc:date>", DEC_14), strict=True))
    assert sorted(pmids) == sorted(links_in(DEC_14))
    assert [dates[p] for p in pmids] == sorted(dates.values(), reverse=True)
    assert pmids[-1] == "34889730"  # the only item of Dec 10


def test_an_item_seen_twice_is_one_pmid(fake_eutils: FakeEutils, client: httpx.Client) -> None:
    items = items_of(DEC_21)
    pmids = read_feed(client, fake_eutils.add_feed("twice", with_items(DEC_21, items[:3] + items[:1])))
    assert pmids == links_in(DEC_21)[:3]


def test_feedparser_keeps_only_the_last_dc_identifier() -> None:
    """The pitfall read_feed works around (api-reference.md 2.6): the doi wins over the pmid."""
    entry = feedparser.parse(io.BytesIO(DEC_21)).entries[0]
    assert entry.dc_identifier == "doi:10.1016/j.parint.2021.102531"
    assert b"<dc:identifier>pmid:34929406</dc:identifier>" in items_of(DEC_21)[0]


def test_an_item_without_a_pmid_link_falls_back_to_its_pmid_identifier(fake_eutils: FakeEutils,
                                                                       client: httpx.Client) -> None:
    items = items_of(DEC_21)
    first = re.sub(rb"<link>[^<]*</link>", b"<link>https://pubmed.ncbi.nlm.nih.gov/?term=new+species</link>",
                   items[0])
    first = re.sub(rb"<guid[^>]*>[^<]*</guid>", b"", first)
    first = re.sub(rb'PMID:<a href="[^"]*"', b'PMID:<a href="#"', first)  # no PubMed link left in the content

    pmids = read_feed(client, fake_eutils.add_feed("no-link", with_items(DEC_21, [first, items[1]])))

    assert pmids == ["34929406", "34928401"]  # 34929406 from <dc:identifier>pmid:34929406</dc:identifier>


def test_a_truncated_feed_still_gives_its_complete_items(fake_eutils: FakeEutils, client: httpx.Client,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    cut = DEC_14[: [m.end() for m in re.finditer(rb"</item>", DEC_14)][2] + 200]

    pmids = read_feed(client, fake_eutils.add_feed("cut", cut))

    assert pmids == links_in(DEC_14)[:3]
    assert "is not well-formed" in caplog.text


@pytest.mark.parametrize("kind", ["html_200", "malformed", "503", "empty"])
def test_a_bad_answer_then_the_feed(fake_eutils: FakeEutils, client: httpx.Client, kind: str) -> None:
    url = fake_eutils.add_feed("flaky", DEC_14)
    fake_eutils.inject(kind, endpoint="rss")
    sleeps: list[float] = []

    assert read_feed(client, url, sleep=sleeps.append) == links_in(DEC_14)
    assert len(sleeps) == 1 and fake_eutils.count("rss") == 2


@pytest.mark.parametrize("kind", ["html_200", "malformed"])
def test_a_bozo_answer_without_entries_is_a_source_error_naming_the_url(fake_eutils: FakeEutils,
                                                                        client: httpx.Client, kind: str) -> None:
    url = fake_eutils.add_feed("broken", DEC_14)
    fake_eutils.inject(kind, endpoint="rss", times=None)

    with pytest.raises(SourceError) as raised:
        read_feed(client, url, retries=2, sleep=lambda s: None)

    message = str(raised.value)
    assert message.startswith(f"PubMed RSS feed {url} failed after 3 attempts: bad body: not a readable feed")
    assert fake_eutils.count("rss") == 3


def test_a_missing_feed_is_a_source_error(fake_eutils: FakeEutils, client: httpx.Client) -> None:
    url = f"{fake_eutils.rss_root}/deleted-search/?limit=15"
    with pytest.raises(SourceError, match=r"PubMed RSS feed .*deleted-search.* failed: HTTP 404"):
        read_feed(client, url)


def test_a_feed_of_other_things_is_a_source_error(fake_eutils: FakeEutils, client: httpx.Client) -> None:
    other = re.sub(rb"https://pubmed\.ncbi\.nlm\.nih\.gov/\d+/", b"https://example.org/news/", DEC_14)
    other = re.sub(rb"<(guid|dc:identifier)[^>]*>[^<]*</\1>", b"", other)
    with pytest.raises(SourceError, match="none of its 15 items links to a PubMed record"):
        read_feed(client, fake_eutils.add_feed("other", other))
    assert fake_eutils.count("rss") == 1  # a valid feed: not retried


def test_an_empty_feed_is_no_pmids(fake_eutils: FakeEutils, client: httpx.Client) -> None:
    assert read_feed(client, fake_eutils.add_feed("empty", with_items(DEC_14, []))) == []


def test_the_feed_url_must_be_absolute(client: httpx.Client) -> None:
    with pytest.raises(ConfigError, match="absolute"):
        read_feed(client, "rss/search/abc/")


@pytest.mark.parametrize(
    ("link", "pmid"),
    [
        ("https://pubmed.ncbi.nlm.nih.gov/34929406/?utm_source=Mobile Safari UI/WKWebView&utm_medium=rss"
         "&utm_campaign=pubmed-2&fc=20211108074834&ff=20211221120236&v=2.16.2", "34929406"),
        ("https://pubmed.ncbi.nlm.nih.gov/39201801/?utm_source=Other&utm_medium=rss#abstract", "39201801"),
        ("https://pubmed.ncbi.nlm.nih.gov/39201801", "39201801"),
        ("https://www.ncbi.nlm.nih.gov/pubmed/12091962", "12091962"),
        ("  https://pubmed.ncbi.nlm.nih.gov/9997/\n", "9997"),
        ("/34929406/", "34929406"),
        ("https://pubmed.ncbi.nlm.nih.gov/?term=exosome", None),
        ("https://pubmed.ncbi.nlm.nih.gov/rss-feed/?feed_id=1rE397IRBYU0", None),
        ("https://doi.org/10.1016/j.parint.2021.102531", None),
        ("https://example.org/articles/34929406/", None),
        ("https://pubmed.ncbi.nlm.nih.gov/0/", None),
        ("", None),
    ],
    ids=["real-feed-link", "fragment", "no-slash", "old-ncbi-form", "whitespace", "relative", "search-page",
         "feed-page", "doi", "other-host", "zero", "empty"],
)
def test_pmid_from_link(link: str, pmid: str | None) -> None:
    assert pmid_from_link(link) == pmid


def test_items_without_any_pmid_are_skipped_with_a_warning(fake_eutils: FakeEutils, client: httpx.Client,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    items = items_of(DEC_21)
    stray = re.sub(rb"https://pubmed\.ncbi\.nlm\.nih\.gov/\d+/", b"https://example.org/x/", items[2])
    stray = re.sub(rb"<(guid|dc:identifier)[^>]*>[^<]*</\1>", b"", stray)

    pmids = read_feed(client, fake_eutils.add_feed("stray", with_items(DEC_21, [items[0], stray, items[1]])))

    assert pmids == links_in(DEC_21)[:2]
    assert "has no PMID; skipped" in caplog.text
