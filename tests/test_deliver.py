"""deliver_alerts on a real migrated SQLite store and the loopback fake Slack: exactly once across crashes at every
step, retries, long outages, webhooks (at least once)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.deliver import DeliveryReport, deliver_alerts
from monitor.domain import Alert, NewAlert
from monitor.notify import DeliveryError
from monitor.notify.slack import SlackNotifier, metadata_key
from monitor.store.db import Store, make_engine
from tests.slack_server import WEBHOOK_CHANNEL, FakeSlack, fake_slack  # noqa: F401
from tests.test_slack_format import sample_alerts

SAMPLES = sample_alerts()
START = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


class Crash(BaseException):
    """A simulated process death (kill -9): nothing after it runs, nothing catches it."""


@dataclass
class Clock:
    at: datetime = START

    def now(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "monitor.db"
    url = f"sqlite:///{path}"
    store = Store(make_engine(url), url=url)
    store.upgrade()
    store.engine.dispose()
    return path


def open_store(template: Path, folder: Path) -> Store:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "monitor.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    return Store(make_engine(url), url=url)


@pytest.fixture
def store(migrated_db: Path, tmp_path: Path) -> Iterator[Store]:
    s = open_store(migrated_db, tmp_path)
    yield s
    s.engine.dispose()


@pytest.fixture
def clock(fake_slack: FakeSlack) -> Clock:
    c = Clock()
    fake_slack.clock = lambda: c.now().timestamp()
    return c


def queue(store: Store, *names: str, at: datetime = START) -> None:
    """Write sample alerts to the outbox the way the pipeline does: events and alert in one transaction."""
    for name in names:
        a = SAMPLES[name]
        with store.transaction() as tx:
            tx.add_events(list(a.events))
            assert tx.add_alerts([NewAlert(key=a.key, events=a.events, nct_id=a.nct_id, query=a.query, trial=a.trial,
                                           created_at=at, baseline_summary=a.baseline_summary)])


def bot(fake: FakeSlack, **kw: Any) -> SlackNotifier:
    args: dict[str, Any] = {"token": fake.token, "channel": "alerts", "api_url": fake.api_url, "retries": 2,
                            "timeout": 2.0, "backoff": 0.01}
    args.update(kw)
    return SlackNotifier(**args)


def deliver(store: Store, notifier: Any, wall: Clock, **kw: Any) -> DeliveryReport:
    kw.setdefault("sleep", lambda seconds: None)
    return deliver_alerts(store, notifier, now=wall.now, **kw)


def posted_keys(fake: FakeSlack, channel: str = "alerts") -> list[str]:
    return [m["metadata"]["event_payload"]["alert_key"] for m in fake.channel_messages(channel) if m.get("metadata")]


def assert_each_sent_once(store: Store, fake: FakeSlack) -> None:
    alerts = store.alerts()
    keys = posted_keys(fake)
    assert sorted(keys) == sorted(metadata_key(a.key) for a in alerts), "every alert exactly once in Slack"
    by_key = {m["metadata"]["event_payload"]["alert_key"]: m["ts"] for m in fake.channel_messages("alerts")
              if m.get("metadata")}
    for a in alerts:
        assert a.status == "sent" and a.message_ts == by_key[metadata_key(a.key)]


# ---------------------------------------------------------------------------------------------------- the happy path

def test_delivers_pending_alerts_oldest_first_exactly_once(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    queue(store, "efficacy_with_results", "new_trial_cell_free", "source_failing")
    report = deliver(store, bot(fake_slack), clock)
    assert report == DeliveryReport(sent=3, failed=0, pending=0, errors=[])
    assert posted_keys(fake_slack) == [SAMPLES[n].key for n in ("efficacy_with_results", "new_trial_cell_free",
                                                                 "source_failing")]
    assert_each_sent_once(store, fake_slack)
    again = deliver(store, bot(fake_slack), clock)
    assert again == DeliveryReport(sent=0, failed=0, pending=0, errors=[])
    assert len(fake_slack.calls("chat.postMessage")) == 3


def test_paces_one_message_per_second(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    queue(store, "efficacy_pubmed", "results_posted", "new_trial_cell_free")
    sleeps: list[float] = []
    deliver(store, bot(fake_slack), clock, sleep=sleeps.append, clock=lambda: 100.0)
    assert sleeps == [1.0, 1.0]


def test_limit_leaves_the_rest_pending(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    queue(store, "efficacy_pubmed", "results_posted", "new_trial_cell_free")
    assert deliver(store, bot(fake_slack), clock, limit=2) == DeliveryReport(sent=2, pending=1)


def test_dry_run_store_sends_nothing(migrated_db: Path, tmp_path: Path, fake_slack: FakeSlack, clock: Clock) -> None:
    s = open_store(migrated_db, tmp_path)
    queue(s, "efficacy_pubmed")
    s.dry_run = True
    assert deliver(s, bot(fake_slack), clock) == DeliveryReport(pending=1)
    assert fake_slack.calls("chat.postMessage") == []
    s.engine.dispose()


# ---------------------------------------------------------------------------------------------------- crashes

@dataclass
class Crashing:
    """Delegates to the real store / notifier and dies (``Crash``) just before or just after the nth call of
    ``names``: the same effect as kill -9 at that instant, since every store call commits on its own."""

    target: Any
    names: tuple[str, ...]
    crash_at: int | None
    after: bool
    calls: list[str] = field(default_factory=list)
    counter: list[int] = field(default_factory=lambda: [0])

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.target, name)
        if name not in self.names:
            return value

        def call(*args: Any, **kw: Any) -> Any:
            self.counter[0] += 1
            self.calls.append(name)
            if self.counter[0] == self.crash_at and not self.after:
                raise Crash(name)
            result = value(*args, **kw)
            if self.counter[0] == self.crash_at and self.after:
                raise Crash(name)
            return result

        return call


STORE_STEPS = ("mark_alert_sending", "mark_alert_sent", "mark_alert_failed")
NOTIFIER_STEPS = ("send", "find_sent")


def run_with_crash(store: Store, notifier: SlackNotifier, clock: Clock, crash_at: int | None, after: bool) -> bool:
    counter = [0]
    s = Crashing(store, STORE_STEPS, crash_at, after, counter=counter)
    n = Crashing(notifier, NOTIFIER_STEPS, crash_at, after, counter=counter)
    try:
        deliver_alerts(s, n, now=clock.now, sleep=lambda seconds: None)  # type: ignore[arg-type]
    except Crash:
        return True
    return False


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("crash_at", range(1, 10))
def test_a_crash_at_any_step_neither_loses_nor_repeats(migrated_db: Path, tmp_path: Path, fake_slack: FakeSlack,
                                                       clock: Clock, crash_at: int, after: bool) -> None:
    """3 alerts = 9 steps (sending, send, sent per alert); crash before or after each, then rerun to the end."""
    s = open_store(migrated_db, tmp_path)
    queue(s, "efficacy_pubmed", "results_posted", "source_recovered")
    assert run_with_crash(s, bot(fake_slack), clock, crash_at, after)
    for _ in range(3):  # reruns in fresh "processes" (new notifier objects), a minute apart
        clock.advance(minutes=1)
        run_with_crash(s, bot(fake_slack), clock, None, after)
    assert_each_sent_once(s, fake_slack)
    s.engine.dispose()


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("second", range(1, 8))
def test_a_second_crash_during_recovery_neither_loses_nor_repeats(migrated_db: Path, tmp_path: Path,
                                                                  fake_slack: FakeSlack, clock: Clock, second: int,
                                                                  after: bool) -> None:
    """The first run dies right after a post (the alert is left in "sending"); the recovery run dies too, at each
    of its steps (find_sent, mark sent, then the usual sending / send / sent)."""
    s = open_store(migrated_db, tmp_path)
    queue(s, "efficacy_pubmed", "results_posted", "source_recovered")
    assert run_with_crash(s, bot(fake_slack), clock, 2, after=True)
    clock.advance(minutes=1)
    assert run_with_crash(s, bot(fake_slack), clock, second, after)
    for _ in range(3):
        clock.advance(minutes=1)
        run_with_crash(s, bot(fake_slack), clock, None, after)
    assert_each_sent_once(s, fake_slack)
    s.engine.dispose()


def test_sending_alert_already_in_slack_is_not_posted_again(store: Store, fake_slack: FakeSlack,
                                                            clock: Clock) -> None:
    queue(store, "efficacy_pubmed")
    (a,) = store.alerts()
    store.mark_alert_sending(a.id, at=clock.now())
    ts = bot(fake_slack).send(a)  # the previous run posted, then died before marking it sent
    clock.advance(minutes=20)
    report = deliver(store, bot(fake_slack), clock)
    assert report == DeliveryReport(sent=1, pending=0, recovered=1)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert store.alerts()[0].message_ts == ts


def test_sending_alert_missing_from_slack_is_posted_once(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    queue(store, "efficacy_pubmed")
    (a,) = store.alerts()
    store.mark_alert_sending(a.id, at=clock.now())  # died before the post reached Slack
    fake_slack.add_message("alerts", "unrelated")
    clock.advance(minutes=20)
    report = deliver(store, bot(fake_slack), clock)
    assert report == DeliveryReport(sent=1, pending=0)
    assert len(fake_slack.calls("conversations.history")) == 1
    assert_each_sent_once(store, fake_slack)


def test_failed_lookup_never_posts(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    queue(store, "efficacy_pubmed", "results_posted")
    first = store.alerts()[0]
    store.mark_alert_sending(first.id, at=clock.now())
    fake_slack.inject("error", method="conversations.history", error="missing_scope",
                      extra={"needed": "channels:history"})
    report = deliver(store, bot(fake_slack, channel="C0ALERTS01"), clock)
    assert report.sent == 1 and report.failed == 1 and report.pending == 1
    assert "channels:history" in report.errors[0] and report.errors[0].startswith(f"alert {first.id} (NCT05000000)")
    stuck = store.alerts()[0]
    assert stuck.status == "sending" and "channels:history" in (stuck.last_error or "")
    assert posted_keys(fake_slack) == [SAMPLES["results_posted"].key]


def test_timeout_leaves_alert_sending_and_next_run_finds_it(store: Store, fake_slack: FakeSlack,
                                                            clock: Clock) -> None:
    queue(store, "efficacy_pubmed")
    fake_slack.inject("drop_after")  # Slack posted it, the answer never came back
    report = deliver(store, bot(fake_slack), clock)
    assert report.failed == 1 and report.pending == 1 and "may have been posted" in report.errors[0]
    assert store.alerts()[0].status == "sending"
    clock.advance(minutes=15)
    assert deliver(store, bot(fake_slack), clock) == DeliveryReport(sent=1, pending=0, recovered=1)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert_each_sent_once(store, fake_slack)


# ---------------------------------------------------------------------------------------------------- faults

def test_rate_limit_then_success(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    queue(store, "efficacy_pubmed")
    fake_slack.inject("429", retry_after=0)
    assert deliver(store, bot(fake_slack), clock) == DeliveryReport(sent=1)
    assert_each_sent_once(store, fake_slack)


@pytest.mark.parametrize("status", ["500", "503"])
def test_server_error_then_success(store: Store, fake_slack: FakeSlack, clock: Clock, status: str) -> None:
    queue(store, "efficacy_pubmed", "results_posted")
    fake_slack.inject(status)
    assert deliver(store, bot(fake_slack), clock) == DeliveryReport(sent=2)
    assert_each_sent_once(store, fake_slack)


def test_long_outage_keeps_alerts_pending_then_recovers(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    names = ("efficacy_pubmed", "results_posted", "new_trial_cell_free", "status_changed", "baseline_summary")
    queue(store, *names)
    fake_slack.inject("503", times=None)
    report = deliver(store, bot(fake_slack), clock)
    assert report.sent == 0 and report.failed == 3 and report.pending == 5
    assert "stopped after 3 failures in a row; 2 more alert(s) wait for the next run" in report.errors[-1]
    assert all("HTTP 503" in e for e in report.errors[:3])
    assert [a.last_error is not None for a in store.alerts()] == [True, True, True, False, False]
    assert posted_keys(fake_slack) == []
    fake_slack.clear_faults()
    clock.advance(hours=2)
    report = deliver(store, bot(fake_slack), clock)
    assert report == DeliveryReport(sent=5, pending=0)
    assert_each_sent_once(store, fake_slack)


def test_unreachable_slack_is_reported_and_retried_next_run(store: Store, fake_slack: FakeSlack,
                                                            clock: Clock) -> None:
    queue(store, "efficacy_pubmed", "results_posted", "new_trial_cell_free", "status_changed")
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        down = bot(fake_slack, api_url=f"http://127.0.0.1:{sock.getsockname()[1]}/api/", retries=1)
        report = deliver(store, down, clock)
    assert report.failed == 3 and report.pending == 4 and "cannot connect" in report.errors[0]
    assert {a.status for a in store.alerts()} == {"pending"}  # definitely not sent: no lookup needed later
    clock.advance(minutes=15)
    assert deliver(store, bot(fake_slack), clock) == DeliveryReport(sent=4)
    assert fake_slack.calls("conversations.history") == []
    assert_each_sent_once(store, fake_slack)


def test_a_message_specific_refusal_does_not_stop_the_run(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    queue(store, "efficacy_pubmed", "results_posted", "new_trial_cell_free", "status_changed")
    fake_slack.inject("error", error="invalid_arguments")
    report = deliver(store, bot(fake_slack), clock, stop_after=1)
    assert report.sent == 3 and report.failed == 1 and report.pending == 1
    assert store.alerts(pending_only=True)[0].status == "pending"
    assert deliver(store, bot(fake_slack), clock).sent == 1
    assert_each_sent_once(store, fake_slack)


def test_a_notify_error_of_any_notifier_is_reported(store: Store, clock: Clock) -> None:
    class Broken:
        name = "broken"
        can_lookup = False

        def send(self, alert: Alert) -> str | None:
            raise DeliveryError("nope", definitely_not_sent=True, channel_down=True)

        def find_sent(self, alert: Alert, *, oldest: datetime) -> str | None:
            return None

    queue(store, "efficacy_pubmed")
    report = deliver(store, Broken(), clock)
    assert report == DeliveryReport(failed=1, pending=1, errors=["alert 1 (NCT05000000): nope"])


# ---------------------------------------------------------------------------------------------------- webhook

def webhook(fake: FakeSlack) -> SlackNotifier:
    return SlackNotifier(webhook_url=fake.webhook_url, retries=2, timeout=2.0, backoff=0.01)


def test_webhook_delivery(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    queue(store, "efficacy_pubmed", "source_failing")
    assert deliver(store, webhook(fake_slack), clock) == DeliveryReport(sent=2)
    assert [a.status for a in store.alerts()] == ["sent", "sent"]
    assert [a.message_ts for a in store.alerts()] == [None, None]
    assert len(fake_slack.channel_messages(WEBHOOK_CHANNEL)) == 2


def test_webhook_is_at_least_once_after_a_crash(store: Store, fake_slack: FakeSlack, clock: Clock) -> None:
    """The documented caveat: without a lookup, a crash after the post repeats the message."""
    queue(store, "efficacy_pubmed")
    assert run_with_crash(store, webhook(fake_slack), clock, crash_at=2, after=True)  # died right after the post
    assert store.alerts()[0].status == "sending"
    deliver(store, webhook(fake_slack), clock)
    assert store.alerts()[0].status == "sent"
    assert len(fake_slack.channel_messages(WEBHOOK_CHANNEL)) == 2
