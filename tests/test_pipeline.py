"""End to end: `monitor check` against the loopback CT.gov fake, a real SQLite file, the real classifier."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.app import build_app
from monitor.cli import cli
from monitor.config import load_settings
from monitor.domain import EventKind
from tests.ctgov_server import fake_ctgov  # noqa: F401
from tests.factories import make_study

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)

EFFICACY_RESULTS = {
    "outcomeMeasuresModule": {"outcomeMeasures": [
        {"type": "PRIMARY", "title": "Objective Response Rate (RECIST 1.1)", "reportingStatus": "POSTED",
         "description": "Percentage of participants with complete or partial response"},
        {"type": "SECONDARY", "title": "Number of Participants With Adverse Events", "reportingStatus": "POSTED"},
    ]}
}


def ev_study(nct: str, **kw):
    kw.setdefault("title", "Plant Exosomes Loaded With Curcumin in Colon Cancer")
    kw.setdefault("summary", "Curcumin delivered by plant (grapefruit) exosomes to patients with colon cancer.")
    kw.setdefault("interventions", ["DIETARY_SUPPLEMENT: Curcumin conjugated with plant exosomes"])
    kw.setdefault("conditions", ["Colon Cancer"])
    kw.setdefault("phases", ["PHASE1"])
    return make_study(nct, **kw)


def diagnostic_study(nct: str, **kw):
    return make_study(nct, title="Plasma Exosomal microRNA as Biomarkers of Lung Cancer",
                      summary="Exosomes will be isolated from plasma and measured; no intervention is given.",
                      interventions=["DIAGNOSTIC_TEST: Exosome isolation and miRNA sequencing"],
                      conditions=["Lung Cancer"], phases=[], **kw)


@pytest.fixture
def env(tmp_path: Path, fake_ctgov, monkeypatch):  # noqa: F811
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "ev.toml").write_text('name = "ev"\n[ctgov]\nterms = ["exosome AND cancer"]\n')
    values = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'monitor.db'}",
        "MONITOR_QUERIES_DIR": str(queries),
        "MONITOR_OVERRIDES_FILE": str(tmp_path / "overrides.toml"),
        "MONITOR_CTGOV_URL": fake_ctgov.url,
        "MONITOR_CTGOV_MIN_INTERVAL": "0",
        "MONITOR_HTTP_BACKOFF": "0",
        "MONITOR_HTTP_RETRIES": "2",
        "MONITOR_CTGOV_PAGE_SIZE": "5",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def run(now: datetime, **kw):
    app = build_app(load_settings())
    try:
        return app.check(sources=("ctgov",), now=now, **kw), app
    finally:
        app.close()


def counts(app) -> tuple[int, int, int]:
    s = app.store
    return len(s.trials()), sum(len(s.changes(t.nct_id)) for t in s.trials()), len(s.events())


def test_baseline_stores_everything_and_queues_one_summary(env, fake_ctgov):  # noqa: F811
    fake_ctgov.studies = [ev_study(f"NCT9000000{i}") for i in range(8)] + [diagnostic_study("NCT90000010")]
    report, app = run(T0)
    assert report.ok, report.errors
    assert report.new == 9 and report.rows[0]["status"] == "baseline"
    trials = {t.nct_id: t for t in app.store.trials()}
    assert len(trials) == 9
    assert trials["NCT90000001"].cell_free and trials["NCT90000001"].product_class == "extracellular_vesicle"
    assert trials["NCT90000010"].product_class == "biomarker" and not trials["NCT90000010"].cell_free
    assert trials["NCT90000001"].phase == "PHASE1" and trials["NCT90000010"].phase is None
    (alert,) = app.store.alerts()
    assert alert.baseline_summary and alert.trial == {"query": "ev", "tracked": 9, "cell_free": 8,
                                                      "cell_free_cancer": 8}
    assert all(e.kind is EventKind.NEW_TRIAL for e in app.store.events())
    state = app.store.get_sync("ctgov", "ev")
    assert state.watermark == date(2026, 11, 20) and state.data_timestamp == fake_ctgov.data_timestamp
    # paging: 9 studies with pageSize 5 -> 2 pages, the incremental filter absent on a first poll
    pages = fake_ctgov.page_requests()
    assert len(pages) == 2 and all("filter.advanced" not in r.params for r in pages)
    assert pages[0].params["query.term"] == "exosome AND cancer" and pages[0].params["pageSize"] == "5"


def test_second_run_without_upstream_change_costs_one_request_and_writes_nothing(env, fake_ctgov):  # noqa: F811
    fake_ctgov.studies = [ev_study(f"NCT9000000{i}") for i in range(3)]
    run(T0)
    before = fake_ctgov.count()
    _, app = run(T1)
    report, app = run(T1)
    assert fake_ctgov.count() - before == 2  # one /version request per run
    assert fake_ctgov.count("/version") == 3
    assert report.skipped and report.new == report.changed == 0
    assert counts(app) == (3, 0, 3)


def test_changed_record_yields_exact_changes_events_and_one_alert(env, fake_ctgov):  # noqa: F811
    fake_ctgov.studies = [ev_study("NCT90000001", status="RECRUITING", enrollment=30),
                          ev_study("NCT90000002", status="RECRUITING")]
    run(T0)
    fake_ctgov.data_timestamp = "2026-11-21T14:00:00"
    fake_ctgov.studies = [
        ev_study("NCT90000001", status="ACTIVE_NOT_RECRUITING", enrollment=42, enrollment_type="ACTUAL",
                 last_update="2026-11-21"),
        ev_study("NCT90000002", status="COMPLETED", last_update="2026-11-21", with_results=True,
                 results_posted="2026-11-21", updates={"resultsSection": EFFICACY_RESULTS}),
    ]
    report, app = run(T1)
    assert report.ok, report.errors
    assert report.changed == 2 and report.results == 1 and report.new == 0
    # the incremental window re-reads 2 days behind the watermark
    assert fake_ctgov.page_requests()[-1].params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-11-18,MAX]"
    changes = {(c.field, json.dumps(c.old), json.dumps(c.new)) for c in app.store.changes("NCT90000001")}
    assert changes == {
        ("overall_status", '"RECRUITING"', '"ACTIVE_NOT_RECRUITING"'),
        ("enrollment", json.dumps({"count": 30, "type": "ESTIMATED"}), json.dumps({"count": 42, "type": "ACTUAL"})),
    }
    kinds = {e.kind for e in app.store.events(nct_id="NCT90000002") if e.created_at == T1}
    assert kinds == {EventKind.STATUS_CHANGED, EventKind.RESULTS_POSTED, EventKind.EFFICACY_REPORTED}
    efficacy = [e for e in app.store.events() if e.kind is EventKind.EFFICACY_REPORTED]
    assert [e.key for e in efficacy] == ["efficacy:NCT90000002"]
    assert efficacy[0].payload["efficacy_outcomes"] == ["Objective Response Rate (RECIST 1.1)"]
    pending = [a for a in app.store.alerts() if not a.baseline_summary]
    assert len(pending) == 1  # results_posted + efficacy_reported of one trial: one message
    assert {e.kind for e in pending[0].events} == {EventKind.RESULTS_POSTED, EventKind.EFFICACY_REPORTED}
    assert pending[0].trial["nct_id"] == "NCT90000002" and pending[0].trial["cell_free"] is True
    # the same data again (the overlap re-reads it) records nothing more
    fake_ctgov.data_timestamp = "2026-11-22T14:00:00"
    before = counts(app)
    report, app = run(T2)
    assert report.changed == 0 and counts(app) == before and len(app.store.alerts()) == 2


def test_new_cell_free_cancer_trial_alerts_but_a_diagnostic_does_not(env, fake_ctgov):  # noqa: F811
    fake_ctgov.studies = [ev_study("NCT90000001")]
    run(T0)
    fake_ctgov.data_timestamp = "2026-11-21T14:00:00"
    fake_ctgov.studies += [ev_study("NCT90000003", last_update="2026-11-21"),
                           diagnostic_study("NCT90000004", last_update="2026-11-21")]
    report, app = run(T1)
    assert report.new == 2
    alerts = [a for a in app.store.alerts() if not a.baseline_summary]
    assert [(a.nct_id, [e.kind for e in a.events]) for a in alerts] == [("NCT90000003", [EventKind.NEW_TRIAL])]


@pytest.mark.parametrize("fault", ["500", "html_200", "truncated", "no_studies_key", "403", "cut"])
def test_a_failing_page_moves_nothing_and_the_next_run_catches_up(env, fake_ctgov, fault):  # noqa: F811
    fake_ctgov.studies = [ev_study(f"NCT9000000{i}") for i in range(7)]
    run(T0)
    fake_ctgov.data_timestamp = "2026-11-21T14:00:00"
    fake_ctgov.studies = [ev_study(f"NCT9000000{i}", last_update="2026-11-21",
                                   status="COMPLETED" if i == 6 else None) for i in range(7)]
    fake_ctgov.inject(fault, nth=2, times=None)  # the second page fails on every attempt
    report, app = run(T1)
    assert not report.ok and "ctgov/ev" in report.errors[0]
    state = app.store.get_sync("ctgov", "ev")
    assert state.watermark == date(2026, 11, 20) and state.data_timestamp == "2026-11-20T14:00:00"
    assert state.consecutive_failures == 1
    fake_ctgov.faults.clear()
    report, app = run(T2)
    assert report.ok, report.errors
    changed = {c.nct_id for t in app.store.trials() for c in app.store.changes(t.nct_id)}
    assert changed == {"NCT90000006"}
    assert app.store.get_sync("ctgov", "ev").watermark == date(2026, 11, 21)


def test_an_empty_page_with_a_token_is_not_the_end(env, fake_ctgov):  # noqa: F811
    fake_ctgov.studies = [ev_study(f"NCT9000000{i}") for i in range(7)]
    fake_ctgov.inject("empty_page_with_token", nth=2)
    report, app = run(T0)
    assert report.ok and len(app.store.trials()) == 7


def test_source_failing_after_three_polls_then_recovered(env, fake_ctgov, monkeypatch):  # noqa: F811
    monkeypatch.setenv("MONITOR_HTTP_RETRIES", "0")
    fake_ctgov.studies = [ev_study("NCT90000001")]
    run(T0)
    fake_ctgov.inject("503", path="/version", times=None)
    for day in (21, 22, 23, 24):
        report, app = run(datetime(2026, 11, day, 15, tzinfo=UTC))
        assert not report.ok
    failing = [e for e in app.store.events() if e.kind is EventKind.SOURCE_FAILING]
    assert len(failing) == 1 and failing[0].payload["failures"] == 3
    fake_ctgov.faults.clear()
    report, app = run(datetime(2026, 11, 25, 15, tzinfo=UTC))
    assert report.ok
    kinds = [a.events[0].kind for a in app.store.alerts() if a.events]
    assert kinds == [EventKind.SOURCE_FAILING, EventKind.SOURCE_RECOVERED]


def test_overrides_win_and_are_recorded_as_a_change(env, fake_ctgov, tmp_path):  # noqa: F811
    fake_ctgov.studies = [ev_study("NCT90000001")]
    run(T0)
    (tmp_path / "overrides.toml").write_text('[NCT90000001]\nproduct_class = "cell_based"\nnote = "curator"\n')
    report, app = run(T1)
    trial = app.store.trial("NCT90000001")
    assert trial.product_class == "cell_based" and not trial.cell_free
    assert "product_class" in trial.classification["overridden"]
    assert [c.field for c in app.store.changes("NCT90000001")] == ["classification"]


def test_dry_run_stores_nothing(env, fake_ctgov):  # noqa: F811
    fake_ctgov.studies = [ev_study("NCT90000001")]
    report, app = run(T0, dry_run=True)
    assert report.new == 1 and app.store.trials() == [] and app.store.get_sync("ctgov", "ev").watermark is None


def test_cli_check_trials_show_end_to_end(env, fake_ctgov):  # noqa: F811
    fake_ctgov.studies = [ev_study("NCT90000001"), diagnostic_study("NCT90000004")]
    runner = CliRunner()
    result = runner.invoke(cli, ["check", "--source", "ctgov", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["ok"] and summary["new"] == 2 and summary["sources"][0]["status"] == "baseline"
    result = runner.invoke(cli, ["trials", "--cell-free", "--json"])
    assert [t["nct_id"] for t in json.loads(result.output)] == ["NCT90000001"]
    result = runner.invoke(cli, ["trials", "--csv"])
    assert result.output.splitlines()[0].startswith("nct_id,product_class,cell_free,phase")
    result = runner.invoke(cli, ["show", "nct90000001", "--json"])
    shown = json.loads(result.output)
    assert shown["nct_id"] == "NCT90000001" and shown["classification"]["product_class"] == "extracellular_vesicle"
    assert shown["changes"] == [] and shown["events"][0]["key"] == "new_trial:NCT90000001"
    assert shown["publications"] == []
    result = runner.invoke(cli, ["show", "NCT00000000"])
    assert result.exit_code == 2 and "not tracked" in result.output
    fake_ctgov.inject("500", path="/version", times=None)
    fake_ctgov.data_timestamp = "x"
    result = runner.invoke(cli, ["check", "--source", "ctgov"])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_cli_bad_configuration_exits_2(env, monkeypatch):
    monkeypatch.setenv("MONITOR_CTGOV_PAGE_SIZE", "5000")
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2 and "MONITOR_CTGOV_PAGE_SIZE" in result.output


def test_efficacy_outcomes_posted_after_safety_results_are_caught(env, fake_ctgov):  # noqa: F811
    safety_only = {"outcomeMeasuresModule": {"outcomeMeasures": [
        {"type": "PRIMARY", "title": "Number of Participants With Dose-limiting Toxicities",
         "reportingStatus": "POSTED"},
        {"type": "SECONDARY", "title": "Objective Response Rate (RECIST 1.1)", "reportingStatus": "NOT_POSTED"},
    ]}}
    fake_ctgov.studies = [ev_study("NCT90000002")]
    run(T0)
    fake_ctgov.data_timestamp = "2026-11-21T14:00:00"
    fake_ctgov.studies = [ev_study("NCT90000002", last_update="2026-11-21", with_results=True,
                                  updates={"resultsSection": safety_only})]
    report, app = run(T1)
    assert [e.kind for e in app.store.events(nct_id="NCT90000002") if e.created_at == T1] == [EventKind.RESULTS_POSTED]
    fake_ctgov.data_timestamp = "2026-11-22T14:00:00"
    fake_ctgov.studies = [ev_study("NCT90000002", last_update="2026-11-22", with_results=True,
                                  updates={"resultsSection": EFFICACY_RESULTS})]
    report, app = run(T2)
    assert [e.kind for e in app.store.events(nct_id="NCT90000002") if e.created_at == T2] == \
        [EventKind.EFFICACY_REPORTED]
    assert "posted_outcomes" in {c.field for c in app.store.changes("NCT90000002")}
