"""Composition root: ``build_app(settings)`` builds the store, sources, classifier and notifiers.

The only place clients are built; only ``cli`` and ``scheduler`` callers use it. Heavy imports happen here, lazily,
so ``monitor --help`` stays fast.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.check import Classifier, Progress
from monitor.config import Settings
from monitor.domain import CheckReport, Query
from monitor.queries import load_queries
from monitor.store.db import MIGRATIONS_HEAD, Store, make_engine

log = logging.getLogger("monitor")


def utcnow() -> datetime:
    return datetime.now(UTC)


def build_classifier(settings: Settings) -> Classifier:
    from monitor.classify import (
        CLASSIFIER_VERSION,
        apply_overrides,
        classify_outcome,
        classify_record,
        load_overrides,
    )

    return Classifier(
        classify=classify_record, version=CLASSIFIER_VERSION, overrides=load_overrides(settings.overrides_file),
        apply_override=apply_overrides,
        outcome_kind=lambda m, d: str(classify_outcome(m, d)),
    )


@dataclass
class App:
    """Everything a command needs, built once from settings."""

    settings: Settings
    store: Store
    _clients: list[Any] = field(default_factory=list)
    _notifier: Any = None
    _notifier_built: bool = False

    # collaborators -------------------------------------------------------------------------------------
    def queries(self, names: Sequence[str] = ()) -> list[Query]:
        return load_queries(self.settings.queries_dir, tuple(names))

    def _client(self, base_url: str) -> Any:
        from monitor.sources.http import make_client

        client = make_client(base_url, user_agent=self.settings.user_agent, timeout=self.settings.http_timeout)
        self._clients.append(client)
        return client

    def ctgov(self) -> Any:
        from monitor.sources.ctgov import CtgovSource

        s = self.settings
        return CtgovSource(self._client(s.ctgov_url), page_size=s.ctgov_page_size, min_interval=s.ctgov_min_interval,
                           retries=s.http_retries, backoff=s.http_backoff)

    def pubmed(self) -> Any:
        from monitor.sources.pubmed import PubmedSource

        s = self.settings
        key = s.ncbi_api_key.get_secret_value() if s.ncbi_api_key else None
        return PubmedSource(self._client(s.eutils_url), tool=s.ncbi_tool, email=s.ncbi_email, api_key=key,
                            retries=s.http_retries, backoff=s.http_backoff)

    def read_feed(self, url: str) -> list[str]:
        from monitor.sources.rss import read_feed

        if not hasattr(self, "_feed_client"):
            self._feed_client = self._client("http://localhost/")
        return read_feed(self._feed_client, url, retries=self.settings.http_retries, backoff=self.settings.http_backoff)

    @property
    def notifier(self) -> Any:
        """The Slack notifier, or None when Slack is not configured."""
        if not self._notifier_built:
            from monitor.notify.slack import make_slack_notifier

            s = self.settings
            self._notifier = make_slack_notifier(
                token=s.slack_token.get_secret_value() if s.slack_token else None, channel=s.slack_channel,
                api_url=s.slack_api_url, webhook_url=s.slack_webhook_url.get_secret_value()
                if s.slack_webhook_url else None, retries=s.slack_retries)
            self._notifier_built = True
        return self._notifier

    # use cases -----------------------------------------------------------------------------------------
    def check(self, query_names: Sequence[str] = (), *, sources: Sequence[str] = ("ctgov", "pubmed"),
              dry_run: bool = False, notify: bool = True, progress: Progress | None = None,
              now: datetime | None = None) -> CheckReport:
        """``monitor check``: poll, classify, store, derive events, then deliver pending alerts."""
        from monitor.check import reclassify, run_ctgov

        queries = self.queries(query_names)
        classifier = build_classifier(self.settings)
        now = now or utcnow()
        report = CheckReport()
        self.store.dry_run = dry_run
        with self.store.lock(timeout=self.settings.lock_timeout):
            if "ctgov" in sources:
                from monitor.sources.ctgov_parse import parse_study

                reclassify(self.store, queries, classifier=classifier, parse=parse_study, now=now)
                run_ctgov(queries, self.ctgov(), self.store, classifier=classifier, now=now,
                          overlap_days=self.settings.ctgov_overlap_days, failing_after=self.settings.failing_after,
                          report=report, progress=progress)
            if "pubmed" in sources:
                self._check_pubmed(queries, now=now, report=report)
            if notify and not dry_run:
                self._deliver(report)
            else:
                report.alerts_pending = len(self.store.alerts(pending_only=True)) if not dry_run else \
                    report.alerts_pending
        return report

    def _check_pubmed(self, queries: list[Query], *, now: datetime, report: CheckReport) -> None:
        from monitor.classify import classify_publication
        from monitor.papers import run_pubmed

        s = self.settings
        run_pubmed(queries, self.pubmed(), self.store, classify_publication=classify_publication,
                   read_feed=self.read_feed, now=now, overlap_days=s.pubmed_overlap_days,
                   backfill_days=s.pubmed_backfill_days, failing_after=s.failing_after, report=report)

    def _deliver(self, report: CheckReport) -> None:
        pending = self.store.alerts(pending_only=True)
        if not pending:
            report.alerts_pending = 0
            return
        if self.notifier is None:
            report.alerts_pending = len(pending)
            return
        from monitor.deliver import deliver_alerts

        delivery = deliver_alerts(self.store, self.notifier, now=utcnow)
        report.alerts_sent += delivery.sent
        report.alerts_pending = delivery.pending
        report.errors.extend(f"slack: {e}" for e in delivery.errors)

    def digest(self, *, now: datetime | None = None, since: datetime | None = None, preview: bool = False) -> Any:
        from monitor.digest import send_digest
        from monitor.notify.email import make_email_notifier

        s = self.settings
        def send() -> Any:
            return send_digest(self.store, None if preview else make_email_notifier(s), now=now or utcnow(),
                               since=since, preview=preview, sender=s.digest_from, recipients=s.digest_recipients,
                               timezone=s.timezone)

        if preview:  # writes nothing: no need to wait for a running poll
            return send()
        with self.store.lock(timeout=max(s.lock_timeout, 60.0)):
            return send()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self.store.engine.dispose()


def store_head() -> str:
    return MIGRATIONS_HEAD


def build_app(settings: Settings, *, migrate: bool = True) -> App:
    """Build the app; a fresh database is migrated automatically (``monitor db upgrade`` does it explicitly)."""
    store = Store(make_engine(settings.database_url), url=settings.database_url)
    if migrate and store.current_revision() != store_head():
        with store.lock(timeout=max(settings.lock_timeout, 60.0)):
            store.ensure_schema()
    return App(settings=settings, store=store)
