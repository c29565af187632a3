"""Alert decisions and source health, shared by the CT.gov (``check``) and PubMed (``papers``) use cases.

Which events of a query go to Slack, the one outbox alert covering a trial's events of one run, the baseline
"now tracking" summary, and the per-source failure count that records source_failing / source_recovered once.
Imports domain, changes and store only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from monitor.changes import short_hash
from monitor.domain import Classification, Event, EventKind, NewAlert, Query, SyncState
from monitor.store.db import Store
from monitor.store.writes import Tx


def should_alert(event: Event, query: Query, classification: Classification | None) -> bool:
    """Whether an event of this query goes to Slack (product.md section 5; per-query kinds)."""
    if event.kind not in query.alert_kinds:
        return False
    if event.kind is EventKind.NEW_TRIAL and query.new_trial_alert_requires_cell_free_cancer:
        return classification is not None and classification.cell_free and classification.cancer
    return True


def alert_key(events: Sequence[Event]) -> str:
    keys = sorted(e.key for e in events)
    joined = "|".join(keys)
    return joined if len(joined) <= 200 else f"{keys[0]}|+{len(keys) - 1}:{short_hash(keys)}"


def new_alert(
    events: Sequence[Event], *, query: Query, card: Mapping[str, Any], nct_id: str | None, now: datetime
) -> NewAlert:
    """The one alert covering a trial's (or a source's) alertable events of one run."""
    return NewAlert(key=alert_key(events), events=events, nct_id=nct_id, query=query.name, trial=card, created_at=now)


def queue_alert(
    tx: Tx, events: Sequence[Event], *, query: Query, card: Mapping[str, Any], nct_id: str | None, now: datetime
) -> int:
    if not events:
        return 0
    return tx.add_alerts([new_alert(events, query=query, card=card, nct_id=nct_id, now=now)])


def queue_baseline_summary(store: Store, query: Query, *, now: datetime) -> int:
    """The one message of a baseline poll: "now tracking N trials, X cell-free"."""
    flags = [(cell_free, cancer) for queries, cell_free, cancer in store.trial_flags() if query.name in queries]
    card = {
        "query": query.name,
        "tracked": len(flags),
        "cell_free": sum(cell_free for cell_free, _ in flags),
        "cell_free_cancer": sum(cell_free and cancer for cell_free, cancer in flags),
    }
    with store.transaction() as tx:
        summary = NewAlert(
            key=f"baseline:{query.name}", events=(), nct_id=None, query=query.name, trial=card, created_at=now,
            baseline_summary=True,
        )
        return tx.add_alerts([summary])


def record_failure(
    store: Store, state: SyncState, query: Query, error: str, *, now: datetime, failing_after: int
) -> int:
    """Count a failed poll; after ``failing_after`` in a row record source_failing (once) and queue its alert."""
    failures = state.consecutive_failures + 1
    failing = state.failing or failures >= failing_after
    new_state = replace(state, consecutive_failures=failures, failing=failing, last_error=error)
    with store.transaction() as tx:
        tx.save_sync(new_state, attempted_at=now)
        if failing and not state.failing:
            payload = {"source": state.source, "query": query.name, "failures": failures, "error": error}
            return _source_event(tx, EventKind.SOURCE_FAILING, payload, query=query, now=now)
    return 0


def record_success(store: Store, previous: SyncState, done: SyncState, query: Query, *, now: datetime) -> int:
    with store.transaction() as tx:
        tx.save_sync(done, attempted_at=now)
        if previous.failing:
            since = previous.last_success_at.isoformat() if previous.last_success_at else "never"
            payload = {
                "source": done.source,
                "query": query.name,
                "failures": previous.consecutive_failures,
                "last_success": since,
            }
            return _source_event(tx, EventKind.SOURCE_RECOVERED, payload, query=query, now=now)
    return 0


def _source_event(tx: Tx, kind: EventKind, payload: dict[str, Any], *, query: Query, now: datetime) -> int:
    """Record a source_failing / source_recovered event and queue its alert; returns the alerts queued."""
    key = f"{kind.value}:{payload['source']}:{query.name}:{now.isoformat()}"
    event = Event(kind=kind, key=key, created_at=now, query=query.name, payload=payload)
    inserted = tx.add_events([event])
    alertable = [e for e in inserted if should_alert(e, query, None)]
    return queue_alert(tx, alertable, query=query, card={}, nct_id=None, now=now)
