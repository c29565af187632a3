"""``monitor run``: the scheduler (polls and the weekly digest) until SIGINT / SIGTERM. Imports click only."""

from __future__ import annotations

import click

from monitor.cli.common import one_line_errors, open_app


@click.command("run")
@one_line_errors
def run_cmd() -> None:
    """Poll the registries and send the weekly digest on their schedules until SIGINT or SIGTERM.

    Both polls run once at start-up, then on MONITOR_POLL_CRON (CT.gov, default every 15 minutes: a poll
    that finds CT.gov's dataTimestamp unchanged costs one request), MONITOR_PUBMED_CRON (hourly) and
    MONITOR_DIGEST_CRON (Mondays 08:00), in MONITOR_TIMEZONE. On SIGINT / SIGTERM a poll in progress
    finishes, then the command exits 0. The digest job is left out when MONITOR_SMTP_HOST or
    MONITOR_DIGEST_TO is not set.

    \b
    Example:
        MONITOR_DATABASE_URL=sqlite:////data/monitor.db MONITOR_TIMEZONE=Europe/Paris monitor run
    """
    import logging

    from monitor.scheduler import build_scheduler, run_scheduler

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("monitor").setLevel(logging.INFO)
    log = logging.getLogger("monitor.run")
    with open_app() as app:
        settings = app.settings
        send_digest = app.digest if settings.smtp_host and settings.digest_recipients else None
        scheduler = build_scheduler(check_ctgov=lambda: app.check(sources=("ctgov",)),
                                    check_pubmed=lambda: app.check(sources=("pubmed",)),
                                    send_digest=send_digest, settings=settings)
        if send_digest is None:
            log.warning("weekly digest disabled: set MONITOR_SMTP_HOST and MONITOR_DIGEST_TO to send it")
        run_scheduler(scheduler)
