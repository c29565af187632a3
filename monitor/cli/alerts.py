"""``monitor alerts``: list the Slack alert outbox and deliver pending alerts on demand. Imports click only at
module level; ``run_alerts`` is the command without click, for tests and other callers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from monitor.cli.common import EXIT_FAILED, console, one_line_errors, open_app, print_json
from monitor.domain import as_utc


@click.command("alerts")
@click.option("--pending", is_flag=True, help="Only alerts not yet sent (pending, or sending when a run died).")
@click.option("--retry", is_flag=True, help="Deliver the pending alerts now; exit 1 if any fails.")
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as a JSON array.")
@one_line_errors
def alerts_cmd(pending: bool, retry: bool, as_json: bool) -> None:
    """List Slack alerts: when created, status, attempts, trial, event kinds and the last error.

    An alert is written with its events and delivered afterwards; one that could not be delivered stays
    pending and is retried by the next `monitor check` or by `--retry`. Exit 1 when `--retry` left an alert
    undelivered, 2 when Slack is not configured.

    Example:

        monitor alerts --pending

        monitor alerts --retry --json
    """
    with open_app() as app:
        if not retry:
            code = run_alerts(app.store, None, pending=pending, retry=False, as_json=as_json)
        else:
            with app.store.lock(timeout=app.settings.lock_timeout):
                code = run_alerts(app.store, app.notifier, pending=pending, retry=True, as_json=as_json)
    if code:
        raise SystemExit(code)


def run_alerts(store: Any, notifier: Any, *, pending: bool, retry: bool, as_json: bool,
               now: Callable[[], datetime] | None = None, sleep: Callable[[float], None] | None = None) -> int:
    """List (and with ``retry`` first deliver) the alerts; returns the exit code. Raises MonitorError."""
    report = None
    if retry:
        from monitor.deliver import deliver_alerts
        from monitor.errors import ConfigError

        if notifier is None:
            raise ConfigError("Slack is not configured: set MONITOR_SLACK_TOKEN and MONITOR_SLACK_CHANNEL, or "
                              "MONITOR_SLACK_WEBHOOK_URL, to deliver alerts")
        report = deliver_alerts(store, notifier, now=now or (lambda: datetime.now(UTC)), sleep=sleep or time.sleep)
    rows = alert_rows(store, pending_only=pending)
    if as_json:
        print_json(rows)
    else:
        _print_table(rows, pending=pending)
    if report is not None:
        click.echo(f"delivered {report.sent} · failed {report.failed} · still pending {report.pending}",
                   err=as_json)
        for line in report.errors:
            click.echo(f"error: {line}", err=True)
        return EXIT_FAILED if report.failed or report.errors else 0
    return 0


def alert_rows(store: Any, *, pending_only: bool) -> list[dict[str, Any]]:
    """One plain dict per alert (the ``--json`` output), oldest first."""
    from monitor.deliver import describe

    rows = []
    for a in store.alerts(pending_only=pending_only):
        kinds = [e.kind.value for e in a.events] or (["baseline_summary"] if a.baseline_summary else [])
        rows.append({
            "id": a.id, "key": a.key, "created_at": _iso(a.created_at), "status": a.status, "attempts": a.attempts,
            "subject": describe(a), "nct_id": a.nct_id, "query": a.query, "title": a.trial.get("title"),
            "events": kinds, "last_error": a.last_error, "message_ts": a.message_ts,
        })
    return rows


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return as_utc(value).isoformat()


def _print_table(rows: list[dict[str, Any]], *, pending: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="pending alerts" if pending else "alerts")
    for column in ("id", "created", "status", "attempts", "trial", "events", "last error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        created = (r["created_at"] or "")[:16].replace("T", " ")
        trial = r["subject"] + (f" · {r['title'][:60]}" if r.get("title") else "")
        table.add_row(str(r["id"]), created, r["status"], str(r["attempts"]), Text(trial), ", ".join(r["events"]),
                      Text((r["last_error"] or "")[:160]))  # Text(): registry text is not rich markup
    out = console()
    out.print(table)
    if not rows:
        out.print("no pending alerts" if pending else "no alerts yet")
