"""The store: SQLite (WAL) or PostgreSQL through SQLModel; takes and returns domain objects.

Imports domain, errors and store.models only. ``Store.transaction()`` yields a ``Tx`` whose writes commit
together (trial state, changes, events and their outbox alerts), so a crash never splits them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, Table, Text, bindparam, cast, create_engine, event, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, col

from monitor.domain import Alert, Change, Event, EventKind, Publication, SyncState, TrialRecord
from monitor.errors import StoreError
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

MIGRATIONS_HEAD = "0001"
TRIAL_COLUMNS = (
    "nct_id",
    "title",
    "overall_status",
    "phase",
    "product_class",
    "cell_free",
    "cancer",
    "has_results",
    "lead_sponsor",
    "last_update_posted_on",
    "state",
    "classification",
    "classifier_version",
    "override",
    "queries",
    "first_seen_at",
    "updated_at",
)


def make_engine(url: str) -> Engine:
    """An engine with SQLite pragmas (WAL, busy timeout, foreign keys) set on every connection."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30}, json_serializer=_json_dumps, json_deserializer=orjson.loads
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            # pysqlite would run DDL outside any transaction, so a migration killed half-way would leave tables
            # without a revision stamp; SQLAlchemy's recipe: no implicit BEGIN from the driver, an explicit one
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps, json_deserializer=orjson.loads)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    path = path.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


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


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a model (SQLModel does not type ``__table__``)."""
    table: Table = getattr(model, "__table__")  # noqa: B009
    return table


def record_from_mapping(row: Mapping[str, Any]) -> TrialRecord:
    return TrialRecord(
        nct_id=row["nct_id"],
        title=row["title"],
        overall_status=row["overall_status"],
        phase=row["phase"],
        product_class=row["product_class"],
        cell_free=bool(row["cell_free"]),
        cancer=bool(row["cancer"]),
        has_results=bool(row["has_results"]),
        lead_sponsor=row["lead_sponsor"],
        last_update_posted_on=row["last_update_posted_on"],
        state=dict(row["state"]),
        classification=dict(row["classification"]),
        classifier_version=row["classifier_version"],
        override=dict(row["override"] or {}),
        queries=tuple(row["queries"] or ()),
        first_seen_at=row["first_seen_at"],
        updated_at=row["updated_at"],
    )


def record_from_row(row: TrialRow) -> TrialRecord:
    return record_from_mapping({c: getattr(row, c) for c in TRIAL_COLUMNS})


def record_values(record: TrialRecord) -> dict[str, Any]:
    """Column values of a trial row (raw excluded)."""
    return {
        "nct_id": record.nct_id,
        "title": record.title,
        "overall_status": record.overall_status,
        "phase": record.phase,
        "product_class": record.product_class,
        "cell_free": record.cell_free,
        "cancer": record.cancer,
        "has_results": record.has_results,
        "lead_sponsor": record.lead_sponsor,
        "last_update_posted_on": record.last_update_posted_on,
        "state": dict(record.state),
        "classification": dict(record.classification),
        "classifier_version": record.classifier_version,
        "override": dict(record.override),
        "queries": list(record.queries),
        "first_seen_at": record.first_seen_at,
        "updated_at": record.updated_at,
    }


def publication_from_row(row: PublicationRow) -> tuple[Publication, bool, list[dict[str, str]]]:
    pub = Publication(
        pmid=row.pmid,
        title=row.title,
        abstract=row.abstract,
        journal=row.journal,
        published_on=row.published_on,
        doi=row.doi,
        pmc_id=row.pmc_id,
        publication_types=tuple(row.publication_types),
        databank_nct_ids=tuple(row.nct_ids),
        is_book=row.is_book,
    )
    return pub, row.efficacy, list(row.efficacy_evidence)


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

    def save_trial(self, row: TrialRow) -> None:
        """Add one ORM row (used by tests that build a store by hand)."""
        self.session.add(row)

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

    def add_alert(
        self,
        *,
        key: str,
        events: Sequence[Event],
        nct_id: str | None,
        query: str | None,
        trial: Mapping[str, Any],
        created_at: datetime,
        baseline_summary: bool = False,
    ) -> bool:
        """Queue one alert in the outbox (same transaction as its events); False when the key exists."""
        return bool(
            self.add_alerts(
                [
                    dict(
                        key=key,
                        events=events,
                        nct_id=nct_id,
                        query=query,
                        trial=trial,
                        created_at=created_at,
                        baseline_summary=baseline_summary,
                    )
                ]
            )
        )

    def add_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> int:
        """Queue alerts (dicts with the arguments of ``add_alert``); returns how many were new."""
        if not alerts:
            return 0
        self.session.flush()
        existing = self._existing(table_of(AlertRow), [a["key"] for a in alerts])
        rows = []
        for a in alerts:
            if a["key"] in existing:
                continue
            existing.add(a["key"])
            rows.append(
                {
                    "key": a["key"],
                    "nct_id": a.get("nct_id"),
                    "query": a.get("query"),
                    "event_keys": [e.key for e in a["events"]],
                    "trial": dict(a["trial"]),
                    "baseline_summary": bool(a.get("baseline_summary")),
                    "status": "pending",
                    "attempts": 0,
                    "created_at": a["created_at"],
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
            nct_ids=list(pub.nct_ids),
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


class Store:
    """The database of trials, changes, events, alerts, publications, sync state and digests."""

    def __init__(self, engine: Engine, *, url: str, dry_run: bool = False) -> None:
        self.engine = engine
        self.url = url
        self.dry_run = dry_run

    # lifecycle ------------------------------------------------------------------------------------------
    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise StoreError(f"cannot open the database {self.display_url}: {exc.orig}") from None

    def upgrade(self) -> tuple[str | None, str | None]:
        """Apply migrations up to head; returns (revision before, revision after)."""
        from alembic import command
        from alembic.config import Config

        before = self.current_revision()
        path = sqlite_path(self.url)
        if path is not None and path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        config = Config()
        config.set_main_option("script_location", str(migrations_dir()))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return before, self.current_revision()

    def ensure_schema(self) -> None:
        """Migrate a fresh or outdated database automatically (product.md section 6)."""
        if self.current_revision() != MIGRATIONS_HEAD:
            self.upgrade()

    @property
    def display_url(self) -> str:
        """The URL without a password, for messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def lock(self, *, timeout: float = 0.0) -> Iterator[None]:
        """Exclusive use of the store by one run: a lock file beside a SQLite database, an advisory lock on
        PostgreSQL. Another run waits up to ``timeout`` seconds, then gets a StoreError saying it is locked."""
        path = sqlite_path(self.url)
        if path is None:
            with self._advisory_lock(timeout):
                yield
            return
        from filelock import FileLock, Timeout

        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{path}.lock", timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            raise StoreError(
                f"the store {path} is locked by another monitor run; wait for it to finish (or raise "
                f"MONITOR_LOCK_TIMEOUT to wait)"
            ) from None
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def _advisory_lock(self, timeout: float) -> Iterator[None]:
        from sqlalchemy import text

        if self.engine.dialect.name != "postgresql":
            yield
            return
        import time

        with self.engine.connect() as conn:
            deadline = time.monotonic() + timeout
            while not conn.execute(text("SELECT pg_try_advisory_lock(7305001)")).scalar():
                if time.monotonic() >= deadline:
                    raise StoreError(f"the store {self.display_url} is locked by another monitor run")
                time.sleep(0.5)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(7305001)"))

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One unit of work; with ``dry_run`` set on the store everything is rolled back."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield Tx(session)
                if self.dry_run:
                    session.rollback()
                else:
                    session.commit()
            except OperationalError as exc:
                session.rollback()
                raise StoreError(f"database error on {self.display_url}: {exc.orig}") from None
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # sync state -----------------------------------------------------------------------------------------
    def get_sync(self, source: str, query: str) -> SyncState:
        with self._read() as s:
            row = s.get(SyncStateRow, (source, query))
            return _sync_from_row(row) if row else SyncState(source=source, query=query)

    def sync_states(self) -> list[SyncState]:
        with self._read() as s:
            return [_sync_from_row(r) for r in s.scalars(select(SyncStateRow).order_by(col(SyncStateRow.source)))]

    # trials ---------------------------------------------------------------------------------------------
    def trial(self, nct_id: str) -> TrialRecord | None:
        with self._read() as s:
            row = s.get(TrialRow, nct_id.upper())
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
        stmt = select(TrialRow)
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

    def tracked_nct_ids(self) -> list[str]:
        with self._read() as s:
            return list(s.scalars(select(col(TrialRow.nct_id)).order_by(col(TrialRow.nct_id))))

    def count_trials(self) -> int:
        with self._read() as s:
            return int(s.scalar(select(func.count()).select_from(TrialRow)) or 0)

    def stale_trials(self, classifier_version: str, overridden: Iterable[str]) -> list[tuple[TrialRecord, str]]:
        """Trials whose classification must be recomputed: another classifier version, or overrides
        set now or before (a removed override must be undone too)."""
        ids = list(overridden)
        stmt = select(TrialRow).where(
            or_(
                col(TrialRow.classifier_version) != classifier_version,
                col(TrialRow.nct_id).in_(ids),
                cast(col(TrialRow.override), Text) != "{}",
            )
        )
        with self._read() as s:
            return [(record_from_row(r), r.raw) for r in s.scalars(stmt)]

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

    def baseline_event_keys(self, keys: Iterable[str]) -> set[str]:
        with self._read() as s:
            stmt = select(col(EventRow.key)).where(col(EventRow.key).in_(list(keys)), col(EventRow.baseline).is_(True))
            return set(s.scalars(stmt))

    def has_event(self, key: str) -> bool:
        with self._read() as s:
            return s.scalar(select(col(EventRow.id)).where(col(EventRow.key) == key)) is not None

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

    def mark_alert_sending(self, alert_id: int, *, at: datetime) -> None:
        """Before a send: from here on the message may exist in Slack even if we crash."""
        with self.transaction() as tx:
            tx.session.execute(
                update(AlertRow)
                .where(col(AlertRow.id) == alert_id)
                .values(status="sending", attempts=col(AlertRow.attempts) + 1, last_attempt_at=at)
            )

    def mark_alert_sent(self, alert_id: int, *, at: datetime, message_ts: str | None) -> None:
        with self.transaction() as tx:
            tx.session.execute(
                update(AlertRow)
                .where(col(AlertRow.id) == alert_id)
                .values(status="sent", sent_at=at, message_ts=message_ts, last_error=None)
            )

    def mark_alert_failed(self, alert_id: int, *, error: str, definitely_not_sent: bool) -> None:
        """After a failed send; ``definitely_not_sent`` returns it to pending (no lookup needed next time)."""
        values: dict[str, Any] = {"last_error": error}
        if definitely_not_sent:
            values["status"] = "pending"
        with self.transaction() as tx:
            tx.session.execute(update(AlertRow).where(col(AlertRow.id) == alert_id).values(**values))

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
            return [(p, list(n)) for p, n in s.execute(select(col(PublicationRow.pmid), col(PublicationRow.nct_ids)))]

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

    def save_digest(self, row: DigestRow) -> DigestRow:
        with self.transaction() as tx:
            merged = tx.session.merge(row)
            tx.session.flush()
            return merged


def migrations_dir() -> Path:
    """The Alembic scripts: the repository's ``migrations/`` or the installed ``migrations`` package."""
    here = Path(__file__).resolve().parents[2] / "migrations"
    if (here / "env.py").exists():
        return here
    import migrations

    return Path(migrations.__file__).resolve().parent


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
