"""``monitor run``: APScheduler 3.x jobs for the CT.gov poll, the PubMed poll and the weekly digest.

The only module that imports apscheduler. It registers the callables it is given (the same use cases as the CLI)
and never builds clients itself.

Schedules are crontab strings (``minute hour day month day-of-week``) read in ``settings.timezone``. Pitfall of
APScheduler 3.x: in ``CronTrigger.from_crontab`` day-of-week **0 is Monday**, not Sunday as in crontab(5), and
``1`` is Tuesday. Write day names (``mon``, ``sun``, ``mon-fri``) instead of numbers; the default digest schedule
is ``0 8 * * mon`` (Mondays 08:00).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from monitor.config import zone as load_zone
from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.config import Settings

log = logging.getLogger("monitor.scheduler")
Job = Callable[[], object]


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: its id, the setting holding its crontab, and how late a run may still start."""

    id: str
    name: str
    setting: str
    misfire_grace_time: int  # seconds
    run_at_start: bool


JOB_SPECS = (
    # a poll started more than 10 min late is dropped: the next 15-minute poll is due soon
    JobSpec("ctgov", "ClinicalTrials.gov poll", "poll_cron", 600, True),
    JobSpec("pubmed", "PubMed poll", "pubmed_cron", 1800, True),
    # a digest due while the host was down is still sent within 12 hours
    JobSpec("digest", "weekly digest", "digest_cron", 12 * 3600, False),
)


DIGEST_RETRY_FIRST = timedelta(minutes=15)  # then 30 min, 1 h, 2 h, 4 h, 8 h: about 16 h in all
DIGEST_RETRY_MAX = 6


class DigestRetry:
    """Wraps the digest job: a digest that was not sent (a report with ``ok`` False, or an exception) is tried
    again by a one-off ``digest-retry`` job with a doubling delay, instead of waiting a week for the next
    scheduled digest. Each try covers the whole unsent period (``send_digest`` keeps it pending)."""

    def __init__(self, func: Job) -> None:
        self.func = func
        self.failures = 0
        self.scheduler: BlockingScheduler | None = None

    def __call__(self) -> object:
        try:
            result = self.func()
        except Exception:
            self._retry_later()
            raise
        if getattr(result, "ok", True) is False:
            self._retry_later()
        else:
            self.failures = 0
        return result

    def _retry_later(self) -> None:
        self.failures += 1
        if self.scheduler is None or self.failures > DIGEST_RETRY_MAX:
            log.warning("digest still not sent; the next scheduled digest will cover the whole period")
            self.failures = 0
            return
        when = datetime.now(self.scheduler.timezone) + DIGEST_RETRY_FIRST * 2 ** (self.failures - 1)
        self.scheduler.add_job(self, DateTrigger(run_date=when), id="digest-retry", name="weekly digest (retry)",
                               max_instances=1, coalesce=True, misfire_grace_time=3600, replace_existing=True)
        log.warning("digest not sent; retry %d of %d at %s", self.failures, DIGEST_RETRY_MAX, f"{when:%H:%M %Z}")


def make_trigger(crontab: str, *, setting: str, timezone: ZoneInfo) -> CronTrigger:
    """A CronTrigger from a 5-field crontab; a bad string is a ConfigError naming the setting."""
    try:
        return CronTrigger.from_crontab(crontab, timezone=timezone)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"setting MONITOR_{setting.upper()} is invalid: {crontab!r} ({exc}); expected "
                          "'minute hour day month day-of-week', e.g. '0 8 * * mon'") from None



def build_scheduler(*, check_ctgov: Job, check_pubmed: Job, send_digest: Job | None, settings: Settings,
                    now: datetime | None = None) -> BlockingScheduler:
    """A BlockingScheduler with the three jobs; the polls also run once at start-up (``now``, default now).

    ``send_digest=None`` leaves the digest out (no SMTP server configured); a digest that fails is retried
    (``DigestRetry``). Jobs live in memory (they are re-created at every start, nothing to pickle). One worker
    thread: jobs never overlap, so a PubMed poll waits for a running CT.gov poll instead of competing for the
    store's lock.
    """
    _quiet_apscheduler()
    zone = load_zone(settings.timezone)
    retry = DigestRetry(send_digest) if send_digest is not None else None
    funcs: dict[str, Job | None] = {"ctgov": check_ctgov, "pubmed": check_pubmed, "digest": retry}
    triggers = {spec.id: make_trigger(getattr(settings, spec.setting), setting=spec.setting, timezone=zone)
                for spec in JOB_SPECS}
    scheduler = BlockingScheduler(
        jobstores={"default": MemoryJobStore()}, executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1}, timezone=zone,
    )
    start = (now or datetime.now(zone)).astimezone(zone)
    for spec in JOB_SPECS:
        func = funcs[spec.id]
        if func is None:
            continue
        extra: dict[str, Any] = {"next_run_time": start} if spec.run_at_start else {}
        scheduler.add_job(func, triggers[spec.id], id=spec.id, name=spec.name, max_instances=1, coalesce=True,
                          misfire_grace_time=spec.misfire_grace_time, replace_existing=True, **extra)
    if retry is not None:
        retry.scheduler = scheduler
    scheduler.add_listener(JobLogger(), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def _quiet_apscheduler() -> None:
    """JobLogger reports every run, error and miss in one line; keep only APScheduler's own warnings (e.g. a
    run skipped because the previous one is still going). A level set by the user is left alone."""
    for name, level in (("apscheduler", logging.WARNING), ("apscheduler.executors", logging.CRITICAL)):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(level)


def describe_result(value: object) -> str:
    """A short summary of what a job returned (a CheckReport, a DigestReport, anything)."""
    if value is None:
        return "done"
    summary = getattr(value, "summary", None)
    if callable(summary):
        return " ".join(str(summary()).split())
    fields = ("new", "changed", "results", "publications", "alerts_sent", "alerts_pending")
    parts = [f"{name}={getattr(value, name)}" for name in fields if isinstance(getattr(value, name, None), int)]
    errors = getattr(value, "errors", None) or []
    if errors:
        parts.append(f"errors={len(errors)}, first: {' '.join(str(errors[0]).split())}")
    return ", ".join(parts) if parts else " ".join(str(value).split())[:200]


class JobLogger:
    """Scheduler listener: one log line per job run with its outcome."""

    def __call__(self, event: JobExecutionEvent) -> None:
        job = event.job_id
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s (host busy or asleep); the next run catches up",
                        job, event.scheduled_run_time)
        elif event.exception is not None:
            if isinstance(event.exception, MonitorError):
                log.error("job %s failed: %s", job, " ".join(str(event.exception).split()))
            else:
                log.error("job %s failed: %s: %s\n%s", job, type(event.exception).__name__, event.exception,
                          event.traceback)
        else:
            ok = getattr(event.retval, "ok", True)
            level = logging.INFO if ok is not False else logging.WARNING
            log.log(level, "job %s %s: %s", job, "ok" if ok is not False else "finished with errors",
                    describe_result(event.retval))


def next_runs(scheduler: BlockingScheduler, *, now: datetime) -> dict[str, datetime | None]:
    """When each job fires next after ``now``, computed from its trigger (nothing runs)."""
    return {job.id: job.trigger.get_next_fire_time(None, now) for job in scheduler.get_jobs()}


def run_scheduler(scheduler: BlockingScheduler) -> None:
    """Run until SIGINT or SIGTERM, then ``shutdown(wait=True)``: a job in progress finishes, then we return.

    Must be called from the main thread (signal handlers). A second signal while waiting is only logged.
    """
    stop_requested = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stop_requested
        name = signal.Signals(signum).name
        if scheduler.running:
            stop_requested = True
            log.info("received %s: stopping; a job in progress finishes first", name)
            scheduler.shutdown(wait=True)
        elif stop_requested:
            log.info("received %s again: still waiting for the running job to finish", name)
        else:  # before the scheduler started
            stop_requested = True
            log.info("received %s before the scheduler started: not starting", name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        for job in scheduler.get_jobs():
            log.info("scheduled %s (%s): %s", job.id, job.name, job.trigger)
        if not stop_requested:
            scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("scheduler stopped after %.0f s", time.monotonic() - started)
