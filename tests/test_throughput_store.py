"""The backfill's memory and GC tactics keep behaviour: batched trial writes within a page, one GC pass per page."""

from __future__ import annotations

import gc
import json
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
