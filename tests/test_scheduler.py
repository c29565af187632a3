"""The scheduler: job table, triggers and fire times computed from them (never waited for), the one-line job log,
and real processes (a tiny script, then ``monitor run``) stopped with SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.triggers.cron import CronTrigger

from monitor.config import load_settings
from monitor.domain import CheckReport
from monitor.errors import ConfigError, StoreError
from monitor.scheduler import JobLogger, build_scheduler, describe_result, make_trigger, next_runs
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[1]
PARIS = ZoneInfo("Europe/Paris")
WEDNESDAY_NOON = datetime(2026, 1, 7, 12, 3, tzinfo=PARIS)


def noop() -> None:
    return None


def scheduler_for(now: datetime = WEDNESDAY_NOON, digest=noop, **settings):
    return build_scheduler(check_ctgov=noop, check_pubmed=noop, send_digest=digest,
                           settings=load_settings(timezone="Europe/Paris", **settings), now=now)


def fire_times(trigger, start: datetime, n: int) -> list[datetime]:
    times, previous, now = [], None, start
    for _ in range(n):
        nxt = trigger.get_next_fire_time(previous, now)
        times.append(nxt)
        previous, now = nxt, nxt
    return times


def test_job_table():
    scheduler = scheduler_for()
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert sorted(jobs) == ["ctgov", "digest", "pubmed"]
    for job in jobs.values():
        assert (job.max_instances, job.coalesce) == (1, True)
        assert isinstance(job.trigger, CronTrigger) and job.trigger.timezone == PARIS
    assert {i: j.misfire_grace_time for i, j in jobs.items()} == {"ctgov": 600, "pubmed": 1800, "digest": 43200}
    # the polls run at start-up; the digest waits for its schedule
    assert jobs["ctgov"].next_run_time == WEDNESDAY_NOON and jobs["pubmed"].next_run_time == WEDNESDAY_NOON
    assert not hasattr(jobs["digest"], "next_run_time") or jobs["digest"].next_run_time != WEDNESDAY_NOON
    assert scheduler.timezone == PARIS


def test_default_schedules_fire_every_15_minutes_hourly_and_monday_8am_local():
    scheduler = scheduler_for()
    nxt = next_runs(scheduler, now=WEDNESDAY_NOON)
    assert nxt["ctgov"] == datetime(2026, 1, 7, 12, 15, tzinfo=PARIS)
    assert nxt["pubmed"] == datetime(2026, 1, 7, 12, 7, tzinfo=PARIS)
    assert nxt["digest"] == datetime(2026, 1, 12, 8, 0, tzinfo=PARIS)
    assert nxt["digest"].strftime("%A %H:%M %Z") == "Monday 08:00 CET"
    jobs = {job.id: job for job in scheduler.get_jobs()}
    polls = fire_times(jobs["ctgov"].trigger, WEDNESDAY_NOON, 5)
    assert {b - a for a, b in zip(polls, polls[1:], strict=False)} == {timedelta(minutes=15)}
    hourly = fire_times(jobs["pubmed"].trigger, WEDNESDAY_NOON, 3)
    assert {b - a for a, b in zip(hourly, hourly[1:], strict=False)} == {timedelta(hours=1)}
    weekly = fire_times(jobs["digest"].trigger, WEDNESDAY_NOON, 3)
    assert [t.strftime("%a %d %H:%M") for t in weekly] == ["Mon 12 08:00", "Mon 19 08:00", "Mon 26 08:00"]


def test_digest_stays_at_8am_local_across_daylight_saving():
    trigger = make_trigger("0 8 * * mon", setting="digest_cron", timezone=PARIS)
    after_dst = trigger.get_next_fire_time(None, datetime(2026, 3, 25, tzinfo=PARIS))
    assert after_dst == datetime(2026, 3, 30, 8, 0, tzinfo=PARIS) and after_dst.utcoffset() == timedelta(hours=2)


def test_day_of_week_numbers_are_monday_based_in_from_crontab():
    """The documented APScheduler 3.x pitfall: crontab 0 (Sunday) is Monday here; day names are safe."""
    wednesday = datetime(2026, 1, 7, 12, 0, tzinfo=PARIS)

    def weekday(cron: str) -> str:
        return make_trigger(cron, setting="digest_cron", timezone=PARIS).get_next_fire_time(None, wednesday) \
            .strftime("%a")

    assert (weekday("0 0 * * 0"), weekday("0 0 * * 1"), weekday("0 0 * * sun"), weekday("0 0 * * mon")) == (
        "Mon", "Tue", "Sun", "Mon")


@pytest.mark.parametrize(("setting", "value"), [("poll_cron", "every 15 minutes"), ("pubmed_cron", "7 * * *"),
                                                ("digest_cron", "0 25 * * mon")], ids=["words", "4-fields", "hour"])
def test_bad_cron_is_a_config_error_naming_the_setting(setting, value):
    with pytest.raises(ConfigError, match=f"MONITOR_{setting.upper()} is invalid"):
        scheduler_for(**{setting: value})


def test_bad_timezone_is_a_config_error():
    with pytest.raises(ConfigError, match="MONITOR_TIMEZONE"):
        build_scheduler(check_ctgov=noop, check_pubmed=noop, send_digest=noop,
                        settings=load_settings(timezone="Europe/Atlantis"))


def test_no_digest_job_without_a_digest_callable():
    assert [job.id for job in scheduler_for(digest=None).get_jobs()] == ["ctgov", "pubmed"]


def test_a_digest_that_was_not_sent_is_retried_with_a_doubling_delay():
    class Report:
        def __init__(self, ok: bool) -> None:
            self.ok = ok

    outcomes = [Report(False), Report(False), Report(True)]
    scheduler = scheduler_for(digest=lambda: outcomes.pop(0))
    digest = scheduler.get_job("digest")
    assert scheduler.get_job("digest-retry") is None
    delays = []
    for _ in range(2):
        before = datetime.now(PARIS)
        digest.func()
        retry = scheduler.get_job("digest-retry")
        assert retry is not None and retry.func is digest.func
        delays.append(retry.trigger.run_date - before)
        scheduler.remove_job("digest-retry")  # (not started: replace_existing does not apply to pending jobs)
    assert timedelta(minutes=15) <= delays[0] < timedelta(minutes=16)
    assert timedelta(minutes=30) <= delays[1] < timedelta(minutes=31)
    digest.func()  # sent: no further retry
    assert scheduler.get_job("digest-retry") is None and digest.func.failures == 0


def test_job_logger_writes_one_line_per_outcome(caplog):
    caplog.set_level(logging.INFO, logger="monitor.scheduler")
    logger, at = JobLogger(), WEDNESDAY_NOON
    report = CheckReport(new=2, changed=1)
    logger(JobExecutionEvent(EVENT_JOB_EXECUTED, "ctgov", "default", at, retval=report))
    report_failed = CheckReport(errors=["ctgov/secretome-cancer: HTTP 503 after 4 retries"])
    logger(JobExecutionEvent(EVENT_JOB_EXECUTED, "pubmed", "default", at, retval=report_failed))
    logger(JobExecutionEvent(EVENT_JOB_ERROR, "digest", "default", at, exception=StoreError("store locked\nby pid 7")))
    logger(JobExecutionEvent(EVENT_JOB_MISSED, "digest", "default", at))
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[0] == ("INFO", "job ctgov ok: new=2, changed=1, results=0, publications=0, alerts_sent=0, "
                                "alerts_pending=0")
    assert lines[1][0] == "WARNING" and lines[1][1].startswith("job pubmed finished with errors:")
    assert "errors=1, first: ctgov/secretome-cancer: HTTP 503" in lines[1][1]
    assert lines[2] == ("ERROR", "job digest failed: store locked by pid 7")
    assert lines[3][0] == "WARNING" and "missed" in lines[3][1]
    assert all("\n" not in message for _, message in lines)


def test_describe_result_uses_a_summary_method():
    class Report:
        ok = True

        def summary(self) -> str:
            return "digest sent to 2 recipients"

    assert describe_result(Report()) == "digest sent to 2 recipients" and describe_result(None) == "done"


# --- real processes -----------------------------------------------------------------------------------------------
SCRIPT = """
import logging, sys, time
from pathlib import Path
from monitor.config import load_settings
from monitor.scheduler import build_scheduler, run_scheduler

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
out = Path(sys.argv[1])

def write(text):
    with out.open("a") as f:
        f.write(text + "\\n")

def slow_poll():
    write("ctgov started")
    time.sleep(float(sys.argv[2]))
    write("ctgov finished")
    return "polled"

scheduler = build_scheduler(check_ctgov=slow_poll, check_pubmed=lambda: write("pubmed ran"),
                            send_digest=lambda: write("digest ran"), settings=load_settings())
run_scheduler(scheduler)
write("returned")
"""


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    full_env.update(env, PYTHONPATH=str(ROOT))
    return subprocess.Popen(args, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("job_seconds", [0.0, 1.5], ids=["idle", "job-running"])
def test_run_scheduler_stops_cleanly_on_sigterm(tmp_path, job_seconds):
    script, out = tmp_path / "sched.py", tmp_path / "runs.txt"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {"MONITOR_CONFIG": str(tmp_path / "none.toml"), "MONITOR_TIMEZONE": "UTC"}
    proc = start([sys.executable, str(script), str(out), str(job_seconds)], env, tmp_path)
    try:
        if job_seconds:
            wait_for(lambda: "ctgov started" in lines(out))
        else:
            wait_for(lambda: {"ctgov finished", "pubmed ran"} <= set(lines(out)))
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0, stderr
    assert lines(out)[-1] == "returned"
    assert "ctgov finished" in lines(out)  # a poll in progress finished before the process exited
    assert "digest ran" not in lines(out)
    assert "received SIGTERM: stopping" in stderr
    assert "Traceback" not in stderr
    if not job_seconds:
        assert "INFO monitor.scheduler: job ctgov ok: polled" in stderr
        assert "INFO monitor.scheduler: job pubmed ok: done" in stderr


def test_monitor_run_polls_at_start_and_exits_0_on_sigterm(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    env = {"MONITOR_CONFIG": str(tmp_path / "none.toml"), "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
           "MONITOR_QUERIES_DIR": str(ROOT / "queries"), "MONITOR_CTGOV_URL": f"{closed}/api/v2",
           "MONITOR_EUTILS_URL": f"{closed}/eutils", "MONITOR_HTTP_RETRIES": "0", "MONITOR_TIMEZONE": "UTC"}
    proc = start([sys.executable, "-m", "monitor", "run"], env, tmp_path)
    stderr_lines: list[str] = []
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 20
        while not any("job pubmed" in line for line in stderr_lines) and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            stderr_lines.append(line)
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=10)
    finally:
        proc.kill() if proc.poll() is None else None
    stderr = "".join(stderr_lines) + rest
    assert proc.returncode == 0, stderr
    assert "weekly digest disabled" in stderr
    assert "monitor.scheduler: job ctgov finished with errors" in stderr
    assert "monitor.scheduler: job pubmed finished with errors" in stderr
    assert "received SIGTERM: stopping" in stderr and "Traceback" not in stderr
