"""The whole bot against loopback CT.gov, PubMed and Slack: efficacy results produce exactly one Slack message,
also when `monitor check` is killed (SIGKILL) at arbitrary instants and run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.ctgov_server import fake_ctgov  # noqa: F401
from tests.eutils_server import fake_eutils  # noqa: F401
from tests.slack_server import fake_slack  # noqa: F401
from tests.test_pipeline import EFFICACY_RESULTS, diagnostic_study, ev_study

TERM = "exosome AND cancer"


@pytest.fixture
def bot(tmp_path: Path, fake_ctgov, fake_eutils, fake_slack, monkeypatch):  # noqa: F811
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "ev.toml").write_text(f'name = "ev"\n[ctgov]\nterms = ["{TERM}"]\n[pubmed]\nterm = "{TERM}"\n')
    env = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'monitor.db'}", "MONITOR_QUERIES_DIR": str(queries),
        "MONITOR_OVERRIDES_FILE": str(tmp_path / "overrides.toml"), "MONITOR_CTGOV_URL": fake_ctgov.url,
        "MONITOR_EUTILS_URL": fake_eutils.url, "MONITOR_CTGOV_MIN_INTERVAL": "0", "MONITOR_HTTP_BACKOFF": "0",
        "MONITOR_HTTP_RETRIES": "1", "MONITOR_NCBI_EMAIL": "dev@example.org",
        "MONITOR_SLACK_TOKEN": fake_slack.token, "MONITOR_SLACK_CHANNEL": "C0ALERTS01",
        "MONITOR_SLACK_API_URL": fake_slack.api_url, "MONITOR_SLACK_RETRIES": "1",
        "MONITOR_CONFIG": str(tmp_path / "none.toml"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    fake_ctgov.studies = [ev_study("NCT90000001"), ev_study("NCT90000002"), diagnostic_study("NCT90000004")]
    return env, tmp_path


def check(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["check", "--json", *args])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def results_appear(fake_ctgov, day: str = "2026-11-21") -> None:  # noqa: F811
    fake_ctgov.data_timestamp = f"{day}T14:00:00"
    fake_ctgov.studies = [
        ev_study("NCT90000001"),
        ev_study("NCT90000002", status="COMPLETED", last_update=day, with_results=True, results_posted=day,
                 updates={"resultsSection": EFFICACY_RESULTS}),
        diagnostic_study("NCT90000004"),
    ]


def messages_about(fake_slack, nct: str) -> list[dict]:  # noqa: F811
    return [m for m in fake_slack.channel_messages() if nct in m.get("text", "")]


def test_efficacy_results_produce_exactly_one_slack_message(bot, fake_ctgov, fake_slack):  # noqa: F811
    summary = check()
    assert summary["ok"], summary
    (baseline,) = fake_slack.channel_messages()
    assert "tracking 3 trials" in baseline["text"] and "2 cell-free" in baseline["text"]
    results_appear(fake_ctgov)
    summary = check()
    assert summary["ok"] and summary["alerts_sent"] == 1, summary
    (message,) = messages_about(fake_slack, "NCT90000002")
    assert "Objective Response Rate" in json.dumps(message["blocks"])
    assert message["metadata"]["event_type"] == "monitor_alert"
    check()
    check()
    assert len(messages_about(fake_slack, "NCT90000002")) == 1
    assert len(fake_slack.channel_messages()) == 2


def test_no_notify_keeps_alerts_pending_until_monitor_alerts_retry(bot, fake_ctgov, fake_slack):  # noqa: F811
    check("--no-notify")
    assert fake_slack.channel_messages() == []
    result = CliRunner().invoke(cli, ["alerts", "--pending", "--json"])
    assert len(json.loads(result.output)) == 1
    result = CliRunner().invoke(cli, ["alerts", "--retry"])
    assert result.exit_code == 0, result.output
    assert len(fake_slack.channel_messages()) == 1


def test_slack_outage_keeps_the_alert_pending_and_the_next_run_sends_it(bot, fake_ctgov, fake_slack):  # noqa: F811
    check()
    results_appear(fake_ctgov)
    fake_slack.inject("503", times=None)
    summary = check()
    assert not summary["ok"] and summary["alerts_pending"] == 1 and "slack" in summary["errors"][0]
    fake_slack.clear_faults()
    summary = check()
    assert summary["alerts_sent"] == 1 and summary["alerts_pending"] == 0
    assert len(messages_about(fake_slack, "NCT90000002")) == 1


def _run_and_kill(env: dict, delay: float) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "check", "--json"], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_9_at_any_instant_repeats_nothing_and_loses_nothing(bot, fake_ctgov, fake_slack):  # noqa: F811
    env, _ = bot
    fake_slack.inject("slow", times=None, delay=0.3)  # widen the window between "posted" and "marked sent"
    for delay in (0.4, 0.9):  # baseline interrupted, then completed
        _run_and_kill(env, delay)
    assert check()["ok"]
    results_appear(fake_ctgov)
    for delay in (0.3, 0.6, 0.8, 1.0, 1.2, 1.5):
        _run_and_kill(env, delay)
    fake_slack.clear_faults()
    summary = check()
    assert summary["ok"], summary
    assert len(messages_about(fake_slack, "NCT90000002")) == 1
    assert len([m for m in fake_slack.channel_messages() if "tracking" in m["text"]]) == 1
    result = CliRunner().invoke(cli, ["show", "NCT90000002", "--json"])
    events = [e["kind"] for e in json.loads(result.output)["events"]]
    assert events.count("efficacy_reported") == 1 and events.count("results_posted") == 1
