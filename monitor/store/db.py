"""The store: SQLite (WAL) or PostgreSQL through SQLModel; takes and returns domain objects.

Imports errors and store.* only. ``Store.transaction()`` yields a ``Tx`` (store.writes) whose writes commit
together (trial state, changes, events and their outbox alerts), so a crash never splits them. This module sets up
the engine and holds the store's lifecycle: migrations, the run lock, transactions and the outbox updates; the
queries are in store.reads, the row conversion in store.convert.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from monitor.errors import StoreError
from monitor.store.models import AlertRow, DigestRow
from monitor.store.reads import StoreReads
from monitor.store.writes import Tx

MIGRATIONS_HEAD = "0002"


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


class Store(StoreReads):
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

    # alerts (outbox) ------------------------------------------------------------------------------------
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

    # digests --------------------------------------------------------------------------------------------
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

