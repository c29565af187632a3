"""parse_study and build_params on real recorded ClinicalTrials.gov v2 records (tests/recordings/ctgov/)."""

from __future__ import annotations

import copy
import json
import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.domain import Arm, Intervention, Reference, Study
from monitor.errors import RecordError
from monitor.sources.ctgov import build_params
from monitor.sources.ctgov_parse import parse_study
from tests.factories import (
    FULL_WITH_RESULTS,
    RECORDINGS,
    STUDIES_PAGE_10,
    load_recording,
    make_page,
    make_study,
    nct,
    recorded_studies,
    set_path,
)

NCT = re.compile(r"^NCT\d{8}$")
ALL_FILES = sorted(p.name for p in RECORDINGS.glob("*.json"))


def records_of(name: str) -> list[dict]:
    data = load_recording(name)
    return data.get("studies", [data])


def test_every_recording_is_present_and_documented():
    readme = (RECORDINGS / "README.md").read_text(encoding="utf-8")
    assert len(ALL_FILES) == 18
    for name in ALL_FILES:
        assert name in readme, f"{name} is not listed in tests/recordings/ctgov/README.md"


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_real_record_parses(name):
    for record in records_of(name):
        study = parse_study(record)
        assert NCT.match(study.nct_id)
        assert study.nct_id == record["protocolSection"]["identificationModule"]["nctId"]
        assert study.brief_title
        assert study.raw is record
        assert all(p in ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA") for p in study.phases)
        assert study.has_results == bool(record.get("hasResults", False))
        assert all(isinstance(i, Intervention) and i.name for i in study.interventions)
        assert isinstance(hash(study.phases + study.conditions + study.keywords), int)


def test_full_record_with_results_nct02513394():
    study = parse_study(load_recording(FULL_WITH_RESULTS))
    assert study.nct_id == "NCT02513394"
    assert study.brief_title == "PALbociclib CoLlaborative Adjuvant Study"
    assert study.official_title.startswith("PALbociclib CoLlaborative Adjuvant Study: A Randomized Phase III Trial")
    assert study.acronym == "PALLAS"
    assert study.overall_status == "ACTIVE_NOT_RECRUITING"
    assert study.why_stopped is None
    assert study.study_type == "INTERVENTIONAL"
    assert study.phases == ("PHASE3",)
    assert study.phase == "PHASE3"
    assert study.primary_purpose == "TREATMENT"
    assert (study.enrollment_count, study.enrollment_type) == (5796, "ACTUAL")
    # PartialDate strings are kept as sent
    assert (study.start_date, study.primary_completion_date, study.completion_date) == ("2015-08", "2020-11", "2025-09")
    assert study.first_posted_on == "2015-07-31"
    assert study.last_update_posted_on == "2023-06-15"
    assert study.results_first_posted_on == "2022-04-13"
    assert study.results_first_submitted_on == "2022-02-01"
    assert study.has_results is True
    assert study.results_submission is None  # no submissionTracking in this record
    assert study.lead_sponsor == "Alliance Foundation Trials, LLC."
    assert study.brief_summary.startswith("This is a prospective, two arm, international")
    assert study.conditions == ("Breast Cancer",)
    assert study.keywords == ("HR+/HER2- breast cancer", "Palbociclib")
    assert study.interventions == (
        Intervention(type="DRUG", name="Palbociclib", arm_labels=("Arm A",)),
        Intervention(type="DRUG", name="Standard Adjuvant Endocrine Therapy", arm_labels=("Arm A", "Arm B")),
    )
    assert [a.label for a in study.arms] == ["Arm A", "Arm B"]
    assert study.arms[1] == Arm(
        label="Arm B",
        type="OTHER",
        description="Standard adjuvant endocrine therapy for a duration of at least 5 years.",
        interventions=("Drug: Standard Adjuvant Endocrine Therapy",),
    )
    assert [o.measure for o in study.primary_outcomes] == ["Invasive Disease Free Survival (iDFS)"]
    assert len(study.secondary_outcomes) == 4
    assert all(o.type is None and o.reporting_status is None for o in study.primary_outcomes)
    assert [(o.type, o.reporting_status, o.time_frame) for o in study.result_outcomes] == [
        ("PRIMARY", "POSTED", "4 years")
    ] + [("SECONDARY", "POSTED", "4 years")] * 4
    assert study.result_outcomes[3].measure == "Overall Survival (OS)"
    assert [(r.pmid, r.type) for r in study.references] == [
        ("34995105", "DERIVED"),
        ("34874182", "DERIVED"),
        ("33460574", "DERIVED"),
        ("30032196", "DERIVED"),
    ]
    assert study.references[0].citation.startswith("Mayer EL, Fesl C")
    assert study.url == "https://clinicaltrials.gov/study/NCT02513394"


def test_withdrawn_study():
    study = parse_study(load_recording("aact_NCT00973089.json"))
    assert study.overall_status == "WITHDRAWN"
    assert study.why_stopped == "recruiting or enrolling participants has halted prematurely and will not resume"
    assert (study.enrollment_count, study.enrollment_type) == (0, "ACTUAL")
    assert study.has_results is False
    assert study.result_outcomes == ()
    # an arm with no interventionNames
    assert study.arms[0] == Arm(label="Complete caries removal", type="NO_INTERVENTION", description="Control group")
    assert study.references == (Reference(pmid="18519994", type="BACKGROUND", citation=study.references[0].citation),)


def test_unknown_status_without_phases():
    study = parse_study(load_recording("aact_NCT03475563.json"))
    assert study.overall_status == "UNKNOWN"
    assert study.study_type == "OBSERVATIONAL"
    assert study.phases == () and study.phase is None
    assert study.primary_purpose is None  # observational studies have no designInfo.primaryPurpose
    assert study.arms[0].type is None


def test_results_without_phases_key():
    record = load_recording("aact_NCT05594173.json")
    assert "phases" not in record["protocolSection"]["designModule"]
    study = parse_study(record)
    assert study.phases == ()
    assert study.has_results is True
    assert study.results_first_submitted_on == "2022-10-27"
    assert [(o.measure, o.type) for o in study.result_outcomes] == [
        ("Number of Chewing Cycles Per Bolus", "PRIMARY"),
        ("Total Chewing Duration Per Bolus", "PRIMARY"),
    ]


def test_references_without_pmid_are_skipped():
    record = load_recording("aact_NCT03630471.json")
    refs = record["protocolSection"]["referencesModule"]["references"]
    study = parse_study(record)
    assert len(refs) == 12
    assert len(study.references) == 10
    assert [r.pmid for r in study.references] == [r["pmid"] for r in refs if "pmid" in r]


def test_studies_page_with_10_full_records():
    studies = [parse_study(r) for r in recorded_studies(STUDIES_PAGE_10)]
    assert len(studies) == 10
    assert len({s.nct_id for s in studies}) == 10
    phases = {s.nct_id: s.phases for s in studies}
    assert phases["NCT05288205"] == ("PHASE1", "PHASE2")  # API order kept
    assert phases["NCT05438667"] == ("EARLY_PHASE1",)
    assert phases["NCT05052671"] == ()
    assert next(s for s in studies if s.nct_id == "NCT05052671").study_type == "OBSERVATIONAL"
    assert all(s.overall_status == "RECRUITING" for s in studies)
    assert all(s.last_update_posted_on for s in studies)


@pytest.mark.parametrize(
    "name",
    ["biomcp_get_nct02576665_20260811.json", "biomcp_get_nct06382129_20260811.json",
     "biomcp_get_nct06604689_20260811.json"],
)
def test_fields_limited_records(name):
    record = load_recording(name)
    assert set(record) == {"protocolSection"}
    study = parse_study(record)
    assert study.has_results is False  # no hasResults key and nothing that shows results
    assert study.results_submission is None
    assert study.last_update_posted_on is None
    assert study.lead_sponsor
    assert study.enrollment_count and study.enrollment_count > 0
    assert study.enrollment_type is None


def test_fields_limited_search_pages():
    keytruda = [parse_study(r) for r in records_of("biomcp_search_keytruda_limit3_20260811.json")]
    assert keytruda[0].phases == ("PHASE1", "PHASE2")
    phelan = [parse_study(r) for r in records_of("biomcp_search_phelan_limit5_20260811.json")]
    assert phelan[0].nct_id == "NCT02710084"
    assert phelan[0].interventions == (Intervention(type=None, name="Oxytocin"), Intervention(type=None, name="Saline"))


def test_minimal_record_only_an_nct_id():
    study = parse_study({"protocolSection": {"identificationModule": {"nctId": "NCT01234567"}}})
    assert study == Study(nct_id="NCT01234567", brief_title="")
    assert study.title == "NCT01234567"


def test_has_results_falls_back_to_posted_date_when_the_key_is_absent():
    record = make_study(nct(1), with_results=True)
    del record["hasResults"]
    assert parse_study(record).has_results is True
    record = make_study(nct(2))
    del record["hasResults"]
    assert parse_study(record).has_results is False


def test_nulls_are_treated_as_missing():
    record = make_study(nct(3))
    record["protocolSection"]["designModule"]["phases"] = None
    record["protocolSection"]["descriptionModule"]["detailedDescription"] = None
    record["protocolSection"]["conditionsModule"]["conditions"] = ["A", None, "B"]
    record["resultsSection"] = None
    study = parse_study(record)
    assert study.phases == ()
    assert study.detailed_description == ""
    assert study.conditions == ("A", "B")


def test_integral_float_enrollment_and_int_pmid_are_accepted():
    record = make_study(nct(4), enrollment=88, references=[{"pmid": 12345678, "type": "RESULT", "citation": "X"}])
    record["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 88.0
    study = parse_study(record)
    assert study.enrollment_count == 88
    assert study.references == (Reference(pmid="12345678", type="RESULT", citation="X"),)


# ------------------------------------------------------------------------------------- submissionTracking


@pytest.mark.parametrize(
    ("tracking", "expected"),
    [
        (None, None),
        ({}, None),
        ({"estimatedResultsFirstSubmitDate": "2024-01-02"}, "first submitted 2024-01-02"),
        (
            {
                "estimatedResultsFirstSubmitDate": "2024-01-02",
                "submissionInfos": [{"releaseDate": "2024-01-02", "resetDate": "2024-02-03", "mcpReleaseN": 1}],
            },
            "first submitted 2024-01-02; submitted 2024-01-02; QC comments returned 2024-02-03",
        ),
        (
            {
                "estimatedResultsFirstSubmitDate": "2024-01-02",
                "firstMcpInfo": {"postDateStruct": {"date": "2024-02-20", "type": "ACTUAL"}},
                "submissionInfos": [
                    {"releaseDate": "2024-01-02", "resetDate": "2024-02-03", "mcpReleaseN": 1},
                    {"releaseDate": "2024-03-01", "unreleaseDate": "2024-03-05"},
                    {"releaseDate": "2024-04-01", "unreleaseDateUnknown": True},
                    {"releaseDate": "2024-05-01"},
                ],
            },
            "first submitted 2024-01-02; submitted 2024-01-02; QC comments returned 2024-02-03; "
            "submitted 2024-03-01; withdrawn 2024-03-05; submitted 2024-04-01; withdrawn (date unknown); "
            "submitted 2024-05-01; QC comments posted 2024-02-20",
        ),
    ],
)
def test_results_submission_summary(tracking, expected):
    record = make_study(nct(5), submission_tracking=tracking)
    assert parse_study(record).results_submission == expected


def test_results_submission_is_stable_across_key_order():
    tracking = {
        "submissionInfos": [{"resetDate": "2024-02-03", "releaseDate": "2024-01-02"}],
        "estimatedResultsFirstSubmitDate": "2024-01-02",
    }
    a = parse_study(make_study(nct(6), submission_tracking=tracking)).results_submission
    b = parse_study(make_study(nct(6), submission_tracking=dict(reversed(list(tracking.items()))))).results_submission
    assert a == b == "first submitted 2024-01-02; submitted 2024-01-02; QC comments returned 2024-02-03"


# ------------------------------------------------------------------------------------- RecordError


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["protocolSection"]["identificationModule"].pop("nctId"), "study #7: no protocolSection"),
        (lambda r: r.pop("protocolSection"), "study #7: no protocolSection.identificationModule.nctId"),
        (lambda r: set_path(r, "protocolSection.identificationModule.nctId", " "), "study #7: no protocolSection"),
        (lambda r: set_path(r, "protocolSection.identificationModule.nctId", 123), "study #7: identificationModule"),
        (lambda r: set_path(r, "protocolSection.designModule.phases", "PHASE2"),
         "study NCT90000007: designModule.phases is a string, expected a list"),
        (lambda r: set_path(r, "protocolSection.designModule.phases", [2]),
         "study NCT90000007: designModule.phases[0] is a number, expected a string"),
        (lambda r: set_path(r, "protocolSection.designModule.enrollmentInfo.count", "88"),
         "study NCT90000007: designModule.enrollmentInfo.count is a string, expected an integer"),
        (lambda r: set_path(r, "protocolSection.designModule.enrollmentInfo.count", 8.5),
         "study NCT90000007: designModule.enrollmentInfo.count is 8.5, expected an integer"),
        (lambda r: set_path(r, "protocolSection.designModule.enrollmentInfo.count", True),
         "expected an integer"),
        (lambda r: set_path(r, "protocolSection.statusModule", ["RECRUITING"]),
         "study NCT90000007: statusModule is a list, expected an object"),
        (lambda r: set_path(r, "protocolSection.statusModule.lastUpdatePostDateStruct", "2026-01-01"),
         "statusModule.lastUpdatePostDateStruct is a string, expected an object"),
        (lambda r: set_path(r, "protocolSection.armsInterventionsModule.interventions", [{"name": 5}]),
         "armsInterventionsModule.interventions[0].name is a number"),
        (lambda r: set_path(r, "protocolSection.armsInterventionsModule.interventions", ["Drug: X"]),
         "armsInterventionsModule.interventions[0] is a string, expected an object"),
        (lambda r: set_path(r, "hasResults", "true"), "hasResults is a string, expected true or false"),
        (lambda r: set_path(r, "protocolSection.referencesModule.references", [{"pmid": ["1"]}]),
         "referencesModule.references[0].pmid is a list"),
        (lambda r: set_path(r, "derivedSection.miscInfoModule.submissionTracking", {"submissionInfos": {}}),
         "submissionTracking.submissionInfos is an object, expected a list"),
        (lambda r: set_path(r, "resultsSection.outcomeMeasuresModule.outcomeMeasures", [{"title": None, "type": 1}]),
         "outcomeMeasuresModule.outcomeMeasures[0].type is a number"),
    ],
)
def test_record_errors_name_the_study_and_the_field(mutate, message):
    record = make_study(nct(7))
    mutate(record)
    with pytest.raises(RecordError) as info:
        parse_study(record, index=7)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_record_that_is_not_an_object():
    with pytest.raises(RecordError, match=r"^study #3: the record is a list, expected an object$"):
        parse_study([], index=3)  # type: ignore[arg-type]
    with pytest.raises(RecordError, match=r"^study #\?: the record is null"):
        parse_study(None)  # type: ignore[arg-type]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
BASE_FOR_FUZZ = load_recording("aact_NCT00763412.json")  # small, with protocol, results and derived sections


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node[:2]):
            yield prefix + (i,)
            yield from _paths(value, prefix + (i,))


FUZZ_PATHS = list(_paths(BASE_FOR_FUZZ))


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FUZZ_PATHS), JSON_VALUES), min_size=1, max_size=3))
def test_parse_study_raises_only_record_error_on_any_damage(changes):
    record = copy.deepcopy(BASE_FOR_FUZZ)
    for path, value in changes:
        node = record
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        study = parse_study(record, index=1)
    except RecordError as exc:
        assert str(exc).startswith("study ")
        assert "\n" not in str(exc)
    else:
        assert isinstance(study, Study)
        json.dumps([study.nct_id, study.phases, study.enrollment_count, study.results_submission])


# ------------------------------------------------------------------------------------- factories


def test_make_study_changes_what_was_asked_and_copies_deeply():
    a = make_study(
        "NCT90000011",
        last_update="2026-11-21",
        status="COMPLETED",
        enrollment=120,
        title="Exosomes from MSC in pancreatic cancer",
        summary="Cell-free secretome.",
        interventions=["BIOLOGICAL: MSC-derived exosomes", {"type": "DRUG", "name": "Gemcitabine"}],
        conditions=["Pancreatic Cancer"],
        phases=["PHASE1", "PHASE2"],
        with_results=True,
    )
    b = make_study("NCT90000012")
    a["protocolSection"]["conditionsModule"]["conditions"].append("mutated")
    assert "mutated" not in b["protocolSection"]["conditionsModule"]["conditions"]
    a["protocolSection"]["conditionsModule"]["conditions"].pop()
    study = parse_study(a)
    assert study.nct_id == "NCT90000011"
    assert study.last_update_posted_on == "2026-11-21"
    assert study.overall_status == "COMPLETED"
    assert study.enrollment_count == 120
    assert study.brief_title == "Exosomes from MSC in pancreatic cancer"
    assert study.brief_summary == "Cell-free secretome."
    assert [(i.type, i.name) for i in study.interventions] == [
        ("BIOLOGICAL", "MSC-derived exosomes"),
        ("DRUG", "Gemcitabine"),
    ]
    assert study.arms[0].interventions == ("Biological: MSC-derived exosomes", "Drug: Gemcitabine")
    assert study.conditions == ("Pancreatic Cancer",)
    assert study.phases == ("PHASE1", "PHASE2")
    assert study.has_results and study.results_first_posted_on == "2026-11-21"
    assert study.result_outcomes
    plain = parse_study(b)
    assert plain.has_results is False and plain.result_outcomes == () and plain.results_first_posted_on is None
    assert plain.overall_status == "RECRUITING"  # the base's value is kept
    assert parse_study(make_study(nct(13), phases=[])).phases == ()


def test_make_study_from_other_bases_and_updates():
    full = make_study(nct(14), base=FULL_WITH_RESULTS, with_results=True)
    assert parse_study(full).result_outcomes[0].measure == "Invasive Disease Free Survival (iDFS)"
    from_page = make_study(nct(15), base=f"page:{STUDIES_PAGE_10}#4", last_update=None)
    assert parse_study(from_page).phases == ("EARLY_PHASE1",)
    updated = make_study(nct(16), updates={"protocolSection.designModule.designInfo.primaryPurpose": "PREVENTION",
                                           "protocolSection.statusModule.whyStopped": None})
    assert parse_study(updated).primary_purpose == "PREVENTION"
    with pytest.raises(ValueError):
        make_study(nct(17), base=STUDIES_PAGE_10)


def test_make_page_and_nct():
    assert nct(1) == "NCT90000001"
    assert NCT.match(nct(9_999_999))
    page = make_page([make_study(nct(1))], next_page_token="abc", total_count=5)
    assert set(page) == {"studies", "nextPageToken", "totalCount"}
    assert set(make_page([])) == {"studies"}


# ------------------------------------------------------------------------------------- build_params


def test_build_params_full_and_incremental():
    assert build_params("exosome OR secretome", since=None, page_size=1000) == {
        "query.term": "exosome OR secretome",
        "pageSize": "1000",
        "countTotal": "true",
        "fields": "ProtocolSection,ResultsSection,DerivedSection,HasResults",
    }
    params = build_params("exosome", since=date(2026, 11, 18), page_size=50)
    assert params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-11-18,MAX]"
    assert params["pageSize"] == "50"
    assert params["fields"] == "ProtocolSection,ResultsSection,DerivedSection,HasResults"
    assert "pageToken" not in params and "query.intr" not in params


def test_build_params_takes_the_day_of_a_datetime():
    from datetime import datetime

    params = build_params("x", since=datetime(2026, 11, 18, 23, 59), page_size=10)
    assert params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-11-18,MAX]"


def test_build_params_is_deterministic_and_validates():
    a = build_params(" exosome ", since=date(2026, 1, 2), page_size=5000)
    assert a == build_params("exosome", since=date(2026, 1, 2), page_size=5000)
    assert a["pageSize"] == "1000"  # the API maximum
    with pytest.raises(ValueError):
        build_params("  ", since=None, page_size=10)
    with pytest.raises(ValueError):
        build_params("x", since=None, page_size=0)
