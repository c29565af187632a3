"""The backfill's memory and GC tactics keep behaviour: batched trial writes within a page, one GC pass per page."""

from __future__ import annotations

import gc
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

import monitor.check as check
from monitor.classify import CLASSIFIER_VERSION, classify_record
from monitor.domain import Query
from monitor.sources.ctgov_parse import parse_study
from tests.factories import make_study, nct

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
QUERY = Query(name="q", path="", ctgov_terms=("exosome",))
CLASSIFIER = check.Classifier(classify=classify_record, version=CLASSIFIER_VERSION)


def test_a_page_written_in_batches_stores_each_trial_once_with_its_last_sighting(store, monkeypatch):
    monkeypatch.setattr(check, "SAVE_BATCH", 2)
    records = [make_study(nct(i), status="RECRUITING") for i in range(1, 6)]
    records.append(make_study(nct(1), status="COMPLETED"))  # nct(1) again, after its batch was written
    studies = [parse_study(r) for r in records]
    with store.transaction() as tx:
        outcome = check.process_page(tx, studies, query=QUERY, classifier=CLASSIFIER, baseline=True, now=NOW)
    assert outcome.new == 5 and outcome.changed == 1
    assert store.count_trials() == 5
    first = store.trial(nct(1))
    assert first is not None and first.overall_status == "COMPLETED"
    assert [c.field for c in store.changes(nct(1))] == ["overall_status"]
    raw = store.trial_raw(nct(1))
    assert raw is not None
    assert json.loads(raw) == studies[-1].stored_raw()


def test_the_poll_restores_the_collector_even_when_it_fails(store):
    class Failing:
        kind = "ctgov"

        def data_timestamp(self) -> str:
            return "2026-11-20T14:00:00"

        def iter_pages(self, expression, *, since):
            assert not gc.isenabled()  # paused during the poll
            raise check.SourceError("boom")
            yield  # pragma: no cover

    assert gc.isenabled()
    with pytest.raises(check.SourceError):
        check.poll_ctgov(Failing(), store, QUERY, classifier=CLASSIFIER, now=NOW, overlap_days=2)
    assert gc.isenabled()


def test_a_new_classifier_version_reclassifies_the_store_batch_by_batch(store):
    with store.transaction() as tx:
        studies = [parse_study(make_study(nct(i))) for i in range(1, 6)]
        check.process_page(tx, studies, query=QUERY, classifier=CLASSIFIER, baseline=True, now=NOW)
    before = {t.nct_id: t.product_class for t in store.trials()}

    def as_cells(record):  # a "new version" that reads every trial as cell-based
        return replace(classify_record(record), product_class="cell_based", cell_free=False)

    newer = check.Classifier(classify=as_cells, version="next")
    batches = [len(b) for b in store.stale_trials("next", {}, batch=2)]
    assert batches == [2, 2, 1]
    changed = check.reclassify(store, [QUERY], classifier=newer, parse=parse_study, now=NOW, batch_size=2)
    changed_ids = [n for n, c in before.items() if c != "cell_based"]
    assert changed == len(changed_ids) > 0
    assert all(t.classifier_version == "next" and t.product_class == "cell_based" for t in store.trials())
    assert [c.field for n in changed_ids for c in store.changes(n)] == ["classification"] * len(changed_ids)
    assert list(store.stale_trials("next", {})) == []
    assert check.reclassify(store, [QUERY], classifier=newer, parse=parse_study, now=NOW) == 0


def test_trial_records_are_read_without_the_stored_registration(store):
    from sqlalchemy import event

    with store.transaction() as tx:
        check.process_page(tx, [parse_study(make_study(nct(1)))], query=QUERY, classifier=CLASSIFIER,
                           baseline=True, now=NOW)
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda conn, cursor, sql, *rest: statements.append(sql))
    assert store.trial(nct(1)) is not None and len(store.trials()) == 1
    assert store.tracked_nct_ids("q") == [nct(1)] and store.tracked_nct_ids("other") == []
    reads = [sql for sql in statements if "FROM trial" in sql]
    assert len(reads) == 4 and not any("raw" in sql for sql in reads)
