"""Synthetic-but-realistic ClinicalTrials.gov v2 study records, made from REAL recorded records.

Every record starts as an independent copy of a recording in ``tests/recordings/ctgov/`` (see its README.md) and
then gets the changes asked for. Nothing here touches the network or monitor's code.

    from tests.factories import make_study, make_page, nct

    rec = make_study("NCT90000001", last_update="2026-11-20", status="COMPLETED", with_results=True)
    recs = [make_study(nct(i), title=f"Exosome trial {i}") for i in range(1, 2001)]
    page = make_page(recs[:1000], next_page_token="t2", total_count=2000)

Bases (file names in tests/recordings/ctgov/): ``xiaoyibao_NCT06008288_pancreatic.json`` (default, 13 KB, a
RECRUITING phase 2 cancer trial without results), ``aact_NCT00763412.json`` (the results donor: a small record
with a resultsSection), any other full single-study recording, or ``"page:<file>#<i>"`` for study i of a recorded
``/studies`` page (e.g. ``"page:xiaoyibao_studies_page_pancreatic_kras_10studies_full.json#3"``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parent / "recordings" / "ctgov"
DEFAULT_BASE = "xiaoyibao_NCT06008288_pancreatic.json"
RESULTS_DONOR = "aact_NCT00763412.json"
FULL_WITH_RESULTS = "mcode_NCT02513394_full_with_results_2023-10-06.json"
STUDIES_PAGE_10 = "xiaoyibao_studies_page_pancreatic_kras_10studies_full.json"


@functools.lru_cache(maxsize=64)
def _text(name: str) -> str:
    return (RECORDINGS / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=64)
def _base_text(base: str) -> str:
    """The JSON text of one study record (cached) so that every copy is a fast, independent json.loads."""
    if base.startswith("page:"):
        name, _, index = base[len("page:"):].partition("#")
        return json.dumps(json.loads(_text(name))["studies"][int(index or 0)])
    data = json.loads(_text(base))
    if "studies" in data:
        raise ValueError(f"{base} is a /studies page; use 'page:{base}#<i>' to pick one of its studies")
    return _text(base)


def load_recording(name: str) -> Any:
    """A fresh copy of a recorded JSON file (a study record or a whole /studies page)."""
    return json.loads(_text(name))


def recorded_studies(name: str = STUDIES_PAGE_10) -> list[dict[str, Any]]:
    """Fresh copies of the study records of a recorded ``/studies`` page."""
    return load_recording(name)["studies"]


def nct(i: int) -> str:
    """A synthetic but well-formed NCT id: ``nct(1) == "NCT90000001"`` (the 9xxxxxxx range is not yet issued)."""
    if not 0 <= i < 10_000_000:
        raise ValueError("nct(i) takes 0 <= i < 10,000,000")
    return f"NCT{90_000_000 + i:08d}"


def _module(record: dict[str, Any], *path: str) -> dict[str, Any]:
    node = record
    for key in path:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    return node


def set_path(record: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a record, creating objects on the way; ``value=None`` removes the key."""
    *parents, last = dotted.split(".")
    node = _module(record, *parents)
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value


def _intervention(item: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return dict(item)
    kind, sep, name = item.partition(":")
    if sep and kind.strip().upper() == kind.strip() and kind.strip().replace("_", "").isalpha():
        return {"type": kind.strip(), "name": name.strip()}
    return {"type": "BIOLOGICAL", "name": item}


def make_study(
    nct_id: str,
    *,
    base: str = DEFAULT_BASE,
    last_update: str | None = "2026-11-20",
    status: str | None = None,
    enrollment: int | None = None,
    enrollment_type: str | None = None,
    with_results: bool = False,
    results_posted: str | None = None,
    title: str | None = None,
    official_title: str | None = None,
    summary: str | None = None,
    description: str | None = None,
    interventions: Sequence[str | Mapping[str, Any]] | None = None,
    conditions: Sequence[str] | None = None,
    keywords: Sequence[str] | None = None,
    phases: Sequence[str] | None = None,
    why_stopped: str | None = None,
    start_date: str | None = None,
    primary_completion_date: str | None = None,
    completion_date: str | None = None,
    sponsor: str | None = None,
    references: Sequence[Mapping[str, Any]] | None = None,
    submission_tracking: Mapping[str, Any] | None = None,
    updates: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A study record: a copy of the recorded ``base`` with the changes asked for (None = keep the base's value).

    - ``last_update`` sets ``lastUpdatePostDateStruct`` (the fake server's incremental filter reads it; None keeps
      the base's date) and ``lastUpdateSubmitDate``;
    - ``with_results=True`` keeps the base's resultsSection or copies the results donor's
      (``aact_NCT00763412.json``); sets ``hasResults``, ``resultsFirstSubmitDate`` and
      ``resultsFirstPostDateStruct`` (``results_posted``, default ``last_update``); ``with_results=False`` removes
      them (also from a base that had results);
    - ``interventions``: each item a dict (used as is) or a string ``"DRUG: name"`` / ``"name"`` (type BIOLOGICAL);
      the arm groups are replaced by one EXPERIMENTAL arm naming them;
    - ``phases=[]`` removes the phases (like an observational study); ``submission_tracking`` is put in
      ``derivedSection.miscInfoModule.submissionTracking``; ``references`` replaces referencesModule.references;
    - ``updates`` maps dotted paths to values (``{"protocolSection.designModule.designInfo.primaryPurpose":
      "TREATMENT"}``), applied last; a None value removes the key.
    """
    record: dict[str, Any] = json.loads(_base_text(base))
    protocol = _module(record, "protocolSection")
    ident = _module(protocol, "identificationModule")
    status_mod = _module(protocol, "statusModule")
    ident["nctId"] = nct_id
    if title is not None:
        ident["briefTitle"] = title
    if official_title is not None:
        ident["officialTitle"] = official_title
    if last_update is not None:
        status_mod["lastUpdatePostDateStruct"] = {"date": last_update, "type": "ACTUAL"}
        status_mod["lastUpdateSubmitDate"] = last_update
    if status is not None:
        status_mod["overallStatus"] = status
    if why_stopped is not None:
        status_mod["whyStopped"] = why_stopped
    for key, value in (("startDateStruct", start_date), ("primaryCompletionDateStruct", primary_completion_date),
                       ("completionDateStruct", completion_date)):
        if value is not None:
            old = status_mod.get(key) if isinstance(status_mod.get(key), dict) else {}
            status_mod[key] = {"date": value, "type": old.get("type", "ESTIMATED")}
    if enrollment is not None or enrollment_type is not None:
        info = _module(protocol, "designModule", "enrollmentInfo")
        if enrollment is not None:
            info["count"] = enrollment
        if enrollment_type is not None:
            info["type"] = enrollment_type
    if phases is not None:
        design = _module(protocol, "designModule")
        if phases:
            design["phases"] = list(phases)
        else:
            design.pop("phases", None)
    if summary is not None:
        _module(protocol, "descriptionModule")["briefSummary"] = summary
    if description is not None:
        _module(protocol, "descriptionModule")["detailedDescription"] = description
    if conditions is not None:
        _module(protocol, "conditionsModule")["conditions"] = list(conditions)
    if keywords is not None:
        _module(protocol, "conditionsModule")["keywords"] = list(keywords)
    if sponsor is not None:
        _module(protocol, "sponsorCollaboratorsModule", "leadSponsor")["name"] = sponsor
    if interventions is not None:
        items = [_intervention(item) for item in interventions]
        arm = "Experimental arm"
        for item in items:
            item.setdefault("armGroupLabels", [arm])
        labels = [f"{_title_type(item.get('type'))}: {item.get('name', '')}" for item in items]
        module = _module(protocol, "armsInterventionsModule")
        module["interventions"] = items
        module["armGroups"] = [{"label": arm, "type": "EXPERIMENTAL", "interventionNames": labels}]
    if references is not None:
        _module(protocol, "referencesModule")["references"] = [dict(r) for r in references]
    if with_results:
        if not isinstance(record.get("resultsSection"), dict):
            record["resultsSection"] = json.loads(_base_text(RESULTS_DONOR))["resultsSection"]
        record["hasResults"] = True
        posted = results_posted or last_update or status_mod.get("lastUpdatePostDateStruct", {}).get("date")
        status_mod["resultsFirstPostDateStruct"] = {"date": posted, "type": "ACTUAL"}
        status_mod.setdefault("resultsFirstSubmitDate", posted)
        status_mod.setdefault("resultsFirstSubmitQcDate", posted)
    else:
        record.pop("resultsSection", None)
        record["hasResults"] = False
        for key in ("resultsFirstPostDateStruct", "resultsFirstSubmitDate", "resultsFirstSubmitQcDate"):
            status_mod.pop(key, None)
    if submission_tracking is not None:
        _module(record, "derivedSection", "miscInfoModule")["submissionTracking"] = dict(submission_tracking)
    for dotted, value in (updates or {}).items():
        set_path(record, dotted, value)
    return record


def _title_type(kind: Any) -> str:
    """``DIETARY_SUPPLEMENT`` -> ``Dietary Supplement`` (how armGroups name interventions)."""
    return str(kind or "Other").replace("_", " ").title()


def make_page(studies: Sequence[Mapping[str, Any]], *, next_page_token: str | None = None,
              total_count: int | None = None) -> dict[str, Any]:
    """A ``/studies`` body: ``{"studies": [...], "nextPageToken"?, "totalCount"?}`` (keys the API omits stay out)."""
    page: dict[str, Any] = {"studies": [dict(s) for s in studies]}
    if next_page_token is not None:
        page["nextPageToken"] = next_page_token
    if total_count is not None:
        page["totalCount"] = total_count
    return page


__all__ = [
    "DEFAULT_BASE",
    "FULL_WITH_RESULTS",
    "RECORDINGS",
    "RESULTS_DONOR",
    "STUDIES_PAGE_10",
    "load_recording",
    "make_page",
    "make_study",
    "nct",
    "recorded_studies",
    "set_path",
]
