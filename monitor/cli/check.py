"""``monitor check``: poll every source for the queries now and print a summary."""

from __future__ import annotations

import sys
from typing import Any

import click

from monitor.cli.common import EXIT_FAILED, console, one_line_errors, open_app, print_json


def _progress_bar() -> tuple[Any, Any]:
    """A rich progress bar on a terminal; nothing when output is piped."""
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    tasks: dict[str, Any] = {}

    def update(label: str, done: int, total: int | None) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(f"ctgov {label}", total=total)
        bar.update(tasks[label], completed=done, total=total if total is not None else done)

    return bar, update


@click.command("check")
@click.argument("queries", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Poll and classify, but store nothing and send nothing.")
@click.option("--no-notify", is_flag=True, help="Record events and alerts, but send nothing now.")
@click.option("--source", "sources", multiple=True, type=click.Choice(["ctgov", "pubmed"]),
              help="Poll only this source (repeatable; default all).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@one_line_errors
def check_cmd(queries: tuple[str, ...], dry_run: bool, no_notify: bool, sources: tuple[str, ...],
              as_json: bool) -> None:
    """Poll every source for the queries now: classify, store, derive events, deliver alerts.

    Exit 0 when everything succeeded, 1 when a source or an alert delivery failed (the rest was still
    processed; undelivered alerts stay pending), 2 on bad configuration.

    Example:

        monitor check                      # every query, every source

        monitor check secretome-cancer --no-notify --json
    """
    bar, update = (None, None) if as_json else _progress_bar()
    with open_app() as app:
        if bar is not None:
            bar.start()
        try:
            report = app.check(queries, sources=sources or ("ctgov", "pubmed"), dry_run=dry_run,
                               notify=not no_notify, progress=update)
        finally:
            if bar is not None:
                bar.stop()
    if as_json:
        print_json({"ok": report.ok, "new": report.new, "changed": report.changed, "results": report.results,
                    "publications": report.publications, "alerts_sent": report.alerts_sent,
                    "alerts_pending": report.alerts_pending, "errors": report.errors, "skipped": report.skipped,
                    "sources": report.rows, "dry_run": dry_run})
    else:
        _print_summary(report, dry_run=dry_run)
    if not report.ok:
        sys.exit(EXIT_FAILED)


def _print_summary(report: Any, *, dry_run: bool) -> None:
    from rich.table import Table

    table = Table(title="monitor check" + (" (dry run: nothing stored)" if dry_run else ""))
    for column in ("source", "query", "status", "studies/papers", "new", "changed", "results", "alerts"):
        table.add_column(column)
    for row in report.rows:
        table.add_row(row["source"], row["query"], row["status"],
                      str(row.get("studies", row.get("papers", "-"))), str(row.get("new", "-")),
                      str(row.get("changed", row.get("linked", "-"))),
                      str(row.get("results", row.get("efficacy", "-"))), str(row.get("alerts", "-")))
    out = console()
    out.print(table)
    out.print(f"new {report.new} · changed {report.changed} · results {report.results} · papers "
              f"{report.publications} · alerts sent {report.alerts_sent} · pending {report.alerts_pending} · "
              f"errors {len(report.errors)}")
    for line in report.skipped:
        out.print(f"skipped {line}", highlight=False)
    for line in report.errors:
        click.echo(f"error: {line}", err=True)
