"""Pure change detection: a trial's material state, field-by-field diffs and the events they mean.

Imports domain only. Volatile fields (``versionHolder``, ``lastUpdatePostDate``, raw text) are not part of the
material state, so they never produce a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from monitor.domain import Change, Classification, Event, EventKind, Study

# material field -> the event kind its change produces (results fields have their own events)
FIELD_EVENTS: dict[str, EventKind] = {
    "overall_status": EventKind.STATUS_CHANGED,
    "why_stopped": EventKind.STATUS_CHANGED,
    "phases": EventKind.PHASE_CHANGED,
    "enrollment": EventKind.ENROLLMENT_CHANGED,
    "start_date": EventKind.DATES_CHANGED,
    "primary_completion_date": EventKind.DATES_CHANGED,
    "completion_date": EventKind.DATES_CHANGED,
    "conditions": EventKind.DESIGN_CHANGED,
    "interventions": EventKind.DESIGN_CHANGED,
    "arms": EventKind.DESIGN_CHANGED,
    "primary_outcomes": EventKind.DESIGN_CHANGED,
    "lead_sponsor": EventKind.DESIGN_CHANGED,
    "references": EventKind.DESIGN_CHANGED,
    "classification": EventKind.DESIGN_CHANGED,
}
RESULTS_FIELDS = ("has_results", "results_first_posted_on", "results_submission", "posted_outcomes")
MATERIAL_FIELDS = tuple(FIELD_EVENTS) + RESULTS_FIELDS


def material_state(study: Study, classification: Classification) -> dict[str, Any]:
    """The fields whose changes are recorded (product.md section 4), as JSON-ready values."""
    return {
        "overall_status": study.overall_status,
        "why_stopped": study.why_stopped,
        "phases": list(study.phases),
        "enrollment": {"count": study.enrollment_count, "type": study.enrollment_type},
        "start_date": study.start_date,
        "primary_completion_date": study.primary_completion_date,
        "completion_date": study.completion_date,
        "conditions": list(study.conditions),
        "interventions": [{"type": i.type, "name": i.name} for i in study.interventions],
        "arms": [{"label": a.label, "type": a.type} for a in study.arms],
        "primary_outcomes": [o.measure for o in study.primary_outcomes],
        "lead_sponsor": study.lead_sponsor,
        "references": [{"pmid": r.pmid, "type": r.type} for r in study.references],
        "classification": classification.as_dict(),
        "has_results": study.has_results,
        "results_first_posted_on": study.results_first_posted_on,
        "results_submission": study.results_submission,
        # outcome measures with posted results: a later posting (say efficacy after safety) is a change
        "posted_outcomes": [o.measure for o in study.result_outcomes if o.reporting_status != "NOT_POSTED"],
    }


def diff_states(nct_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], *,
                seen_at: datetime) -> list[Change]:
    """One Change per material field whose value differs; a first sighting (old None) yields none."""
    if old is None:
        return []
    return [
        Change(nct_id=nct_id, field=name, old=old.get(name), new=new.get(name), seen_at=seen_at)
        for name in MATERIAL_FIELDS
        if _canonical(old.get(name)) != _canonical(new.get(name))
    ]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def short_hash(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()[:12]


def change_events(nct_id: str, changes: Sequence[Change], *, version: str | None, query: str | None,
                  now: datetime) -> list[Event]:
    """status/phase/enrollment/dates/design events: one per kind, listing its changed fields.

    The key names the record version (``lastUpdatePostDate``) and the new values, so a re-read of the same
    version never records the event twice while a later flip back is a new event.
    """
    by_kind: dict[EventKind, list[Change]] = {}
    for change in changes:
        kind = FIELD_EVENTS.get(change.field)
        if kind is not None:
            by_kind.setdefault(kind, []).append(change)
    events = []
    for kind, items in by_kind.items():
        payload = {"changes": [{"field": c.field, "old": c.old, "new": c.new} for c in items]}
        key = f"{kind.value}:{nct_id}:{version or '-'}:{short_hash(payload)}"
        events.append(Event(kind=kind, key=key, created_at=now, nct_id=nct_id, query=query, payload=payload))
    return events


def results_events(study: Study, old: Mapping[str, Any] | None, *, efficacy_outcomes: Sequence[str],
                   outcome_kinds: Sequence[Mapping[str, Any]], query: str | None, now: datetime) -> list[Event]:
    """results_submitted, results_posted (first time only) and efficacy_reported (first time, any source)."""
    nct = study.nct_id
    events: list[Event] = []
    had_submission = (old or {}).get("results_submission")
    if study.results_submission and study.results_submission != had_submission and not study.has_results:
        events.append(Event(
            kind=EventKind.RESULTS_SUBMITTED, key=f"results_submitted:{nct}:{short_hash(study.results_submission)}",
            created_at=now, nct_id=nct, query=query, payload={"results_submission": study.results_submission},
        ))
    if study.has_results:
        events.append(Event(
            kind=EventKind.RESULTS_POSTED, key=f"results_posted:{nct}", created_at=now, nct_id=nct, query=query,
            payload={"results_first_posted_on": study.results_first_posted_on,
                     "efficacy_outcomes": list(efficacy_outcomes), "outcomes": [dict(o) for o in outcome_kinds]},
        ))
        if efficacy_outcomes:
            events.append(efficacy_event(nct, now=now, query=query, payload={
                "source": "ctgov", "efficacy_outcomes": list(efficacy_outcomes),
                "results_first_posted_on": study.results_first_posted_on, "url": study.url,
            }))
    return events


def efficacy_event(nct_id: str, *, now: datetime, query: str | None, payload: Mapping[str, Any]) -> Event:
    """The one efficacy event of a trial: key ``efficacy:<nct_id>``, shared by CT.gov and PubMed."""
    return Event(kind=EventKind.EFFICACY_REPORTED, key=f"efficacy:{nct_id}", created_at=now, nct_id=nct_id,
                 query=query, payload=dict(payload))


def new_trial_event(nct_id: str, *, now: datetime, query: str | None) -> Event:
    return Event(kind=EventKind.NEW_TRIAL, key=f"new_trial:{nct_id}", created_at=now, nct_id=nct_id, query=query)
