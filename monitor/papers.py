"""Use case ``run_pubmed``: find papers of each query and of its tracked trials, link them, report efficacy.

Collaborators come in as arguments (source, store, feed reader, publication classifier). Papers are linked to a
trial by PubMed's DataBankList, by a CT.gov reference (RESULT or DERIVED), or by the NCT id in the title or
abstract. A paper that reports efficacy of a linked trial records ``efficacy:<nct_id>``: the same key as CT.gov
results, so a trial reports efficacy once, whichever source sees it first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from monitor.alerting import queue_alert, record_failure, record_success, should_alert
from monitor.changes import efficacy_event
from monitor.domain import CheckReport, Classification, Event, EventKind, LinkHow, Publication, Query, SyncState
from monitor.errors import MonitorError, SourceError
from monitor.store.db import Store
from monitor.store.writes import Tx

log = logging.getLogger("monitor.papers")
LINKING_REFERENCE_TYPES = ("RESULT", "DERIVED")
PublicationClassifier = Callable[[str, str, Sequence[str]], tuple[bool, tuple[Any, ...]]]


class PubmedLike(Protocol):
    kind: str

    def search_window(self, term: str, *, mindate: date, maxdate: date) -> list[str]: ...

    def search_trials(self, nct_ids: Sequence[str], *, mindate: date | None = None) -> list[str]: ...

    def fetch(self, pmids: Sequence[str]) -> Iterator[tuple[list[Publication], list[str]]]: ...


@dataclass
class PaperOutcome:
    found: int = 0
    fetched: int = 0
    linked: int = 0
    efficacy: int = 0
    alerts: int = 0


def find_links(
    pub: Publication, tracked: set[str], references: Mapping[str, list[tuple[str, str]]]
) -> list[tuple[str, str]]:
    """(nct_id, how) for every tracked trial the paper belongs to."""
    links = [(n, LinkHow.DATABANK.value) for n in pub.databank_nct_ids if n in tracked]
    links += [(n, LinkHow.TEXT_MENTION.value) for n in pub.text_nct_ids if n in tracked]
    links += [
        (n, LinkHow.REGISTRY_REFERENCE.value)
        for n, kind in references.get(pub.pmid, [])
        if n in tracked and kind in LINKING_REFERENCE_TYPES
    ]
    return list(dict.fromkeys(links))


def process_publication(
    tx: Tx,
    pub: Publication,
    *,
    efficacy: bool,
    evidence: Sequence[str],
    query: Query,
    tracked: set[str],
    references: Mapping[str, list[tuple[str, str]]],
    baseline: bool,
    now: datetime,
    outcome: PaperOutcome,
) -> None:
    """Link one paper to its trials, recording publication_linked and (first time) efficacy_reported."""
    by_trial: dict[str, list[Event]] = {}
    for nct_id, how in find_links(pub, tracked, references):
        if not tx.link(nct_id, pub.pmid, how, at=now):
            continue
        paper = {
            "pmid": pub.pmid,
            "title": pub.title,
            "url": pub.url,
            "how": how,
            "journal": pub.journal,
            "published_on": pub.published_on,
        }
        events = by_trial.setdefault(nct_id, [])
        events.append(
            Event(
                kind=EventKind.PUBLICATION_LINKED,
                key=f"publication_linked:{nct_id}:{pub.pmid}",
                created_at=now,
                nct_id=nct_id,
                query=query.name,
                payload=paper,
            )
        )
        if efficacy:
            events.append(
                efficacy_event(
                    nct_id, now=now, query=query.name, payload={"source": "pubmed", **paper, "evidence": list(evidence)}
                )
            )
    records = tx.trial_records(by_trial)
    for nct_id, events in by_trial.items():
        inserted = tx.add_events(events, baseline=baseline)
        outcome.linked += sum(e.kind is EventKind.PUBLICATION_LINKED for e in inserted)
        outcome.efficacy += sum(e.kind is EventKind.EFFICACY_REPORTED for e in inserted)
        record = records.get(nct_id)
        if baseline or record is None:
            continue
        classification = Classification.from_json(record.classification)
        alertable = [e for e in inserted if should_alert(e, query, classification)]
        card = record.card(({"pmid": pub.pmid, "title": pub.title, "url": pub.url},))
        outcome.alerts += queue_alert(tx, alertable, query=query, card=card, nct_id=nct_id, now=now)


def _evidence_words(evidence: Iterable[Any]) -> list[str]:
    return [getattr(e, "words", str(e)) for e in evidence]


def poll_pubmed(
    source: PubmedLike,
    store: Store,
    query: Query,
    *,
    classify_publication: PublicationClassifier,
    read_feed: Callable[[str], list[str]] | None,
    now: datetime,
    overlap_days: int,
    backfill_days: int,
) -> tuple[PaperOutcome, SyncState]:
    state = store.get_sync(source.kind, query.name)
    baseline = state.last_success_at is None
    today = now.date()
    mindate = (
        state.watermark - timedelta(days=overlap_days) if state.watermark else today - timedelta(days=backfill_days)
    )
    pmids: list[str] = []
    if query.pubmed_term:
        pmids += source.search_window(query.pubmed_term, mindate=mindate, maxdate=today)
    for url in query.rss_urls:
        if read_feed is not None:
            pmids += read_feed(url)
    tracked = set(store.tracked_nct_ids(query.name))
    pmids += source.search_trials(sorted(tracked), mindate=None if baseline else mindate)
    references = store.reference_pmids()
    pmids += [
        p for p, refs in references.items() if any(n in tracked and kind in LINKING_REFERENCE_TYPES for n, kind in refs)
    ]
    unique = list(dict.fromkeys(pmids))
    known = store.known_pmids(unique)
    outcome = PaperOutcome(found=len(unique))
    errors: list[str] = []
    for batch, batch_errors in source.fetch([p for p in unique if p not in known]):
        errors += batch_errors
        with store.transaction() as tx:
            for pub in batch:
                efficacy, evidence = classify_publication(pub.title, pub.abstract, pub.publication_types)
                words = _evidence_words(evidence)
                tx.save_publication(pub, efficacy=efficacy, evidence=[{"words": w} for w in words], seen_at=now)
                outcome.fetched += 1
                process_publication(
                    tx,
                    pub,
                    efficacy=efficacy,
                    evidence=words,
                    query=query,
                    tracked=tracked,
                    references=references,
                    baseline=baseline,
                    now=now,
                    outcome=outcome,
                )
    relink_known(store, query, tracked=tracked, references=references, baseline=baseline, now=now, outcome=outcome)
    if errors:
        raise SourceError(f"{len(errors)} PubMed record(s) could not be read, first: {errors[0]}")
    done = SyncState(source=source.kind, query=query.name, watermark=today, last_success_at=now)
    return outcome, done


def relink_known(
    store: Store,
    query: Query,
    *,
    tracked: set[str],
    references: Mapping[str, list[tuple[str, str]]],
    baseline: bool,
    now: datetime,
    outcome: PaperOutcome,
) -> None:
    """Papers stored before their trial was tracked (or before CT.gov listed them) get their links now."""
    linked = store.links()
    wanted: dict[str, set[str]] = {}  # pmid -> the tracked trials it names (what find_links would return)
    for pmid, ncts in store.publication_mentions():
        wanted.setdefault(pmid, set()).update(n for n in ncts if n in tracked)
    for pmid, refs in references.items():
        wanted.setdefault(pmid, set()).update(n for n, kind in refs if n in tracked and kind in LINKING_REFERENCE_TYPES)
    for pmid in sorted(p for p, ncts in wanted.items() if any((n, p) not in linked for n in ncts)):
        found = store.publication(pmid)  # read only the papers that still miss a link
        if found is None:
            continue
        pub, efficacy, evidence = found
        with store.transaction() as tx:
            process_publication(
                tx,
                pub,
                efficacy=efficacy,
                evidence=[e.get("words", "") for e in evidence],
                query=query,
                tracked=tracked,
                references=references,
                baseline=baseline,
                now=now,
                outcome=outcome,
            )


def run_pubmed(
    queries: Sequence[Query],
    source: PubmedLike,
    store: Store,
    *,
    classify_publication: PublicationClassifier,
    read_feed: Callable[[str], list[str]] | None,
    now: datetime,
    overlap_days: int,
    backfill_days: int,
    failing_after: int,
    report: CheckReport,
) -> None:
    for query in queries:
        if not (query.pubmed_term or query.rss_urls or query.ctgov_terms):
            continue
        previous = store.get_sync(source.kind, query.name)
        try:
            outcome, done = poll_pubmed(
                source,
                store,
                query,
                classify_publication=classify_publication,
                read_feed=read_feed,
                now=now,
                overlap_days=overlap_days,
                backfill_days=backfill_days,
            )
        except MonitorError as exc:
            message = f"pubmed/{query.name}: {exc}"
            log.warning(message)
            report.errors.append(message)
            report.alerts_pending += record_failure(
                store, previous, query, str(exc), now=now, failing_after=failing_after
            )
            report.rows.append({"source": source.kind, "query": query.name, "status": "error", "error": str(exc)})
            continue
        report.alerts_pending += record_success(store, previous, done, query, now=now) + outcome.alerts
        report.publications += outcome.fetched
        report.results += outcome.efficacy
        report.rows.append(
            {
                "source": source.kind,
                "query": query.name,
                "status": "baseline" if previous.last_success_at is None else "ok",
                "papers": outcome.fetched,
                "linked": outcome.linked,
                "efficacy": outcome.efficacy,
                "alerts": outcome.alerts,
            }
        )
