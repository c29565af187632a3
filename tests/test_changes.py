from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from monitor.changes import MATERIAL_FIELDS, change_events, diff_states, material_state, results_events
from monitor.domain import Classification, EventKind, Intervention, Outcome, Study

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CLS = Classification(
    product_class="extracellular_vesicle",
    cell_free=True,
    engineered=False,
    source="plant",
    phase="PHASE1",
    cancer=True,
    cancer_types=("colorectal",),
)


def study(**kw):
    base = dict(
        nct_id="NCT01294072",
        brief_title="Curcumin plant exosomes",
        overall_status="RECRUITING",
        phases=("PHASE1",),
        enrollment_count=35,
        enrollment_type="ESTIMATED",
        start_date="2011-01",
        last_update_posted_on="2026-11-20",
        interventions=(Intervention(type="DIETARY_SUPPLEMENT", name="curcumin exosomes"),),
    )
    base.update(kw)
    return Study(**base)


def test_first_sighting_yields_no_change():
    assert diff_states("NCT01294072", None, material_state(study(), CLS), seen_at=NOW) == []


def test_status_and_enrollment_change_field_by_field():
    old = material_state(study(), CLS)
    new = material_state(study(overall_status="COMPLETED", enrollment_count=7, enrollment_type="ACTUAL"), CLS)
    changes = diff_states("NCT01294072", old, new, seen_at=NOW)
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("overall_status", "RECRUITING", "COMPLETED"),
        ("enrollment", {"count": 35, "type": "ESTIMATED"}, {"count": 7, "type": "ACTUAL"}),
    ]
    events = change_events("NCT01294072", changes, version="2026-11-21", query="q", now=NOW)
    assert {e.kind for e in events} == {EventKind.STATUS_CHANGED, EventKind.ENROLLMENT_CHANGED}
    assert all(e.key.startswith(f"{e.kind.value}:NCT01294072:2026-11-21:") for e in events)


def test_volatile_fields_are_not_material():
    raw_a = {"derivedSection": {"miscInfoModule": {"versionHolder": "2026-11-24"}}}
    raw_b = {"derivedSection": {"miscInfoModule": {"versionHolder": "2026-11-25"}}}
    a = material_state(study(raw=raw_a, last_update_posted_on="2026-11-20"), CLS)
    b = material_state(study(raw=raw_b, last_update_posted_on="2026-11-24"), CLS)
    assert diff_states("NCT01294072", a, b, seen_at=NOW) == []
    assert "versionHolder" not in str(sorted(MATERIAL_FIELDS))


def test_classification_change_is_a_design_change():
    old = material_state(study(), CLS)
    other = Classification(
        product_class="biomarker", cell_free=False, engineered=False, source="blood", phase="PHASE1", cancer=True
    )
    changes = diff_states("NCT01294072", old, material_state(study(), other), seen_at=NOW)
    assert [c.field for c in changes] == ["classification"]
    (event,) = change_events("NCT01294072", changes, version=None, query=None, now=NOW)
    assert event.kind is EventKind.DESIGN_CHANGED


def test_results_posted_with_efficacy_outcomes_reports_efficacy_once_keyed_by_trial():
    s = study(
        has_results=True,
        results_first_posted_on="2026-11-20",
        result_outcomes=(Outcome(measure="Objective response rate", type="PRIMARY", reporting_status="POSTED"),),
    )
    events = results_events(
        s, None, efficacy_outcomes=["Objective response rate"], outcome_kinds=[], query="q", now=NOW
    )
    assert [(e.kind, e.key) for e in events] == [
        (EventKind.RESULTS_POSTED, "results_posted:NCT01294072"),
        (EventKind.EFFICACY_REPORTED, "efficacy:NCT01294072"),
    ]


def test_results_submitted_only_while_not_posted():
    s = study(results_submission="submitted 2026-11-01")
    (event,) = results_events(s, None, efficacy_outcomes=[], outcome_kinds=[], query=None, now=NOW)
    assert event.kind is EventKind.RESULTS_SUBMITTED
    posted = study(results_submission="submitted 2026-11-01", has_results=True)
    kinds = [e.kind for e in results_events(posted, None, efficacy_outcomes=[], outcome_kinds=[], query=None, now=NOW)]
    assert kinds == [EventKind.RESULTS_POSTED]


statuses = st.sampled_from(["RECRUITING", "COMPLETED", "TERMINATED", None])


@given(statuses, st.integers(min_value=0, max_value=10_000) | st.none())
def test_a_state_never_differs_from_itself(status, count):
    s = material_state(study(overall_status=status, enrollment_count=count), CLS)
    assert diff_states("NCT01294072", s, dict(s), seen_at=NOW) == []
