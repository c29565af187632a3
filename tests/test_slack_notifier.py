"""SlackNotifier against the loopback fake Slack: what is posted, lookup by metadata, retries, faults, secrets."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.notify import DeliveryError, Notifier
from monitor.notify.slack import EVENT_TYPE, SlackNotifier, make_slack_notifier, metadata_key
from monitor.notify.slack_blocks import format_message
from tests.slack_server import WEBHOOK_CHANNEL, FakeSlack, fake_slack  # noqa: F401
from tests.test_slack_format import GOLDEN, sample_alerts

ALERTS = sample_alerts()
EFFICACY = ALERTS["efficacy_pubmed"]
ROOT = Path(__file__).resolve().parents[1]


def bot(fake: FakeSlack, **kw: object) -> SlackNotifier:
    args: dict[str, object] = {"token": fake.token, "channel": "alerts", "api_url": fake.api_url, "retries": 2,
                               "timeout": 2.0, "backoff": 0.01}
    args.update(kw)
    return SlackNotifier(**args)  # type: ignore[arg-type]


def hook(fake: FakeSlack, **kw: object) -> SlackNotifier:
    args: dict[str, object] = {"webhook_url": fake.webhook_url, "retries": 2, "timeout": 2.0, "backoff": 0.01}
    args.update(kw)
    return SlackNotifier(**args)  # type: ignore[arg-type]


def a_minute_ago() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------------- bot token

def test_send_posts_golden_blocks_with_alert_key_metadata(fake_slack: FakeSlack) -> None:
    n = bot(fake_slack)
    assert isinstance(n, Notifier) and n.can_lookup and n.name == "slack #alerts"
    ts = n.send(EFFICACY)
    (call,) = fake_slack.calls("chat.postMessage")
    golden = json.loads((GOLDEN / "efficacy_pubmed.json").read_text(encoding="utf-8"))
    assert call.body["blocks"] == golden["blocks"] and call.body["text"] == golden["text"]
    assert call.body["channel"] == "alerts"
    assert call.body["unfurl_links"] is False and call.body["unfurl_media"] is False
    assert call.body["metadata"] == {"event_type": EVENT_TYPE, "event_payload": {"alert_key": EFFICACY.key}}
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    (message,) = fake_slack.channel_messages("alerts")
    assert message["ts"] == ts


def test_find_sent_finds_the_message_by_metadata_across_pages(fake_slack: FakeSlack) -> None:
    n = bot(fake_slack, page_size=50)
    other = ALERTS["results_posted"]
    fake_slack.add_message("alerts", "someone else", metadata={"event_type": "other", "event_payload": {
        "alert_key": EFFICACY.key}})
    ts = n.send(EFFICACY)
    for i in range(120):
        fake_slack.add_message("alerts", f"noise {i}")
    assert n.find_sent(EFFICACY, oldest=a_minute_ago()) == ts
    assert n.find_sent(other, oldest=a_minute_ago()) is None
    history = fake_slack.calls("conversations.history")
    assert len(history) >= 3 + 3  # 121+ messages in pages of 50, twice
    assert history[0].body["include_all_metadata"] in ("1", "true", True)
    assert history[0].body["channel"] == "C0ALERTS01"  # the id learnt from chat.postMessage's answer


def test_find_sent_ignores_messages_older_than_oldest(fake_slack: FakeSlack) -> None:
    n = bot(fake_slack)
    n.send(EFFICACY)
    assert n.find_sent(EFFICACY, oldest=datetime.now(UTC) + timedelta(minutes=1)) is None


def test_find_sent_in_a_new_process_resolves_the_channel_name_once(fake_slack: FakeSlack) -> None:
    ts = bot(fake_slack).send(EFFICACY)
    fresh = bot(fake_slack)  # a rerun after a crash: the channel id is not known yet
    naive = a_minute_ago().replace(tzinfo=None)  # SQLite hands back naive UTC datetimes
    assert fresh.find_sent(EFFICACY, oldest=naive) == ts
    assert fresh.find_sent(EFFICACY, oldest=naive) == ts
    assert len(fake_slack.calls("conversations.list")) == 1
    by_id = bot(fake_slack, channel="C0ALERTS01")
    assert by_id.find_sent(EFFICACY, oldest=naive) == ts
    assert len(fake_slack.calls("conversations.list")) == 1


def test_long_alert_keys_travel_as_a_hash(fake_slack: FakeSlack) -> None:
    long = replace(EFFICACY, key="k" * 500)
    n = bot(fake_slack)
    ts = n.send(long)
    assert fake_slack.calls("chat.postMessage")[0].body["metadata"]["event_payload"]["alert_key"].startswith("sha256:")
    assert metadata_key(long.key) == metadata_key("k" * 500) != metadata_key("k" * 499)
    assert n.find_sent(long, oldest=a_minute_ago()) == ts


def test_rate_limit_is_retried_after_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.inject("429", retry_after=0)
    ts = bot(fake_slack).send(EFFICACY)
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert [m["ts"] for m in fake_slack.channel_messages("alerts")] == [ts]


@pytest.mark.parametrize("status", ["500", "503"])
def test_server_error_is_looked_up_then_posted_once(fake_slack: FakeSlack, status: str) -> None:
    fake_slack.inject(status)
    ts = bot(fake_slack).send(EFFICACY)
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert len(fake_slack.calls("conversations.history")) == 1
    assert [m["ts"] for m in fake_slack.channel_messages("alerts")] == [ts]


def test_server_error_after_posting_is_not_posted_twice(fake_slack: FakeSlack) -> None:
    fake_slack.inject("500", posted=True)
    ts = bot(fake_slack).send(EFFICACY)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert [m["ts"] for m in fake_slack.channel_messages("alerts")] == [ts]


def test_server_errors_until_retries_run_out_may_have_posted(fake_slack: FakeSlack) -> None:
    fake_slack.inject("500", times=None)
    with pytest.raises(DeliveryError) as info:
        bot(fake_slack, retries=2).send(EFFICACY)
    assert len(fake_slack.calls("chat.postMessage")) == 3
    assert info.value.definitely_not_sent is False and info.value.channel_down is True
    assert "HTTP 500" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["drop", "drop_after"])
def test_connection_lost_after_sending_is_maybe_sent_and_not_retried(fake_slack: FakeSlack, kind: str) -> None:
    fake_slack.inject(kind)
    with pytest.raises(DeliveryError) as info:
        bot(fake_slack).send(EFFICACY)
    assert info.value.definitely_not_sent is False
    assert "may have been posted" in str(info.value)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert len(fake_slack.channel_messages("alerts")) == (1 if kind == "drop_after" else 0)


def test_timeout_is_maybe_sent(fake_slack: FakeSlack) -> None:
    fake_slack.inject("slow", delay=0.6)
    with pytest.raises(DeliveryError) as info:
        bot(fake_slack, timeout=0.2).send(EFFICACY)
    assert info.value.definitely_not_sent is False and "timed out" in str(info.value)
    assert len(fake_slack.calls("chat.postMessage")) == 1


def test_connection_refused_is_definitely_not_sent() -> None:
    n = SlackNotifier(token="xoxb-secret-token", channel="alerts", api_url=f"http://127.0.0.1:{closed_port()}/api/",
                      retries=1, backoff=0.01)
    with pytest.raises(DeliveryError) as info:
        n.send(EFFICACY)
    assert info.value.definitely_not_sent is True and info.value.channel_down is True
    assert "cannot connect" in str(info.value)


@pytest.mark.parametrize(
    ("fault", "hint", "down"),
    [
        ({"error": "channel_not_found"}, "MONITOR_SLACK_CHANNEL", True),
        ({"error": "not_in_channel"}, "/invite", True),
        ({"error": "missing_scope", "extra": {"needed": "chat:write"}}, "chat:write", True),
        ({"error": "no_text"}, "refused", False),
    ],
    ids=["channel_not_found", "not_in_channel", "missing_scope", "other"],
)
def test_api_refusals_are_definitely_not_sent(fake_slack: FakeSlack, fault: dict[str, object], hint: str,
                                              down: bool) -> None:
    fake_slack.inject("error", **fault)
    with pytest.raises(DeliveryError) as info:
        bot(fake_slack).send(EFFICACY)
    assert info.value.definitely_not_sent is True and info.value.channel_down is down
    assert hint in str(info.value)
    assert len(fake_slack.calls("chat.postMessage")) == 1


def test_unknown_channel_and_bad_token(fake_slack: FakeSlack) -> None:
    with pytest.raises(DeliveryError, match="channel_not_found"):
        bot(fake_slack, channel="nope").send(EFFICACY)
    with pytest.raises(DeliveryError, match="invalid_auth.*MONITOR_SLACK_TOKEN"):
        bot(fake_slack, token="xoxb-wrong").send(EFFICACY)


def test_refused_blocks_fall_back_to_text(fake_slack: FakeSlack) -> None:
    fake_slack.inject("error", error="invalid_blocks")
    ts = bot(fake_slack).send(EFFICACY)
    first, second = fake_slack.calls("chat.postMessage")
    assert first.body.get("blocks") and not second.body.get("blocks")
    assert second.body["text"] == format_message(EFFICACY)[0]
    assert [m["ts"] for m in fake_slack.channel_messages("alerts")] == [ts]


def test_lookup_failure_is_a_delivery_error(fake_slack: FakeSlack) -> None:
    fake_slack.inject("error", method="conversations.history", error="missing_scope",
                      extra={"needed": "channels:history"})
    with pytest.raises(DeliveryError, match="channels:history"):
        bot(fake_slack, channel="C0ALERTS01").find_sent(EFFICACY, oldest=a_minute_ago())


def test_lookup_retries_server_errors_and_dropped_connections(fake_slack: FakeSlack) -> None:
    n = bot(fake_slack, channel="C0ALERTS01")
    ts = n.send(EFFICACY)
    fake_slack.inject("503", method="conversations.history")
    fake_slack.inject("drop", method="conversations.history", nth=2)
    assert n.find_sent(EFFICACY, oldest=a_minute_ago()) == ts
    assert len(fake_slack.calls("conversations.history")) == 3


# ---------------------------------------------------------------------------------------------------- webhook

def test_webhook_send_returns_none_and_cannot_look_up(fake_slack: FakeSlack) -> None:
    n = hook(fake_slack)
    assert n.can_lookup is False and n.name == "slack webhook"
    assert n.send(EFFICACY) is None
    (call,) = fake_slack.calls("webhook")
    text, blocks = format_message(EFFICACY)
    assert call.body["text"] == text and call.body["blocks"] == blocks and "metadata" not in call.body
    assert len(fake_slack.channel_messages(WEBHOOK_CHANNEL)) == 1
    assert n.find_sent(EFFICACY, oldest=a_minute_ago()) is None


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_webhook_retries_rate_limits_and_server_errors(fake_slack: FakeSlack, kind: str) -> None:
    fake_slack.inject(kind, method="webhook", retry_after=0)
    assert hook(fake_slack).send(EFFICACY) is None
    assert len(fake_slack.calls("webhook")) == 2
    assert len(fake_slack.channel_messages(WEBHOOK_CHANNEL)) == 1


def test_webhook_http_errors_are_checked_not_ignored(fake_slack: FakeSlack) -> None:
    fake_slack.inject("error", method="webhook", error="channel_is_archived", status=410)
    with pytest.raises(DeliveryError) as info:
        hook(fake_slack).send(EFFICACY)
    assert info.value.definitely_not_sent is True and "channel_is_archived (HTTP 410)" in str(info.value)
    fake_slack.inject("500", method="webhook", times=None)
    with pytest.raises(DeliveryError) as info:
        hook(fake_slack).send(EFFICACY)
    assert info.value.definitely_not_sent is False


def test_webhook_connection_lost_after_sending_is_maybe_sent(fake_slack: FakeSlack) -> None:
    fake_slack.inject("drop_after", method="webhook", times=None)
    with pytest.raises(DeliveryError) as info:
        hook(fake_slack).send(EFFICACY)
    assert info.value.definitely_not_sent is False
    assert len(fake_slack.channel_messages(WEBHOOK_CHANNEL)) >= 1  # at least once: it may well be there


# ---------------------------------------------------------------------------------------------------- secrets

def test_secrets_never_appear_in_errors_or_logs(fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = "xoxb-1234-SECRET-token"
    bad_hook = fake_slack.webhook_url + "-wrong"
    secret_path = bad_hook.rsplit("/", 1)[1]
    errors: list[str] = []
    for make in (
        lambda: SlackNotifier(token=token, channel="alerts", api_url=fake_slack.api_url, retries=0),
        lambda: SlackNotifier(token=token, channel="alerts", api_url=f"http://127.0.0.1:{closed_port()}/", retries=0),
        lambda: SlackNotifier(webhook_url=bad_hook, retries=0),
        lambda: SlackNotifier(webhook_url=f"http://127.0.0.1:{closed_port()}/services/T/B/{secret_path}", retries=0),
    ):
        with pytest.raises(DeliveryError) as info:
            make().send(EFFICACY)
        errors.append(str(info.value))
    fake_slack.inject("drop_after", method="webhook", nth=len(fake_slack.calls("webhook")) + 1)
    with pytest.raises(DeliveryError) as info:
        SlackNotifier(webhook_url=fake_slack.webhook_url, retries=0).send(EFFICACY)
    errors.append(str(info.value))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in [*errors, logged]:
        assert token not in text and secret_path not in text and fake_slack.webhook_secret not in text
    assert all("\n" not in e for e in errors)


# ---------------------------------------------------------------------------------------------------- factory

def test_make_slack_notifier(fake_slack: FakeSlack) -> None:
    def make(token: str | None, channel: str | None, webhook: str | None, api_url: str = fake_slack.api_url
             ) -> SlackNotifier | None:
        return make_slack_notifier(token=token, channel=channel, api_url=api_url, webhook_url=webhook, retries=1)

    assert make(None, None, None) is None
    with pytest.raises(ConfigError, match="MONITOR_SLACK_CHANNEL"):
        make("xoxb-test", None, None)
    both = make("xoxb-test", "alerts", fake_slack.webhook_url)
    assert both is not None and both.can_lookup
    only_hook = make(None, None, fake_slack.webhook_url)
    assert only_hook is not None and not only_hook.can_lookup
    with pytest.raises(ConfigError, match="MONITOR_SLACK_API_URL"):
        make("xoxb-test", "c", None, api_url="slack.com")
    with pytest.raises(ConfigError) as info:
        make(None, None, "hooks/secret")
    assert "hooks/secret" not in str(info.value)


def test_only_notify_slack_imports_slack_sdk() -> None:
    imports = re.compile(r"^\s*(from|import)\s+slack_sdk\b", re.MULTILINE)
    users = [p.relative_to(ROOT).as_posix() for p in (ROOT / "monitor").rglob("*.py")
             if imports.search(p.read_text(encoding="utf-8"))]
    assert users == ["monitor/notify/slack.py"]
    code = "import sys, monitor.deliver, monitor.notify; assert 'slack_sdk' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
