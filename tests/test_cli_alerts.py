"""``monitor alerts``: listing the outbox, ``--retry`` delivery and exit codes, against SQLite and the fake Slack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.alerts import alert_rows, alerts_cmd, run_alerts
from monitor.domain import NewAlert
from monitor.errors import ConfigError
from monitor.notify.slack import SlackNotifier
from monitor.store.db import Store
from tests.slack_server import FakeSlack, fake_slack  # noqa: F401
from tests.test_slack_format import HOSTILE, NOW, sample_alerts

SAMPLES = sample_alerts()
ROOT = Path(__file__).resolve().parents[1]


def queue(store: Store, *names: str) -> None:
    for name in names:
        a = SAMPLES[name]
        with store.transaction() as tx:
            tx.add_events(list(a.events))
            tx.add_alerts([NewAlert(key=a.key, events=a.events, nct_id=a.nct_id, query=a.query, trial=a.trial,
                                    created_at=NOW, baseline_summary=a.baseline_summary)])


def bot(fake: FakeSlack) -> SlackNotifier:
    return SlackNotifier(token=fake.token, channel="alerts", api_url=fake.api_url, retries=1, backoff=0.01)


def test_lists_alerts_with_status_attempts_kinds_and_last_error(store: Store, capsys: pytest.CaptureFixture[str],
                                                                fake_slack: FakeSlack) -> None:
    queue(store, "efficacy_with_results", "source_failing", "baseline_summary")
    fake_slack.inject("error", error="channel_not_found")
    assert run_alerts(store, bot(fake_slack), pending=False, retry=True, as_json=False, sleep=lambda s: None) == 1
    out, err = capsys.readouterr()
    assert "NCT05000000" in out and "results_posted," in out and "efficacy_reported" in out
    assert "ctgov secretome-cancer" in out and "baseline_summary" in out
    assert "channel_not_found" in out  # the last error column
    assert "delivered 2 · failed 1 · still pending 1" in out
    assert err.startswith("error: alert 1 (NCT05000000): Slack chat.postMessage failed: channel_not_found")


def test_json_lists_every_alert_as_plain_values(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    queue(store, "efficacy_pubmed", "source_recovered")
    assert run_alerts(store, None, pending=True, retry=False, as_json=True) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [1, 2]
    first = rows[0]
    assert first["status"] == "pending" and first["attempts"] == 0 and first["events"] == ["efficacy_reported"]
    assert first["created_at"] == "2026-11-21T09:30:00+00:00" and first["nct_id"] == "NCT05000000"
    assert rows[1]["subject"] == "pubmed secretome-cancer" and rows[1]["title"] is None


def test_retry_delivers_pending_alerts_and_exits_0(store: Store, fake_slack: FakeSlack,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    queue(store, "efficacy_pubmed", "results_posted")
    assert run_alerts(store, bot(fake_slack), pending=True, retry=True, as_json=True, sleep=lambda s: None) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []  # nothing pending any more
    assert "delivered 2 · failed 0 · still pending 0" in captured.err
    assert [r["status"] for r in alert_rows(store, pending_only=False)] == ["sent", "sent"]
    assert len(fake_slack.channel_messages("alerts")) == 2


def test_retry_without_slack_is_a_configuration_error(store: Store) -> None:
    with pytest.raises(ConfigError, match="MONITOR_SLACK_TOKEN"):
        run_alerts(store, None, pending=True, retry=True, as_json=False)


def test_table_shows_hostile_titles_literally(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    a = SAMPLES["new_trial_cell_free"]
    with store.transaction() as tx:
        tx.add_events(list(a.events))
        tx.add_alerts([NewAlert(key=a.key, events=a.events, nct_id=a.nct_id, query=a.query,
                                trial={**a.trial, "title": "[bold red]x[/] " + HOSTILE}, created_at=NOW)])
    run_alerts(store, None, pending=False, retry=False, as_json=False)
    assert "[bold red]x[/]" in capsys.readouterr().out


def env_for(db_url: str, tmp_path: Path, fake: FakeSlack, **extra: str) -> dict[str, str]:
    return {"MONITOR_DATABASE_URL": db_url, "MONITOR_CONFIG": str(tmp_path / "absent.toml"),
            "MONITOR_SLACK_TOKEN": fake.token, "MONITOR_SLACK_CHANNEL": "alerts",
            "MONITOR_SLACK_API_URL": fake.api_url, "MONITOR_SLACK_RETRIES": "0", **extra}


def test_command_end_to_end(store: Store, db_url: str, tmp_path: Path, fake_slack: FakeSlack) -> None:
    queue(store, "efficacy_pubmed")
    runner = CliRunner()
    listed = runner.invoke(alerts_cmd, ["--pending", "--json"], env=env_for(db_url, tmp_path, fake_slack))
    assert listed.exit_code == 0, listed.output
    assert [r["status"] for r in json.loads(listed.stdout)] == ["pending"]
    sent = runner.invoke(alerts_cmd, ["--retry"], env=env_for(db_url, tmp_path, fake_slack))
    assert sent.exit_code == 0, sent.output
    assert len(fake_slack.channel_messages("alerts")) == 1
    again = runner.invoke(alerts_cmd, ["--retry"], env=env_for(db_url, tmp_path, fake_slack))
    assert again.exit_code == 0 and len(fake_slack.calls("chat.postMessage")) == 1


def test_command_exit_codes(store: Store, db_url: str, tmp_path: Path, fake_slack: FakeSlack) -> None:
    queue(store, "efficacy_pubmed")
    runner = CliRunner()
    fake_slack.inject("error", error="not_in_channel")
    failed = runner.invoke(alerts_cmd, ["--retry"], env=env_for(db_url, tmp_path, fake_slack))
    assert failed.exit_code == 1 and "not_in_channel" in failed.output and "Traceback" not in failed.output
    no_channel = runner.invoke(alerts_cmd, ["--retry"], env=env_for(db_url, tmp_path, fake_slack,
                                                                     MONITOR_SLACK_CHANNEL=""))
    assert no_channel.exit_code == 2 and "MONITOR_SLACK_CHANNEL" in no_channel.output
    assert fake_slack.token not in failed.output + no_channel.output


def test_help_is_fast_and_imports_click_only() -> None:
    assert "Example:" in CliRunner().invoke(alerts_cmd, ["--help"]).output
    code = ("import sys, monitor.cli.alerts; heavy = {'rich', 'slack_sdk', 'sqlalchemy', 'sqlmodel'} & "
            "set(m.split('.')[0] for m in sys.modules); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
