"""``monitor digest``: build the weekly digest and send it, or preview it. Imports click only at module level."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from monitor.cli.common import EXIT_FAILED, one_line_errors, open_app

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


@click.command("digest")
@click.option("--since", type=click.DateTime(formats=DATE_FORMATS), metavar="DATE",
              help="Start of the period (YYYY-MM-DD or YYYY-MM-DDTHH:MM, in MONITOR_TIMEZONE). Default: where the "
                   "last sent digest stopped (or an unsent one started), 7 days ago for the first.")
@click.option("--preview", is_flag=False, flag_value="-", default=None, metavar="[FILE]",
              type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the HTML to FILE (stdout without one); send nothing and record nothing.")
@one_line_errors
def digest_cmd(since: datetime | None, preview: str | None) -> None:
    """Build the weekly digest of new trials, results, papers and changes, and e-mail it.

    The period runs from the end of the last sent digest to now. A failed send exits 1 and stays
    pending: the next `monitor digest` (or the scheduled one) covers the whole unsent period.
    Exit 2 when no SMTP server (MONITOR_SMTP_HOST) or no recipients (MONITOR_DIGEST_TO) are set.

    \b
    Example:
        monitor digest --preview digest.html   # look at it in a browser first
        monitor digest                         # send it: everything since the last digest
        monitor digest --since 2026-01-05      # send everything since that Monday
    """
    with open_app() as app:
        start = _localize(since, app.settings.timezone) if since else None
        report: Any = app.digest(since=start, preview=preview is not None)
    if preview is not None:
        _write(report.html or "", preview)
        click.echo(report.summary(), err=True)
        return
    if not report.sent:
        click.echo(f"Error: {report.summary()}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(report.summary())


def _localize(moment: datetime, timezone: str) -> datetime:
    """A naive --since value is wall-clock time in the configured timezone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from monitor.errors import ConfigError

    try:
        return moment.replace(tzinfo=ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"setting MONITOR_TIMEZONE is invalid: unknown timezone {timezone!r}") from None


def _write(html: str, target: str) -> None:
    if target == "-":
        click.echo(html, nl=False)
        return
    try:
        with open(target, "w", encoding="utf-8") as out:
            out.write(html)
    except OSError as exc:
        raise click.ClickException(f"cannot write the preview to {target}: {exc.strerror}") from None
    click.echo(f"preview written to {target}", err=True)
