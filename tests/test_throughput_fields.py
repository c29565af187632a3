"""What the backfill asks CT.gov for (``fields``) and what the store keeps of a record (``Study.stored_raw``).

Both trim the record to the parts the bot reads. These tests pin the exact ``fields`` value (a wrong name is an
HTTP 400 on every poll) and check that a trimmed record answers exactly what the full one does: same parse, same
classification, including the classification a reclassification computes from the store.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from monitor.classify import classify_record
from monitor.domain import UNSTORED_PROTOCOL_MODULES
from monitor.sources.ctgov import STUDY_FIELDS, build_params
from monitor.sources.ctgov_parse import parse_study
from tests.ctgov_server import SECTION_FIELDS
from tests.factories import RECORDINGS, load_recording, make_study, nct

EVAL_RECORDS = Path(__file__).parent / "eval" / "records"


def all_records() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(RECORDINGS.glob("*.json")):
        data = load_recording(path.name)
        out += [(f"{path.name}[{i}]", r) for i, r in enumerate(data.get("studies", [data]))]
    for path in sorted(EVAL_RECORDS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out += [(f"eval/{path.name}[{i}]", r) for i, r in enumerate(data.get("studies", [data]))]
    tracked = make_study(
        nct(7),
        with_results=True,
        submission_tracking={
            "estimatedResultsFirstSubmitDate": "2026-01-02",
            "submissionInfos": [{"releaseDate": "2026-01-02", "resetDate": "2026-02-03"}],
        },
    )
    out.append(("factory with results and submissionTracking", tracked))
    return out


RECORDS = all_records()
IDS = [name for name, _ in RECORDS]


def as_api_sends(record: dict[str, Any], fields: str) -> dict[str, Any]:
    """What the API returns for ``fields`` made of section pieces: those sections, whole."""
    keys = {SECTION_FIELDS[name] for name in fields.split(",")}
    return {k: v for k, v in record.items() if k in keys}


def test_the_fields_value_is_pinned():
    assert STUDY_FIELDS == "ProtocolSection,ResultsSection,DerivedSection,HasResults"
    assert build_params("exosome", since=None, page_size=1000)["fields"] == STUDY_FIELDS


def test_every_field_name_is_a_section_piece_of_the_spec():
    names = STUDY_FIELDS.split(",")
    assert len(names) == len(set(names))
    assert set(names) <= set(SECTION_FIELDS)


def test_the_records_cover_results_and_derived_sections():
    assert any("resultsSection" in r for _, r in RECORDS)
    assert any(r.get("derivedSection", {}).get("miscInfoModule", {}).get("submissionTracking") for _, r in RECORDS)


@pytest.mark.parametrize(("name", "record"), RECORDS, ids=IDS)
def test_a_fields_limited_record_parses_and_classifies_like_the_full_one(name, record):
    limited = as_api_sends(record, STUDY_FIELDS)
    assert parse_study(limited) == parse_study(record)
    assert classify_record(limited) == classify_record(record)


@pytest.mark.parametrize(("name", "record"), RECORDS, ids=IDS)
def test_the_stored_record_parses_and_classifies_like_the_full_one(name, record):
    study = parse_study(record)
    stored = json.loads(json.dumps(study.stored_raw()))  # as it comes back from the database
    again = parse_study(stored)
    assert again == study
    assert again.result_outcomes == study.result_outcomes
    assert again.results_submission == study.results_submission
    assert classify_record(stored) == classify_record(record)
    assert stored.get("protocolSection", {}).keys().isdisjoint(UNSTORED_PROTOCOL_MODULES)


def test_the_stored_record_keeps_a_results_section_without_outcome_measures():
    # no hasResults key: the parser falls back to "is there a resultsSection", which must survive storage
    record = make_study(nct(8), with_results=True, updates={"hasResults": None})
    record["resultsSection"] = {"participantFlowModule": {"groups": [{"id": "FG000"}]}}
    record["protocolSection"]["statusModule"].pop("resultsFirstPostDateStruct", None)
    study = parse_study(record)
    assert study.has_results
    assert parse_study(json.loads(json.dumps(study.stored_raw()))).has_results


POISON = (
    "Mesenchymal stem cell-derived exosomes loaded with siRNA given to patients with metastatic pancreatic "
    "cancer; conditioned medium secretome; dendritic cell vaccine; plasma exosome biomarker"
)


def _poisoned(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _poisoned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_poisoned(v) for v in value] or [POISON]
    if isinstance(value, str):
        return POISON
    return value


@pytest.mark.parametrize(("name", "record"), RECORDS, ids=IDS)
def test_the_classifier_ignores_the_modules_the_store_drops(name, record):
    """If a rule starts reading one of these modules, reclassifying from the store would differ from a fresh
    poll: keep the module in the store (remove it from UNSTORED_PROTOCOL_MODULES) in the same change."""
    poisoned = copy.deepcopy(record)
    protocol = poisoned.setdefault("protocolSection", {})
    for module in sorted(UNSTORED_PROTOCOL_MODULES):
        protocol[module] = _poisoned(protocol.get(module) or {"text": "x", "items": ["x"], "nested": {"t": "x"}})
    assert classify_record(poisoned) == classify_record(record)
    assert parse_study(poisoned) == parse_study(record)
