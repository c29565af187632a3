"""The digest's wording: pure phase / status / class labels and ``describe_event`` (one line per event).

Imports domain only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.domain import Event, EventKind

__all__ = ["CLASS_LABELS", "PHASE_LABELS", "clean", "describe_event", "phase_label", "status_label"]

PHASE_LABELS = {"EARLY_PHASE1": "Early phase 1", "PHASE1": "Phase 1", "PHASE1/PHASE2": "Phase 1/2",
                "PHASE2": "Phase 2", "PHASE2/PHASE3": "Phase 2/3", "PHASE3": "Phase 3", "PHASE4": "Phase 4",
                "NA": "Not applicable"}
CLASS_LABELS = {"extracellular_vesicle": "Extracellular vesicles / exosomes", "cell_free_secretome": "Secretome "
                "(cell-free)", "cell_based": "Cell-based", "biomarker": "Biomarker only", "other": "Other"}


# --- labels and small helpers -------------------------------------------------------------------------------
def clean(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def phase_label(phase: str | None) -> str:
    if not phase:
        return "No phase (observational)"
    return PHASE_LABELS.get(phase) or " / ".join(PHASE_LABELS.get(p, p) for p in phase.split("/"))


def status_label(status: str | None) -> str:
    if not status:
        return "Unknown status"
    if status == "ACTIVE_NOT_RECRUITING":
        return "Active, not recruiting"
    return status.replace("_", " ").capitalize()


def _value_label(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, list | tuple):
        return clean(", ".join(_value_label(v) for v in value), 160)
    if isinstance(value, Mapping):
        return _mapping_label(value)
    if isinstance(value, str) and value in PHASE_LABELS:
        return PHASE_LABELS[value]
    if isinstance(value, str) and value.isupper() and value.replace("_", "").isalpha():
        return status_label(value)
    return clean(value, 120)


def _mapping_label(value: Mapping[str, Any]) -> str:
    """Labels for the dict-valued material fields (enrolment, classification, interventions, references)."""
    if "product_class" in value:
        label = CLASS_LABELS.get(str(value["product_class"]), str(value["product_class"]))
        return f"{label} ({'cell-free' if value.get('cell_free') else 'not cell-free'})"
    if "count" in value:
        kind = f" ({str(value['type']).lower()})" if value.get("type") else ""
        return f"{value['count']}{kind}"
    if value.get("pmid"):
        return f"PMID {value['pmid']}"
    named = value.get("name") or value.get("label")
    if named:
        return clean(named, 80)
    return clean(", ".join(f"{k}={v}" for k, v in value.items()), 120)


# --- event descriptions (payloads are written by the check pipeline; unknown keys are ignored) ------------------
def _strings(payload: Mapping[str, Any], *keys: str) -> list[str] | None:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, list | tuple):
            return [clean(v.get("measure") or v.get("title") if isinstance(v, Mapping) else v, 160) for v in value]
    return None


def _change_text(change: Mapping[str, Any]) -> str:
    field = str(change.get("field") or "").replace("_", " ")
    text = f"{_value_label(change.get('old'))} → {_value_label(change.get('new'))}"
    return f"{field}: {text}" if field else text


def describe_event(event: Event) -> str:
    """One line saying what happened, from the event's payload; empty when the section title says it all."""
    p = event.payload
    if event.kind is EventKind.RESULTS_POSTED:
        measures = _strings(p, "efficacy_outcomes", "efficacy_measures")
        posted = p.get("results_first_posted_on")
        text = f"results first posted {posted}" if posted else "results posted"
        if measures:
            return f"{text}; efficacy outcome measures: {'; '.join(measures)}"
        return f"{text}; no efficacy outcome measure (safety / feasibility only)" if measures == [] else text
    if event.kind is EventKind.EFFICACY_REPORTED:
        measures = _strings(p, "efficacy_outcomes", "efficacy_measures", "outcomes")
        if p.get("pmid") or p.get("source") == "pubmed":
            return f"efficacy reported in PubMed (PMID {clean(p.get('pmid', '?'), 20)})"
        return "efficacy outcome measures posted on ClinicalTrials.gov" + (f": {'; '.join(measures)}" if measures
                                                                            else "")
    if event.kind is EventKind.PUBLICATION_LINKED:
        how = p.get("how")
        return f"linked via {clean(how, 40).replace('_', ' ')}" if how else ""
    if event.kind is EventKind.RESULTS_SUBMITTED:
        return clean(p.get("state") or p.get("results_submission") or "", 160)
    changes = p.get("changes")
    if isinstance(changes, list):
        return "; ".join(_change_text(c) for c in changes if isinstance(c, Mapping))
    if "old" in p or "new" in p:
        return _change_text(p)
    return ""

