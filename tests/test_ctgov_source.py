"""CtgovSource against a real HTTP server on 127.0.0.1 (tests/ctgov_server.py and pytest-httpserver).

No mocking of httpx or of monitor's functions: every request crosses a loopback socket. Sleeps are recorded, not
slept, so the retry delays (backoff, Retry-After) and the pacing are asserted without waiting.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request as WzRequest
from werkzeug import Response as WzResponse

from monitor.errors import SourceError
from monitor.sources.ctgov import STUDY_FIELDS, CtgovSource, Page
from monitor.sources.http import make_client
from tests.ctgov_server import FakeCtgov, fake_ctgov  # noqa: F401
from tests.factories import RECORDINGS, make_study, nct, recorded_studies

UA = "secretome-monitor-tests/0.1 (+mailto:tests@example.org)"


class Sleeps(list):
    """A fake ``sleep`` that records the delays asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def make_source() -> Iterator:
    clients = []

    def factory(url: str, *, timeout: float = 2.0, page_size: int = 10, retries: int = 2, backoff: float = 0.01,
                min_interval: float = 0.0, sleep=None, **kwargs) -> CtgovSource:
        client = make_client(url, user_agent=UA, timeout=timeout)
        clients.append(client)
        return CtgovSource(client, page_size=page_size, min_interval=min_interval, retries=retries,
                           backoff=backoff, sleep=sleep if sleep is not None else Sleeps(), **kwargs)

    yield factory
    for client in clients:
        client.close()


def studies(n: int, **kwargs) -> list[dict]:
    return [make_study(nct(i), **kwargs) for i in range(1, n + 1)]


def ids(pages: list[Page]) -> list[str]:
    return [s.nct_id for p in pages for s in p.studies]


def without_token(params: dict) -> dict:
    return {k: v for k, v in params.items() if k != "pageToken"}


# ------------------------------------------------------------------------------------------------ /version


def test_data_timestamp(fake_ctgov, make_source):
    fake_ctgov.data_timestamp = "2026-11-21T14:05:10"
    assert make_source(fake_ctgov.url).data_timestamp() == "2026-11-21T14:05:10"
    assert [r.path for r in fake_ctgov.requests] == ["/version"]
    assert fake_ctgov.requests[0].headers["user-agent"] == UA


def test_data_timestamp_missing_is_a_source_error(fake_ctgov, make_source):
    fake_ctgov.data_timestamp = None
    with pytest.raises(SourceError, match=r"^ClinicalTrials.gov /version failed: no dataTimestamp .*apiVersion"):
        make_source(fake_ctgov.url).data_timestamp()


def test_data_timestamp_retries_an_html_page_then_succeeds(fake_ctgov, make_source):
    fake_ctgov.inject("html_200", path="/version")
    assert make_source(fake_ctgov.url).data_timestamp() == fake_ctgov.data_timestamp
    assert fake_ctgov.count("/version") == 2


def test_data_timestamp_fails_after_the_retries(fake_ctgov, make_source):
    fake_ctgov.inject("503", path="/version", times=None)
    with pytest.raises(SourceError) as info:
        make_source(fake_ctgov.url, retries=2).data_timestamp()
    assert str(info.value) == "ClinicalTrials.gov /version failed after 3 attempts: HTTP 503: Service Unavailable"
    assert fake_ctgov.count("/version") == 3


# ------------------------------------------------------------------------------------------------ paging


def test_pages_are_followed_with_identical_params(fake_ctgov, make_source):
    fake_ctgov.studies = studies(25)
    pages = list(make_source(fake_ctgov.url).iter_pages("exosome OR secretome", since=None))
    assert [p.number for p in pages] == [1, 2, 3]
    assert [len(p.studies) for p in pages] == [10, 10, 5]
    assert ids(pages) == [nct(i) for i in range(1, 26)]
    assert [p.total_count for p in pages] == [25, 25, 25]
    assert pages[-1].next_page_token is None and all(p.next_page_token for p in pages[:-1])
    assert all(p.record_errors == () for p in pages)
    reqs = fake_ctgov.page_requests()
    assert len(reqs) == 3
    assert "pageToken" not in reqs[0].params
    assert [r.params.get("pageToken") for r in reqs[1:]] == [p.next_page_token for p in pages[:-1]]
    assert {json.dumps(without_token(r.params), sort_keys=True) for r in reqs} == {
        json.dumps(
            {
                "countTotal": "true",
                "pageSize": "10",
                "query.term": "exosome OR secretome",
                "fields": "ProtocolSection,ResultsSection,DerivedSection,HasResults",
            },
            sort_keys=True,
        )
    }
    # the parsed studies keep the records exactly as served
    assert pages[0].studies[0].raw == fake_ctgov.studies[0]


def test_a_full_last_page_is_followed_by_an_empty_page_without_token(fake_ctgov, make_source):
    fake_ctgov.studies = studies(20)
    pages = list(make_source(fake_ctgov.url).iter_pages("exosome", since=None))
    assert [len(p.studies) for p in pages] == [10, 10, 0]
    assert len(ids(pages)) == 20


def test_an_empty_page_that_carries_a_token_is_not_the_end(fake_ctgov, make_source):
    fake_ctgov.studies = studies(25)
    fake_ctgov.inject("empty_page_with_token", nth=2)
    pages = list(make_source(fake_ctgov.url).iter_pages("exosome", since=None))
    assert [len(p.studies) for p in pages] == [10, 0, 10, 5]
    assert ids(pages) == [nct(i) for i in range(1, 26)]


def test_an_empty_first_result_is_fine(fake_ctgov, make_source):
    pages = list(make_source(fake_ctgov.url).iter_pages("nothing matches", since=None))
    assert [(p.number, p.studies, p.next_page_token, p.total_count) for p in pages] == [(1, (), None, 0)]


def test_pages_are_streamed_one_request_at_a_time(fake_ctgov, make_source):
    fake_ctgov.studies = studies(25)
    pages = make_source(fake_ctgov.url).iter_pages("exosome", since=None)
    first = next(pages)
    assert first.number == 1 and fake_ctgov.count("/studies") == 1
    second = next(pages)
    assert second.number == 2 and fake_ctgov.count("/studies") == 2
    pages.close()
    assert fake_ctgov.count("/studies") == 2


def test_incremental_window(fake_ctgov, make_source):
    days = ["2026-11-10", "2026-11-14", "2026-11-15", "2026-11-16", "2026-11-20", "2026-11-01"]
    fake_ctgov.studies = [make_study(nct(i), last_update=d) for i, d in enumerate(days, 1)]
    source = make_source(fake_ctgov.url, page_size=2)
    pages = list(source.iter_pages("exosome", since=date(2026, 11, 15)))
    assert ids(pages) == [nct(3), nct(4), nct(5)]  # the boundary day is included
    assert [s.last_update_posted_on for p in pages for s in p.studies] == ["2026-11-15", "2026-11-16", "2026-11-20"]
    reqs = fake_ctgov.page_requests()
    assert len(reqs) == 2
    assert all(r.params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-11-15,MAX]" for r in reqs)
    assert reqs[0].params["query.term"] == "exosome"
    fake_ctgov.reset()
    assert len(ids(list(source.iter_pages("exosome", since=None)))) == 6
    assert all("filter.advanced" not in r.params for r in fake_ctgov.page_requests())


def test_a_recorded_studies_page_through_the_fake(fake_ctgov, make_source):
    fake_ctgov.studies = recorded_studies()
    pages = list(make_source(fake_ctgov.url, page_size=4).iter_pages("pancreatic KRAS", since=None))
    assert [len(p.studies) for p in pages] == [4, 4, 2]
    assert ids(pages)[:2] == ["NCT05288205", "NCT03745326"]


# ------------------------------------------------------------------------------------------------ faults

TRANSIENT = [
    ("slow", {"delay": 1.0}),
    ("403", {}),
    ("429", {}),
    ("500", {}),
    ("502", {}),
    ("503", {}),
    ("html_200", {}),
    ("html_5xx", {}),
    ("truncated", {}),
    ("cut", {}),
    ("no_studies_key", {}),
]


@pytest.mark.parametrize(("kind", "options"), TRANSIENT, ids=[k for k, _ in TRANSIENT])
def test_a_transient_fault_is_retried_and_nothing_is_lost(fake_ctgov, make_source, kind, options):
    fake_ctgov.studies = studies(25)
    fake_ctgov.inject(kind, nth=2, **options)
    sleeps = Sleeps()
    pages = list(make_source(fake_ctgov.url, timeout=0.3, sleep=sleeps).iter_pages("exosome", since=None))
    assert ids(pages) == [nct(i) for i in range(1, 26)]
    assert [p.number for p in pages] == [1, 2, 3]
    assert fake_ctgov.count("/studies") == 4
    assert len(sleeps) == 1  # one backoff before the retry
    reqs = fake_ctgov.page_requests()
    assert reqs[1].params == reqs[2].params  # the retry repeats the same request


PERSISTENT = [
    ("slow", {"delay": 1.0}, "timed out"),
    ("403", {}, "HTTP 403: Forbidden (403: check MONITOR_USER_AGENT"),
    ("429", {}, "HTTP 429: Too Many Requests"),
    ("500", {}, "HTTP 500: Internal Server Error"),
    ("502", {}, "HTTP 502: Bad Gateway"),
    ("503", {}, "HTTP 503: Service Unavailable"),
    ("html_200", {}, "bad body: expected JSON, got \"HTML page 'Service Unavailable'\""),
    ("html_5xx", {}, "HTTP 502: HTML page 'Service Unavailable'"),
    ("truncated", {}, "bad body: invalid or truncated JSON"),
    ("cut", {}, "connection failed (RemoteProtocolError"),
    ("no_studies_key", {}, "bad body: no 'studies' key in the page (keys: nextPageToken)"),
]


@pytest.mark.parametrize(("kind", "options", "reason"), PERSISTENT, ids=[k for k, _, _ in PERSISTENT])
def test_a_persistent_fault_ends_in_one_clear_source_error(fake_ctgov, make_source, kind, options, reason):
    fake_ctgov.studies = studies(25)
    fake_ctgov.inject(kind, nth=2, times=None, **options)
    source = make_source(fake_ctgov.url, timeout=0.25, retries=1)
    received = []
    with pytest.raises(SourceError) as info:
        for page in source.iter_pages("exosome", since=None):
            received.append(page)
    message = str(info.value)
    assert message.startswith("ClinicalTrials.gov /studies page 2 of query.term='exosome' failed after 2 attempts: ")
    assert reason in message
    assert "\n" not in message
    assert [p.number for p in received] == [1]
    assert fake_ctgov.count("/studies") == 3


def test_a_plain_text_400_is_not_retried(fake_ctgov, make_source):
    fake_ctgov.studies = studies(25)
    fake_ctgov.inject("text_400", nth=2)
    with pytest.raises(SourceError) as info:
        list(make_source(fake_ctgov.url).iter_pages("exosome", since=None))
    message = str(info.value)
    assert message.startswith("ClinicalTrials.gov /studies page 2 of query.term='exosome' failed: HTTP 400: ")
    assert "Invalid prefix in parameter name: bogus.param" in message
    assert fake_ctgov.count("/studies") == 2


def test_a_page_with_zero_studies_by_mistake_is_caught_by_total_count(fake_ctgov, make_source):
    fake_ctgov.studies = studies(25)
    fake_ctgov.inject("empty_page_no_token", nth=2)
    received = []
    with pytest.raises(SourceError, match=r"received 10 of 25 studies announced by totalCount in 2 pages"):
        for page in make_source(fake_ctgov.url).iter_pages("exosome", since=None):
            received.append(page)
    assert [len(p.studies) for p in received] == [10, 0]  # the pages came, the error comes after the last one


def test_a_result_set_that_shrinks_while_paging_is_reported(fake_ctgov, make_source):
    fake_ctgov.studies = studies(25)
    pages = make_source(fake_ctgov.url).iter_pages("exosome", since=None)
    next(pages)
    fake_ctgov.studies = fake_ctgov.studies[:15]
    with pytest.raises(SourceError, match=r"received 15 of 25 studies"):
        list(pages)


def test_a_study_sent_twice_does_not_hide_one_never_sent(fake_ctgov, make_source):
    fake_ctgov.studies = studies(25)
    pages = make_source(fake_ctgov.url).iter_pages("exosome", since=None)
    first = next(pages)
    # the result set shifts between two pages (a data refresh): nct(10) comes again, nct(25) never comes
    fake_ctgov.studies = [fake_ctgov.studies[9]] + fake_ctgov.studies[:24]
    with pytest.raises(SourceError, match=r"received 24 of 25 studies"):
        list(pages)  # 25 records arrived, but only 24 distinct studies
    assert len(first.studies) == 10


def test_a_repeated_token_is_a_source_error_not_a_loop(fake_ctgov, make_source):
    fake_ctgov.studies = studies(45)
    fake_ctgov.inject("repeat_token", nth=3)
    with pytest.raises(SourceError, match=r"page 3 .*nextPageToken repeats an earlier token"):
        list(make_source(fake_ctgov.url).iter_pages("exosome", since=None))
    assert fake_ctgov.count("/studies") == 3


def test_endless_paging_stops_at_max_pages(fake_ctgov, make_source):
    fake_ctgov.studies = studies(5)
    fake_ctgov.inject("empty_page_with_token", times=None)
    with pytest.raises(SourceError, match=r"page 7 .*more than 6 pages, giving up"):
        list(make_source(fake_ctgov.url, max_pages=6).iter_pages("exosome", since=None))
    assert fake_ctgov.count("/studies") == 6


def test_malformed_records_are_reported_and_the_others_survive(fake_ctgov, make_source):
    good = studies(12)
    no_id = make_study("NCT00000000")
    del no_id["protocolSection"]["identificationModule"]["nctId"]
    bad_phase = make_study("NCT99999999", phases=["PHASE1"])
    bad_phase["protocolSection"]["designModule"]["phases"] = "PHASE1"
    fake_ctgov.studies = good[:2] + [no_id] + good[2:5] + [bad_phase, "not a record"] + good[5:]
    pages = list(make_source(fake_ctgov.url).iter_pages("exosome", since=None))
    assert ids(pages) == [s["protocolSection"]["identificationModule"]["nctId"] for s in good]
    assert pages[0].record_errors == (
        "page 1: study #3: no protocolSection.identificationModule.nctId",
        "page 1: study NCT99999999: designModule.phases is a string, expected a list",
        "page 1: study #8: the record is a string, expected an object",
    )
    assert pages[0].received == 10 and pages[1].received == 5
    assert pages[1].record_errors == ()


# ------------------------------------------------------------------------------------------------ delays


def test_retry_after_seconds_is_honoured(fake_ctgov, make_source):
    fake_ctgov.studies = studies(5)
    fake_ctgov.inject("429", retry_after=7)
    sleeps = Sleeps()
    assert len(ids(list(make_source(fake_ctgov.url, sleep=sleeps).iter_pages("x", since=None)))) == 5
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured(fake_ctgov, make_source):
    fake_ctgov.studies = studies(5)
    when = datetime.now(UTC) + timedelta(seconds=30)
    fake_ctgov.inject("503", retry_after=email.utils.format_datetime(when, usegmt=True))
    sleeps = Sleeps()
    assert len(ids(list(make_source(fake_ctgov.url, sleep=sleeps).iter_pages("x", since=None)))) == 5
    assert len(sleeps) == 1 and 20 <= sleeps[0] <= 30


def test_backoff_grows_exponentially(fake_ctgov, make_source):
    fake_ctgov.inject("500", times=None)
    sleeps = Sleeps()
    with pytest.raises(SourceError, match="failed after 4 attempts"):
        list(make_source(fake_ctgov.url, retries=3, backoff=1.0, sleep=sleeps).iter_pages("x", since=None))
    assert len(sleeps) == 3
    for retry, delay in enumerate(sleeps):  # up to backoff * 2**retry, with jitter down to half of it
        assert 0.5 * 2**retry <= delay <= 2**retry


def test_requests_are_paced(fake_ctgov, make_source):
    fake_ctgov.studies = studies(25)
    now = [1000.0]
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    source = make_source(fake_ctgov.url, min_interval=1.0, sleep=sleep, clock=lambda: now[0])
    source.data_timestamp()
    assert len(ids(list(source.iter_pages("exosome", since=None)))) == 25
    assert fake_ctgov.count() == 4
    assert sleeps == [1.0, 1.0, 1.0]  # no wait before the first request, 1 s between the starts of the others


def test_user_agent_and_accept_are_sent_on_every_request(fake_ctgov, make_source):
    fake_ctgov.studies = studies(15)
    fake_ctgov.inject("503")
    source = make_source(fake_ctgov.url)
    source.data_timestamp()
    list(source.iter_pages("exosome", since=None))
    assert len(fake_ctgov.requests) == 4
    assert {r.headers["user-agent"] for r in fake_ctgov.requests} == {UA}
    assert all("application/json" in r.headers["accept"] for r in fake_ctgov.requests)


def test_paths_are_relative_to_the_base_url(fake_ctgov, make_source):
    source = make_source(fake_ctgov.url + "/")  # a trailing slash in the setting changes nothing
    source.data_timestamp()
    list(source.iter_pages("x", since=None))
    assert [r.path for r in fake_ctgov.requests] == ["/version", "/studies"]


def test_a_dead_server_is_a_source_error(make_source):
    with FakeCtgov() as fake:
        url = fake.url
    with pytest.raises(SourceError, match=r"^ClinicalTrials.gov /version failed after 3 attempts: connection failed"):
        make_source(url).data_timestamp()


# ------------------------------------------------------------------------------------------------ real recorded pages


@pytest.fixture(scope="module")
def module_server() -> Iterator[HTTPServer]:
    """A pytest-httpserver of our own on 127.0.0.1 (not the plugin's shared session server)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def recorded_server(module_server) -> Iterator[HTTPServer]:
    module_server.clear()
    yield module_server
    module_server.clear()


def _recorded(name: str) -> str:
    return (RECORDINGS / name).read_text(encoding="utf-8")


def test_recorded_pages_served_byte_for_byte_and_a_short_ending_is_caught(recorded_server, make_source):
    page1 = _recorded("biomcp_search_phelan_limit5_20260811.json")
    page2 = _recorded("biomcp_search_phelan_next_20260811.json")
    token1 = json.loads(page1)["nextPageToken"]
    token2 = json.loads(page2)["nextPageToken"]
    seen = []

    def handler(request: WzRequest) -> WzResponse:
        token = request.args.get("pageToken")
        seen.append(dict(request.args))
        body = {None: page1, token1: page2, token2: '{"studies": []}'}[token]
        return WzResponse(body, content_type="application/json")

    recorded_server.expect_request("/api/v2/studies").respond_with_handler(handler)
    received = []
    with pytest.raises(SourceError, match=r"received 10 of 21 studies"):
        for page in make_source(recorded_server.url_for("/api/v2")).iter_pages("Phelan-McDermid", since=None):
            received.append(page)
    assert [p.total_count for p in received] == [21, 21, 21]  # page 2 carries no totalCount: the first one counts
    assert ids(received)[0] == "NCT02710084" and len(ids(received)) == 10
    assert [s.get("pageToken") for s in seen] == [None, token1, token2]


def test_a_recorded_page_without_total_count(recorded_server, make_source):
    body = _recorded("xiaoyibao_studies_page_pancreatic_kras_10studies_full.json")
    token = json.loads(body)["nextPageToken"]

    def handler(request: WzRequest) -> WzResponse:
        if request.args.get("pageToken") == token:
            return WzResponse('{"studies": []}', content_type="application/json")
        return WzResponse(body, content_type="application/json")

    recorded_server.expect_request("/api/v2/studies").respond_with_handler(handler)
    pages = list(make_source(recorded_server.url_for("/api/v2")).iter_pages("KRAS", since=None))
    assert [len(p.studies) for p in pages] == [10, 0]
    assert pages[0].total_count is None  # no countTotal in the recording: nothing to check against


# ------------------------------------------------------------------------------------------------ the fake itself


def test_fake_rejects_what_the_real_api_rejects(fake_ctgov):
    import httpx

    fake_ctgov.studies = studies(15)
    with httpx.Client(base_url=fake_ctgov.url + "/") as client:
        r = client.get("studies", params={"query.recrs": "x"})
        assert (r.status_code, r.headers["content-type"]) == (400, "text/plain;charset=UTF-8")
        assert r.text == "Invalid prefix in parameter name: query.recrs"
        first = client.get("studies", params={"query.term": "a", "pageSize": "10"}).json()
        assert "totalCount" not in first and len(first["studies"]) == 10
        other = client.get("studies", params={"query.term": "b", "pageToken": first["nextPageToken"]})
        assert other.status_code == 400 and "same parameters" in other.text
        assert client.get("studies", params={"pageToken": "nope"}).status_code == 400
        same = client.get("studies", params={"query.term": "a", "pageSize": "3", "pageToken": first["nextPageToken"]})
        assert [s["protocolSection"]["identificationModule"]["nctId"] for s in same.json()["studies"]] == [
            nct(11), nct(12), nct(13)]
        assert client.get("studies", params={"filter.advanced": "AREA[Phase]PHASE3"}).status_code == 400
        assert client.get(f"studies/{nct(3)}").json()["protocolSection"]["identificationModule"]["nctId"] == nct(3)
        assert client.get("studies/NCT00000001").status_code == 404
        assert client.get("version").json() == {"apiVersion": "2.0.5", "dataTimestamp": fake_ctgov.data_timestamp}
        big = client.get("studies", params={"pageSize": "5000", "countTotal": "true"}).json()
        assert big["totalCount"] == 15 and len(big["studies"]) == 15 and "nextPageToken" not in big
    assert fake_ctgov.count("/studies") == 7 and fake_ctgov.count() == 10
    path, params = fake_ctgov.requests[0]
    assert (path, params) == ("/studies", {"query.recrs": "x"})


def test_fake_applies_fields_and_rejects_unknown_names(fake_ctgov):
    import httpx

    fake_ctgov.studies = [dict(s, documentSection={"largeDocumentModule": {}}) for s in studies(2)]
    with httpx.Client(base_url=fake_ctgov.url + "/") as client:
        bad = client.get("studies", params={"fields": "ProtocolSection,ConditionList"})
        assert (bad.status_code, bad.text) == (400, "Parameter 'fields' contains invalid field name: 'ConditionList'")
        page = client.get("studies", params={"fields": STUDY_FIELDS}).json()
        assert all("documentSection" not in s and "protocolSection" in s for s in page["studies"])
        assert all("documentSection" in s for s in client.get("studies").json()["studies"])


def test_fake_term_filter_and_fault_bookkeeping(fake_ctgov):
    import httpx

    fake_ctgov.studies = studies(3) + [make_study(nct(9), title="Exosome therapy")]
    fake_ctgov.term_filter = lambda params, rec: params.get("query.term", "").lower() in json.dumps(rec).lower()
    fault = fake_ctgov.inject("503", nth=2, times=2, path=None)
    with httpx.Client(base_url=fake_ctgov.url + "/") as client:
        codes = [client.get("studies", params={"query.term": "exosome"}).status_code for _ in range(4)]
        assert codes == [200, 503, 503, 200]
        assert [s["protocolSection"]["identificationModule"]["nctId"]
                for s in client.get("studies", params={"query.term": "exosome"}).json()["studies"]] == [nct(9)]
    assert fault.hits == 2
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake_ctgov.inject("explode")
