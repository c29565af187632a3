import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from monitor.domain import Event, EventKind, NewAlert
from monitor.errors import StoreError
from monitor.store.db import MIGRATIONS_HEAD, Store, make_engine
from monitor.store.models import metadata

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_migrations_match_the_models(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    assert store.current_revision() == MIGRATIONS_HEAD


def test_sqlite_runs_in_wal_mode_with_busy_timeout(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_event_keys_are_recorded_once(store):
    event = Event(kind=EventKind.NEW_TRIAL, key="new_trial:NCT00000001", created_at=NOW, nct_id="NCT00000001")
    with store.transaction() as tx:
        assert tx.add_events([event, event]) == [event]
    with store.transaction() as tx:
        assert tx.add_events([event]) == []
    assert [e.key for e in store.events()] == ["new_trial:NCT00000001"]


def test_alert_outbox_lifecycle(store):
    event = Event(kind=EventKind.EFFICACY_REPORTED, key="efficacy:NCT00000001", created_at=NOW, nct_id="NCT00000001")
    with store.transaction() as tx:
        tx.add_events([event])
        assert tx.add_alerts([NewAlert(key="efficacy:NCT00000001", events=[event], nct_id="NCT00000001", query="q",
                                       trial={"nct_id": "NCT00000001"}, created_at=NOW)]) == 1
        assert tx.add_alerts([NewAlert(key="efficacy:NCT00000001", events=[event], nct_id="NCT00000001", query="q",
                                       trial={}, created_at=NOW)]) == 0
    (alert,) = store.alerts(pending_only=True)
    assert alert.status == "pending" and alert.events == (event,)
    store.mark_alert_sending(alert.id, at=NOW)
    assert store.alerts(pending_only=True)[0].status == "sending"
    store.mark_alert_sent(alert.id, at=NOW, message_ts="1.0001")
    assert store.alerts(pending_only=True) == []


def test_dry_run_transactions_are_rolled_back(store):
    store.dry_run = True
    with store.transaction() as tx:
        tx.add_events([Event(kind=EventKind.NEW_TRIAL, key="k", created_at=NOW)])
    assert store.events() == []


def test_a_second_run_is_told_the_store_is_locked(store, tmp_path):
    script = (
        "import sys, time\n"
        "from monitor.store.db import Store, make_engine\n"
        f"s = Store(make_engine({store.url!r}), url={store.url!r})\n"
        "with s.lock():\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match="locked by another monitor run"), store.lock(timeout=0.2):
            pass
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    with store.lock(timeout=5):  # released when the holder died
        pass


def test_unreachable_database_is_one_line(tmp_path):
    url = f"sqlite:///{tmp_path}/missing-dir/x/monitor.db"
    s = Store(make_engine(url), url=url)
    with pytest.raises(StoreError, match="cannot open the database"):
        s.current_revision()


def test_quick_reader_agrees_with_the_store(store):
    from monitor.store.quickread import HEAD, QuickReader

    assert HEAD == MIGRATIONS_HEAD
    event = Event(kind=EventKind.NEW_TRIAL, key="new_trial:NCT00000001", created_at=NOW, nct_id="NCT00000001")
    with store.transaction() as tx:
        tx.add_events([event])
    reader = QuickReader.open(store.url)
    try:
        assert reader.events(nct_id="NCT00000001") == store.events(nct_id="NCT00000001")
        assert reader.trial("NCT00000001") is None and reader.changes("NCT00000001") == []
    finally:
        reader.close()
    assert QuickReader.open("postgresql+psycopg://x/y") is None


def test_a_migration_interrupted_half_way_leaves_nothing_behind(db_url):
    """DDL runs in a real transaction: a failure in the middle rolls back the tables already created."""
    from sqlalchemy import inspect, text

    engine = make_engine(db_url)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("CREATE TABLE half (id INTEGER)"))
        raise RuntimeError("killed")
    assert "half" not in inspect(engine).get_table_names()
    engine.dispose()


def _migrate(store: Store, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    from monitor.store.db import migrations_dir

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def test_0002_splits_stored_paper_ids_into_databank_and_text_mentions(db_url):
    """Papers stored under 0001 kept one merged id list; 0002 splits it with the parser's text rule (an id also in
    the title or abstract becomes a text mention, the weaker claim), and downgrading merges the lists again."""
    from sqlalchemy import text

    store = Store(make_engine(db_url), url=db_url)
    _migrate(store, "0001")
    insert = text(
        "INSERT INTO publication (pmid, title, abstract, journal, publication_types, nct_ids, is_book, efficacy,"
        " efficacy_evidence, first_seen_at) VALUES (:pmid, :title, :abstract, '', '[]', :ids, 0, 0, '[]',"
        " '2026-11-20 10:00:00.000000')"
    )
    with store.engine.begin() as conn:
        conn.execute(insert, {"pmid": "1", "title": "Exosomes (nct 01234567)", "abstract": "Also NCT02345678.",
                              "ids": '["NCT09999999", "NCT01234567", "NCT02345678"]'})
        conn.execute(insert, {"pmid": "2", "title": "No number here", "abstract": "", "ids": "[]"})
    _migrate(store, "head")
    pub, _, _ = store.publication("1") or pytest.fail("paper 1 lost")
    assert pub.databank_nct_ids == ("NCT09999999",)
    assert pub.text_nct_ids == ("NCT01234567", "NCT02345678")
    assert store.publication_mentions() == [("1", ["NCT09999999", "NCT01234567", "NCT02345678"]), ("2", [])]
    _migrate(store, "0001", down=True)
    with store.engine.connect() as conn:
        merged = {p: json.loads(ids) for p, ids in conn.execute(text("SELECT pmid, nct_ids FROM publication"))}
    assert merged == {"1": ["NCT09999999", "NCT01234567", "NCT02345678"], "2": []}
    store.engine.dispose()
