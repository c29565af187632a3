"""The write side of the store: ``Tx``, the batched writes of one unit of work (``Store.transaction()``).

Imports domain, store.models and store.convert only. Trials, changes, events and outbox alerts are written as
multi-row statements; events and alerts whose key exists already are skipped, so a rerun writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from monitor.domain import Change, Event, NewAlert, Publication, SyncState, TrialRecord
from monitor.store.convert import record_from_mapping, record_values, table_of
from monitor.store.models import (
    AlertRow,
    ChangeRow,
    EventRow,
    PublicationRow,
    SyncStateRow,
    TrialPublicationRow,
    TrialRow,
)


class Tx:
    """Writes of one unit of work; created by ``Store.transaction()``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # trials --------------------------------------------------------------------------------------------
    def trial_records(self, nct_ids: Iterable[str]) -> dict[str, TrialRecord]:
        """The stored trials among ``nct_ids`` (one query per 500 ids, raw record not loaded)."""
        ids = list(dict.fromkeys(nct_ids))
        columns = [c for c in table_of(TrialRow).c if c.name != "raw"]
        out: dict[str, TrialRecord] = {}
        for start in range(0, len(ids), 500):
            stmt = select(*columns).where(table_of(TrialRow).c.nct_id.in_(ids[start : start + 500]))
            for row in self.session.execute(stmt).mappings():
                out[row["nct_id"]] = record_from_mapping(dict(row))
        return out

    def save_records(self, records: Sequence[tuple[TrialRecord, str | None]], *, existing: set[str]) -> None:
        """Insert or update trials in two statements; ``existing`` names those already stored."""
        table = table_of(TrialRow)
        inserts, updates = [], []
        for record, raw in records:
            values = record_values(record)
            if record.nct_id in existing:
                if raw is not None:
                    values["raw"] = raw
                updates.append(values)
            else:
                inserts.append({**values, "raw": raw or "{}"})
        if inserts:
            self.session.execute(table.insert(), inserts)
        for with_raw in (True, False):
            batch = [{**v, "b_nct_id": v["nct_id"]} for v in updates if ("raw" in v) is with_raw]
            if batch:
                names = [k for k in batch[0] if k not in ("nct_id", "b_nct_id", "first_seen_at")]
                stmt = (
                    table.update()
                    .where(table.c.nct_id == bindparam("b_nct_id"))
                    .values({n: bindparam(n) for n in names})
                )
                self.session.execute(stmt, batch)

    def add_changes(self, changes: Sequence[Change]) -> None:
        if changes:
            self.session.execute(
                table_of(ChangeRow).insert(),
                [
                    {"nct_id": c.nct_id, "field": c.field, "old": c.old, "new": c.new, "seen_at": c.seen_at}
                    for c in changes
                ],
            )

    def add_events(self, events: Sequence[Event], *, baseline: bool = False) -> list[Event]:
        """Insert events whose key is new; returns those inserted (the others were recorded before)."""
        if not events:
            return []
        self.session.flush()
        existing = self._existing(table_of(EventRow), [e.key for e in events])
        inserted = []
        for e in events:
            if e.key not in existing:
                existing.add(e.key)
                inserted.append(e)
        if inserted:
            self.session.execute(
                table_of(EventRow).insert(),
                [
                    {
                        "key": e.key,
                        "kind": e.kind.value,
                        "nct_id": e.nct_id,
                        "query": e.query,
                        "baseline": baseline,
                        "payload": dict(e.payload),
                        "created_at": e.created_at,
                    }
                    for e in inserted
                ],
            )
        return inserted

    def _existing(self, table: Any, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            found.update(self.session.scalars(select(table.c.key).where(table.c.key.in_(keys[start : start + 500]))))
        return found

    def add_alerts(self, alerts: Sequence[NewAlert]) -> int:
        """Queue alerts in the outbox (same transaction as their events); returns how many were new (an alert whose
        key exists already is skipped)."""
        if not alerts:
            return 0
        self.session.flush()
        existing = self._existing(table_of(AlertRow), [a.key for a in alerts])
        rows = []
        for a in alerts:
            if a.key in existing:
                continue
            existing.add(a.key)
            rows.append(
                {
                    "key": a.key,
                    "nct_id": a.nct_id,
                    "query": a.query,
                    "event_keys": [e.key for e in a.events],
                    "trial": dict(a.trial),
                    "baseline_summary": a.baseline_summary,
                    "status": "pending",
                    "attempts": 0,
                    "created_at": a.created_at,
                }
            )
        if rows:
            self.session.execute(table_of(AlertRow).insert(), rows)
        return len(rows)

    # publications ---------------------------------------------------------------------------------------
    def save_publication(
        self, pub: Publication, *, efficacy: bool, evidence: Sequence[Mapping[str, str]], seen_at: datetime
    ) -> None:
        row = self.session.get(PublicationRow, pub.pmid)
        values: dict[str, Any] = dict(
            title=pub.title,
            abstract=pub.abstract,
            journal=pub.journal,
            published_on=pub.published_on,
            doi=pub.doi,
            pmc_id=pub.pmc_id,
            publication_types=list(pub.publication_types),
            databank_nct_ids=list(pub.databank_nct_ids),
            text_nct_ids=list(pub.text_nct_ids),
            is_book=pub.is_book,
            efficacy=efficacy,
            efficacy_evidence=[dict(e) for e in evidence],
        )
        if row is None:
            self.session.add(PublicationRow(pmid=pub.pmid, first_seen_at=seen_at, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)

    def link(self, nct_id: str, pmid: str, how: str, *, at: datetime) -> bool:
        """Record that a paper belongs to a trial; False when this exact link exists already."""
        self.session.flush()
        found = self.session.scalar(
            select(col(TrialPublicationRow.id)).where(
                col(TrialPublicationRow.nct_id) == nct_id,
                col(TrialPublicationRow.pmid) == pmid,
                col(TrialPublicationRow.how) == how,
            )
        )
        if found is not None:
            return False
        self.session.add(TrialPublicationRow(nct_id=nct_id, pmid=pmid, how=how, linked_at=at))
        return True

    # sync state -----------------------------------------------------------------------------------------
    def save_sync(self, state: SyncState, *, attempted_at: datetime) -> None:
        row = self.session.get(SyncStateRow, (state.source, state.query))
        if row is None:
            row = SyncStateRow(source=state.source, query=state.query)
        row.watermark = state.watermark
        row.data_timestamp = state.data_timestamp
        row.last_success_at = state.last_success_at
        row.last_attempt_at = attempted_at
        row.consecutive_failures = state.consecutive_failures
        row.failing = state.failing
        row.last_error = state.last_error
        self.session.add(row)
