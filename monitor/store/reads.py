"""The read side of the store: ``StoreReads``, the queries of ``Store`` (trials, changes, events, alerts,
publications, sync state, digests), each in its own short session. Imports domain, store.models, store.convert.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine, Text, cast, func, or_, select
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import Session, col

from monitor.domain import Alert, Change, Event, EventKind, Publication, SyncState, TrialRecord
from monitor.store.convert import publication_from_row, record_from_row
from monitor.store.models import (
    AlertRow,
    ChangeRow,
    DigestRow,
    EventRow,
    PublicationRow,
    SyncStateRow,
    TrialPublicationRow,
    TrialRow,
)


def _event_from_row(row: EventRow) -> Event:
    return Event(
        kind=EventKind(row.kind),
        key=row.key,
        created_at=row.created_at,
        nct_id=row.nct_id,
        query=row.query,
        payload=dict(row.payload or {}),
    )


def _sync_from_row(row: SyncStateRow) -> SyncState:
    return SyncState(
        source=row.source,
        query=row.query,
        watermark=row.watermark,
        data_timestamp=row.data_timestamp,
        last_success_at=row.last_success_at,
        consecutive_failures=row.consecutive_failures,
        failing=row.failing,
        last_error=row.last_error,
    )


# a trial record never needs the stored registration (~10 KB a trial): leave it out of every record read
_WITHOUT_RAW = defer(typing.cast(QueryableAttribute[str], TrialRow.raw))


class StoreReads:
    """The queries of ``Store`` (which inherits them); every method opens a short read session on ``engine``."""

    engine: Engine

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # sync state -----------------------------------------------------------------------------------------
    def get_sync(self, source: str, query: str) -> SyncState:
        with self._read() as s:
            row = s.get(SyncStateRow, (source, query))
            return _sync_from_row(row) if row else SyncState(source=source, query=query)

    # trials ---------------------------------------------------------------------------------------------
    def trial(self, nct_id: str) -> TrialRecord | None:
        with self._read() as s:
            row = s.get(TrialRow, nct_id.upper(), options=[_WITHOUT_RAW])
            return record_from_row(row) if row else None

    def trial_raw(self, nct_id: str) -> str | None:
        with self._read() as s:
            return s.scalar(select(col(TrialRow.raw)).where(col(TrialRow.nct_id) == nct_id))

    def trials(
        self,
        *,
        cell_free: bool | None = None,
        cancer: bool | None = None,
        product_class: str | None = None,
        phase: str | None = None,
    ) -> list[TrialRecord]:
        stmt = select(TrialRow).options(_WITHOUT_RAW)
        if cell_free is not None:
            stmt = stmt.where(col(TrialRow.cell_free) == cell_free)
        if cancer is not None:
            stmt = stmt.where(col(TrialRow.cancer) == cancer)
        if product_class:
            stmt = stmt.where(col(TrialRow.product_class) == product_class)
        if phase:
            stmt = stmt.where(col(TrialRow.phase) == phase)
        with self._read() as s:
            return [record_from_row(r) for r in s.scalars(stmt.order_by(col(TrialRow.nct_id)))]

    def trial_flags(self) -> list[tuple[list[str], bool, bool]]:
        """(queries, cell_free, cancer) of every trial, without loading states."""
        stmt = select(col(TrialRow.queries), col(TrialRow.cell_free), col(TrialRow.cancer))
        with self._read() as s:
            return [(list(q or []), bool(f), bool(c)) for q, f, c in s.execute(stmt)]

    def tracked_nct_ids(self, query: str | None = None) -> list[str]:
        """Every tracked trial's id, or those tracked by ``query``, without loading the records."""
        stmt = select(col(TrialRow.nct_id), col(TrialRow.queries)).order_by(col(TrialRow.nct_id))
        with self._read() as s:
            return [n for n, queries in s.execute(stmt) if query is None or query in (queries or ())]

    def count_trials(self) -> int:
        with self._read() as s:
            return int(s.scalar(select(func.count()).select_from(TrialRow)) or 0)

    def stale_trials(
        self, classifier_version: str, overridden: Iterable[str], *, batch: int = 500
    ) -> Iterator[list[tuple[TrialRecord, str]]]:
        """Trials whose classification must be recomputed (another classifier version, or overrides set now or
        before: a removed override must be undone too), with their stored records, ``batch`` at a time so that a
        new classifier version never loads the whole store."""
        ids = list(overridden)
        stale = select(col(TrialRow.nct_id)).where(
            or_(
                col(TrialRow.classifier_version) != classifier_version,
                col(TrialRow.nct_id).in_(ids),
                cast(col(TrialRow.override), Text) != "{}",
            )
        )
        with self._read() as s:
            found = list(s.scalars(stale.order_by(col(TrialRow.nct_id))))
        for start in range(0, len(found), batch):
            chunk = found[start : start + batch]
            with self._read() as s:
                rows = s.scalars(select(TrialRow).where(col(TrialRow.nct_id).in_(chunk)).order_by(col(TrialRow.nct_id)))
                yield [(record_from_row(r), r.raw) for r in rows]

    def changes(self, nct_id: str) -> list[Change]:
        with self._read() as s:
            stmt = (
                select(ChangeRow)
                .where(col(ChangeRow.nct_id) == nct_id)
                .order_by(col(ChangeRow.seen_at), col(ChangeRow.id))
            )
            return [
                Change(nct_id=r.nct_id, field=r.field, old=r.old, new=r.new, seen_at=r.seen_at) for r in s.scalars(stmt)
            ]

    # events ---------------------------------------------------------------------------------------------
    def events(
        self,
        *,
        nct_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_baseline: bool = True,
    ) -> list[Event]:
        stmt = select(EventRow)
        if nct_id is not None:
            stmt = stmt.where(col(EventRow.nct_id) == nct_id)
        if since is not None:
            stmt = stmt.where(col(EventRow.created_at) >= since)
        if until is not None:
            stmt = stmt.where(col(EventRow.created_at) < until)
        if not include_baseline:
            stmt = stmt.where(col(EventRow.baseline).is_(False))
        with self._read() as s:
            return [_event_from_row(r) for r in s.scalars(stmt.order_by(col(EventRow.created_at), col(EventRow.id)))]

    # alerts (outbox) ------------------------------------------------------------------------------------
    def _alert(self, s: Session, row: AlertRow) -> Alert:
        rows = list(s.scalars(select(EventRow).where(col(EventRow.key).in_(row.event_keys))))
        order = {k: i for i, k in enumerate(row.event_keys)}
        events = tuple(_event_from_row(r) for r in sorted(rows, key=lambda r: order.get(r.key, 0)))
        return Alert(
            id=row.id or 0,
            key=row.key,
            nct_id=row.nct_id,
            query=row.query,
            events=events,
            trial=dict(row.trial),
            status=row.status,
            attempts=row.attempts,
            created_at=row.created_at,
            last_error=row.last_error,
            message_ts=row.message_ts,
            baseline_summary=row.baseline_summary,
        )

    def alerts(self, *, pending_only: bool = False, limit: int | None = None) -> list[Alert]:
        stmt = select(AlertRow)
        if pending_only:
            stmt = stmt.where(col(AlertRow.status) != "sent")
        stmt = stmt.order_by(col(AlertRow.id))
        if limit:
            stmt = stmt.limit(limit)
        with self._read() as s:
            return [self._alert(s, r) for r in s.scalars(stmt)]

    def alert_last_attempt(self, alert_id: int) -> datetime | None:
        with self._read() as s:
            return s.scalar(select(col(AlertRow.last_attempt_at)).where(col(AlertRow.id) == alert_id))

    # publications ---------------------------------------------------------------------------------------
    def known_pmids(self, pmids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(pmids))
        known: set[str] = set()
        with self._read() as s:
            for start in range(0, len(ids), 500):
                stmt = select(col(PublicationRow.pmid)).where(col(PublicationRow.pmid).in_(ids[start : start + 500]))
                known.update(s.scalars(stmt))
        return known

    def publication_mentions(self) -> list[tuple[str, list[str]]]:
        """(pmid, NCT ids named by the paper) for every stored paper."""
        with self._read() as s:
            rows = s.execute(
                select(col(PublicationRow.pmid), col(PublicationRow.databank_nct_ids), col(PublicationRow.text_nct_ids))
            )
            return [(p, list(dict.fromkeys([*databank, *text]))) for p, databank, text in rows]

    def publication(self, pmid: str) -> tuple[Publication, bool, list[dict[str, str]]] | None:
        """A stored paper with its efficacy verdict and evidence."""
        with self._read() as s:
            row = s.get(PublicationRow, pmid)
            return publication_from_row(row) if row else None

    def publications_for(self, nct_id: str) -> list[tuple[Publication, bool, list[str]]]:
        """Papers linked to a trial, each with the ways it was linked."""
        with self._read() as s:
            links = list(
                s.scalars(
                    select(TrialPublicationRow)
                    .where(col(TrialPublicationRow.nct_id) == nct_id)
                    .order_by(col(TrialPublicationRow.linked_at), col(TrialPublicationRow.id))
                )
            )
            hows: dict[str, list[str]] = {}
            for link in links:
                hows.setdefault(link.pmid, []).append(link.how)
            out = []
            for pmid, how in hows.items():
                row = s.get(PublicationRow, pmid)
                if row is not None:
                    pub, efficacy, _ = publication_from_row(row)
                    out.append((pub, efficacy, how))
            return out

    def links(self) -> set[tuple[str, str]]:
        with self._read() as s:
            return {
                (n, p) for n, p in s.execute(select(col(TrialPublicationRow.nct_id), col(TrialPublicationRow.pmid)))
            }

    def reference_pmids(self) -> dict[str, list[tuple[str, str]]]:
        """pmid -> [(nct_id, reference type)] from the CT.gov references of tracked trials."""
        out: dict[str, list[tuple[str, str]]] = {}
        with self._read() as s:
            for nct_id, state in s.execute(select(col(TrialRow.nct_id), col(TrialRow.state))):
                for ref in (state or {}).get("references", []):
                    out.setdefault(str(ref.get("pmid")), []).append((nct_id, str(ref.get("type") or "")))
        return out

    # digests --------------------------------------------------------------------------------------------
    def last_sent_digest(self) -> DigestRow | None:
        with self._read() as s:
            stmt = select(DigestRow).where(col(DigestRow.status) == "sent").order_by(col(DigestRow.period_end).desc())
            return s.scalars(stmt).first()

    def pending_digests(self) -> list[DigestRow]:
        with self._read() as s:
            stmt = select(DigestRow).where(col(DigestRow.status) != "sent").order_by(col(DigestRow.period_start))
            return list(s.scalars(stmt))
