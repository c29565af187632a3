"""Use case ``deliver_alerts``: post the outbox's unsent alerts through one alert channel, oldest first.

Imports domain, errors and the notify protocol (the store only for type hints). Guarantees:

**Exactly once with a Slack bot token.** The pipeline writes each alert to the outbox in the same transaction as
its events, so an alert exists iff its events do. Delivery then walks three committed states:
``pending`` -> ``sending`` (committed *before* the post) -> ``sent`` (with the message ``ts``). Every message
carries its alert key as Slack message metadata. An alert found in ``sending`` may have been posted by a run that
died (or timed out) after the post and before ``sent`` was committed, so it is first looked up in
``conversations.history`` (from its last attempt minus ``margin``): if the message is there the alert is marked
sent with that ``ts`` and not posted again; if not, it is posted. A kill at any instant therefore neither loses nor
repeats a message:

====================================  ===========================================================================
killed ...                            next run
====================================  ===========================================================================
before ``sending`` is committed       alert still ``pending``: posted
after ``sending``, before the post    ``sending``, lookup finds nothing: posted (once)
during / after the post               ``sending``, lookup finds the message: marked sent, not posted again
after ``sent``                        nothing to do
====================================  ===========================================================================

A send that fails with ``definitely_not_sent`` (Slack refused it, or the connection failed before the request was
written) returns the alert to ``pending``; any other failure (timeout, connection lost after the request went out,
a 5xx) leaves it ``sending`` so that the next run looks it up first. A failed lookup never leads to a post.

What remains possible: a message that Slack makes visible in ``conversations.history`` only after the next run's
lookup (a request still in flight at Slack minutes later) is posted twice; an alert stuck in ``sending`` whose
lookup keeps failing (for instance a token without ``channels:history``) is reported on every run and never
re-posted until the lookup works. Two delivery runs at once must be prevented by the caller (``Store.lock``).

**At least once with an incoming webhook.** A webhook returns no message id and Slack offers no lookup, so an
alert left in ``sending`` (a timeout or a crash between the post and ``sent``) is posted again: a message can
appear twice, never zero times.

Failures never drop an alert: it stays unsent, its error is stored on it and returned in the report. After
``stop_after`` channel-wide failures in a row (connection refused, 5xx, rate limit, bad token or channel) the run
stops so that a Slack outage does not take ``retries x alerts`` times long. Posts are paced to one per
``interval`` seconds (Slack allows one message per second per channel).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.domain import Alert
from monitor.errors import NotifyError
from monitor.notify import Notifier

if TYPE_CHECKING:
    from monitor.store.db import Store

LOOKUP_MARGIN = timedelta(minutes=10)  # clock skew between this host and Slack, plus slack in the window


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did: alerts sent (``recovered`` of them found already posted), alerts that failed,
    alerts still unsent afterwards, and one line per error."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)
    recovered: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def deliver_alerts(store: Store, notifier: Notifier, *, now: Callable[[], datetime], limit: int | None = None,
                   sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                   interval: float = 1.0, stop_after: int = 3, margin: timedelta = LOOKUP_MARGIN) -> DeliveryReport:
    """Deliver unsent alerts (at most ``limit``), oldest first; see the module docstring for the guarantees."""
    if getattr(store, "dry_run", False):
        return DeliveryReport(pending=len(store.alerts(pending_only=True)))
    todo = store.alerts(pending_only=True, limit=limit)
    sent = failed = recovered = down_in_row = 0
    errors: list[str] = []
    last_post: float | None = None
    for index, alert in enumerate(todo):
        posting = False  # a failed lookup must keep the alert in "sending": it may still be in Slack
        try:
            if alert.status == "sending" and notifier.can_lookup and _already_posted(store, notifier, alert,
                                                                                      now=now, margin=margin):
                sent, recovered, down_in_row = sent + 1, recovered + 1, 0
                continue
            if last_post is not None and (wait := interval - (clock() - last_post)) > 0:
                sleep(wait)
            store.mark_alert_sending(alert.id, at=now())
            posting, last_post = True, clock()
            ts = notifier.send(alert)
            store.mark_alert_sent(alert.id, at=now(), message_ts=ts)
            sent, down_in_row = sent + 1, 0
        except NotifyError as exc:
            failed += 1
            errors.append(f"alert {alert.id} ({describe(alert)}): {exc}")
            not_sent = posting and bool(getattr(exc, "definitely_not_sent", False))
            store.mark_alert_failed(alert.id, error=str(exc), definitely_not_sent=not_sent)
            down_in_row = down_in_row + 1 if getattr(exc, "channel_down", True) else 0
            if down_in_row >= stop_after and index + 1 < len(todo):
                errors.append(f"{notifier.name}: stopped after {down_in_row} failures in a row; "
                              f"{len(todo) - index - 1} more alert(s) wait for the next run")
                break
    pending = len(store.alerts(pending_only=True))
    return DeliveryReport(sent=sent, failed=failed, pending=pending, errors=errors, recovered=recovered)


def _already_posted(store: Store, notifier: Notifier, alert: Alert, *, now: Callable[[], datetime],
                    margin: timedelta) -> bool:
    """For an alert left in ``sending``: find its message; mark it sent if found. Raises NotifyError."""
    since = store.alert_last_attempt(alert.id) or alert.created_at or (now() - timedelta(days=1))
    ts = notifier.find_sent(alert, oldest=since - margin)
    if ts is None:
        return False
    store.mark_alert_sent(alert.id, at=now(), message_ts=ts)
    return True


def describe(alert: Alert) -> str:
    """A short subject for messages and tables: the trial, the source or the baseline query."""
    if alert.baseline_summary:
        return f"baseline {alert.query or ''}".strip()
    if alert.nct_id:
        return alert.nct_id
    sources = sorted({str(e.payload.get("source")) for e in alert.events if e.payload.get("source")})
    return f"{'/'.join(sources) or 'source'} {alert.query or ''}".strip()
