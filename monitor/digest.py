"""Use case: the weekly digest. ``send_digest`` builds it (``digest_data``), renders, sends and records it.

Imports errors, notify.email and digest_data; receives the store and the notifier; never reads settings or the
clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.digest_data import build_digest_data
from monitor.domain import as_utc
from monitor.errors import ConfigError, NotifyError
from monitor.notify.email import EmailNotifier, render_digest, render_html

if TYPE_CHECKING:
    from monitor.store.db import Store
    from monitor.store.models import DigestRow

__all__ = ["DigestReport", "send_digest"]

FIRST_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class DigestReport:
    """What one ``send_digest`` call did. ``html`` is set for a preview."""

    period_start: datetime
    period_end: datetime
    subject: str
    recipients: tuple[str, ...]
    events: int
    sent: bool = False
    preview: bool = False
    html: str | None = None
    error: str | None = None
    refused: tuple[str, ...] = ()
    digest_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.preview or self.sent

    def summary(self) -> str:
        period = f"{self.period_start:%Y-%m-%d %H:%M} to {self.period_end:%Y-%m-%d %H:%M} UTC"
        if self.preview:
            return f"digest preview for {period}, {self.events} events; nothing sent"
        if not self.sent:
            return f"digest for {period} NOT sent (kept pending, retried next time): {self.error}"
        refused = f"; refused: {', '.join(self.refused)}" if self.refused else ""
        return f"digest for {period} sent to {len(self.recipients)} recipients, {self.events} events{refused}"

# --- sending and recording --------------------------------------------------------------------------------------
def _period_start(store: Store, *, now: datetime, since: datetime | None) -> datetime:
    if since is not None:
        return as_utc(since)
    pending = store.pending_digests()
    if pending:
        return min(as_utc(p.period_start) for p in pending)
    last = store.last_sent_digest()
    return as_utc(last.period_end) if last else now - FIRST_PERIOD


def send_digest(store: Store, notifier: EmailNotifier | None, *, now: datetime, since: datetime | None = None,
                preview: bool = False, sender: str, recipients: Sequence[str], timezone: str) -> DigestReport:
    """Build the digest of everything since the last sent one and send it (or preview it: no DB write).

    The period is recorded before the send; a failed send stays pending and the next call covers it again,
    together with what happened since. A crash during the send may deliver the digest twice, never lose it.
    """
    now = as_utc(now)
    if not preview and notifier is None:
        raise ConfigError("no SMTP server for the digest: set MONITOR_SMTP_HOST (or use --preview)")
    if not preview and not recipients:
        raise ConfigError("no recipients for the digest: set MONITOR_DIGEST_TO (comma-separated addresses)")
    start = min(_period_start(store, now=now, since=since), now)
    data = build_digest_data(store, since=start, until=now, timezone=timezone)
    events = sum(s.count for s in data.sections) + len(data.source_notes)
    report = DigestReport(period_start=start, period_end=now, subject=data.subject, recipients=tuple(recipients),
                          events=events, preview=preview)
    if preview or notifier is None:
        return replace(report, html=render_html(data))
    message = render_digest(data, sender=sender, recipients=recipients)
    row, others = _record_attempt(store, start=start, now=now, recipients=recipients)
    try:
        refused = notifier.send(message)
    except NotifyError as exc:
        row.status, row.last_error = "failed", str(exc)
        store.save_digest(row)
        return replace(report, error=str(exc), digest_id=row.id)
    for done in (row, *others):
        done.status, done.sent_at = "sent", now
        done.last_error = f"refused: {', '.join(refused)}" if refused and done is row else None
        store.save_digest(done)
    return replace(report, sent=True, refused=tuple(refused), digest_id=row.id)


def _record_attempt(store: Store, *, start: datetime, now: datetime,
                    recipients: Sequence[str]) -> tuple[DigestRow, list[DigestRow]]:
    """Write the period about to be sent; reuses the oldest unsent row, so one row stands for one period."""
    from monitor.store.models import DigestRow

    pending = store.pending_digests()
    row = pending[0] if pending else DigestRow(period_start=start, period_end=now, created_at=now)
    row.period_start, row.period_end, row.recipients, row.status = start, now, list(recipients), "pending"
    return store.save_digest(row), pending[1:]


