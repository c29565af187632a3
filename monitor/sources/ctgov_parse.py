"""ClinicalTrials.gov API v2 study records -> :class:`monitor.domain.Study`: pure, no I/O; imports domain, errors.

``parse_study`` turns one v2 study record into a Study; a record without an nctId or with a field of an impossible
type raises RecordError naming the study and the JSON path. ``type_name`` words a JSON value's type for errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitor.domain import Arm, Intervention, Outcome, Reference, Study
from monitor.errors import RecordError


class _Reader:
    """Typed access to one study record; every type error names the study and the JSON path."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, what: str) -> RecordError:
        return RecordError(f"study {self.label}: {what}")

    # Each accessor tests the exact JSON type first (``type(v) is dict`` is far cheaper than an ABC check), then
    # falls back to the general check, so the accepted values and the errors are those of the general check.

    def obj(self, parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = parent.get(key)
        if type(value) is dict:
            return value
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(f"{path} is {type_name(value)}, expected an object")
        return value

    def text(self, parent: Mapping[str, Any], key: str, path: str) -> str | None:
        value = parent.get(key)
        if type(value) is str:
            return value
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{path} is {type_name(value)}, expected a string")
        return value

    def items(self, parent: Mapping[str, Any], key: str, path: str) -> Sequence[Any]:
        value = parent.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(f"{path} is {type_name(value)}, expected a list")
        return value

    def objs(self, parent: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Mapping[str, Any]]]:
        out = []
        for i, item in enumerate(self.items(parent, key, path)):
            if item is None:
                continue
            if type(item) is not dict and not isinstance(item, Mapping):
                raise self.fail(f"{path}[{i}] is {type_name(item)}, expected an object")
            out.append((f"{path}[{i}]", item))
        return out

    def texts(self, parent: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(self.items(parent, key, path)):
            if type(item) is str:
                out.append(item)
                continue
            if item is None:
                continue
            if not isinstance(item, str):
                raise self.fail(f"{path}[{i}] is {type_name(item)}, expected a string")
            out.append(item)
        return tuple(out)

    def integer(self, parent: Mapping[str, Any], key: str, path: str) -> int | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{path} is {type_name(value)}, expected an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise self.fail(f"{path} is {value!r}, expected an integer")
            value = int(value)
        return value

    def boolean(self, parent: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(f"{path} is {type_name(value)}, expected true or false")
        return value

    def date_of(self, parent: Mapping[str, Any], key: str, path: str) -> str | None:
        """The ``date`` of a DateStruct / PartialDateStruct, as the API sent it."""
        return self.text(self.obj(parent, key, path), "date", f"{path}.date")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}.get(
        type(value), "an object" if isinstance(value, Mapping) else type(value).__name__
    )


def parse_study(record: Mapping[str, Any], *, index: int | str | None = None) -> Study:
    """One ClinicalTrials.gov v2 study record -> Study (pure).

    Raises RecordError("study <nctId or #index>: <what is wrong>") when the record has no
    ``protocolSection.identificationModule.nctId`` or a field has an impossible type. Missing modules are fine
    (fields-limited records carry only parts of ``protocolSection``). ``hasResults`` defaults to whether the record
    shows a results-first-posted date or a resultsSection when the key itself is absent.
    """
    label = f"#{index}" if index is not None else "#?"
    if not isinstance(record, Mapping):
        raise RecordError(f"study {label}: the record is {type_name(record)}, expected an object")
    r = _Reader(label)
    protocol = r.obj(record, "protocolSection", "protocolSection")
    ident = r.obj(protocol, "identificationModule", "identificationModule")
    nct_id = r.text(ident, "nctId", "identificationModule.nctId")
    if not nct_id or not nct_id.strip():
        raise r.fail("no protocolSection.identificationModule.nctId")
    nct_id = nct_id.strip()
    r.label = nct_id

    status = r.obj(protocol, "statusModule", "statusModule")
    design = r.obj(protocol, "designModule", "designModule")
    design_info = r.obj(design, "designInfo", "designModule.designInfo")
    enrollment = r.obj(design, "enrollmentInfo", "designModule.enrollmentInfo")
    sponsors = r.obj(protocol, "sponsorCollaboratorsModule", "sponsorCollaboratorsModule")
    lead = r.obj(sponsors, "leadSponsor", "sponsorCollaboratorsModule.leadSponsor")
    description = r.obj(protocol, "descriptionModule", "descriptionModule")
    conditions = r.obj(protocol, "conditionsModule", "conditionsModule")
    arms_mod = r.obj(protocol, "armsInterventionsModule", "armsInterventionsModule")
    outcomes = r.obj(protocol, "outcomesModule", "outcomesModule")
    refs = r.obj(protocol, "referencesModule", "referencesModule")
    results = r.obj(record, "resultsSection", "resultsSection")
    measures = r.obj(results, "outcomeMeasuresModule", "resultsSection.outcomeMeasuresModule")
    derived = r.obj(record, "derivedSection", "derivedSection")
    misc = r.obj(derived, "miscInfoModule", "derivedSection.miscInfoModule")

    results_posted = r.date_of(status, "resultsFirstPostDateStruct", "statusModule.resultsFirstPostDateStruct")
    has_results = r.boolean(record, "hasResults", "hasResults")
    if has_results is None:
        has_results = bool(results_posted or results)

    interventions = tuple(
        Intervention(
            type=r.text(item, "type", f"{p}.type"),
            name=r.text(item, "name", f"{p}.name") or "",
            description=r.text(item, "description", f"{p}.description") or "",
            other_names=r.texts(item, "otherNames", f"{p}.otherNames"),
            arm_labels=r.texts(item, "armGroupLabels", f"{p}.armGroupLabels"),
        )
        for p, item in r.objs(arms_mod, "interventions", "armsInterventionsModule.interventions")
    )
    arms = tuple(
        Arm(
            label=r.text(item, "label", f"{p}.label") or "",
            type=r.text(item, "type", f"{p}.type"),
            description=r.text(item, "description", f"{p}.description") or "",
            interventions=r.texts(item, "interventionNames", f"{p}.interventionNames"),
        )
        for p, item in r.objs(arms_mod, "armGroups", "armsInterventionsModule.armGroups")
    )

    def registered(key: str) -> tuple[Outcome, ...]:
        return tuple(
            Outcome(
                measure=r.text(item, "measure", f"{p}.measure") or "",
                description=r.text(item, "description", f"{p}.description") or "",
                time_frame=r.text(item, "timeFrame", f"{p}.timeFrame") or "",
            )
            for p, item in r.objs(outcomes, key, f"outcomesModule.{key}")
        )

    result_outcomes = tuple(
        Outcome(
            measure=r.text(item, "title", f"{p}.title") or "",
            description=r.text(item, "description", f"{p}.description") or "",
            time_frame=r.text(item, "timeFrame", f"{p}.timeFrame") or "",
            type=r.text(item, "type", f"{p}.type"),
            reporting_status=r.text(item, "reportingStatus", f"{p}.reportingStatus"),
        )
        for p, item in r.objs(measures, "outcomeMeasures", "outcomeMeasuresModule.outcomeMeasures")
    )

    references = []
    for p, item in r.objs(refs, "references", "referencesModule.references"):
        pmid = item.get("pmid")
        if isinstance(pmid, int) and not isinstance(pmid, bool):
            pmid = str(pmid)
        elif pmid is not None and not isinstance(pmid, str):
            raise r.fail(f"{p}.pmid is {type_name(pmid)}, expected a string")
        if not pmid or not pmid.strip():
            continue
        references.append(
            Reference(
                pmid=pmid.strip(),
                type=r.text(item, "type", f"{p}.type"),
                citation=r.text(item, "citation", f"{p}.citation") or "",
            )
        )

    return Study(
        nct_id=nct_id,
        brief_title=r.text(ident, "briefTitle", "identificationModule.briefTitle") or "",
        official_title=r.text(ident, "officialTitle", "identificationModule.officialTitle") or "",
        acronym=r.text(ident, "acronym", "identificationModule.acronym") or "",
        overall_status=r.text(status, "overallStatus", "statusModule.overallStatus"),
        why_stopped=r.text(status, "whyStopped", "statusModule.whyStopped"),
        study_type=r.text(design, "studyType", "designModule.studyType"),
        phases=r.texts(design, "phases", "designModule.phases"),
        primary_purpose=r.text(design_info, "primaryPurpose", "designModule.designInfo.primaryPurpose"),
        enrollment_count=r.integer(enrollment, "count", "designModule.enrollmentInfo.count"),
        enrollment_type=r.text(enrollment, "type", "designModule.enrollmentInfo.type"),
        start_date=r.date_of(status, "startDateStruct", "statusModule.startDateStruct"),
        primary_completion_date=r.date_of(
            status, "primaryCompletionDateStruct", "statusModule.primaryCompletionDateStruct"
        ),
        completion_date=r.date_of(status, "completionDateStruct", "statusModule.completionDateStruct"),
        first_posted_on=r.date_of(status, "studyFirstPostDateStruct", "statusModule.studyFirstPostDateStruct"),
        last_update_posted_on=r.date_of(
            status, "lastUpdatePostDateStruct", "statusModule.lastUpdatePostDateStruct"
        ),
        results_first_posted_on=results_posted,
        results_first_submitted_on=r.text(status, "resultsFirstSubmitDate", "statusModule.resultsFirstSubmitDate"),
        has_results=has_results,
        results_submission=_submission_summary(r, misc),
        lead_sponsor=r.text(lead, "name", "sponsorCollaboratorsModule.leadSponsor.name"),
        brief_summary=r.text(description, "briefSummary", "descriptionModule.briefSummary") or "",
        detailed_description=r.text(description, "detailedDescription", "descriptionModule.detailedDescription")
        or "",
        conditions=r.texts(conditions, "conditions", "conditionsModule.conditions"),
        keywords=r.texts(conditions, "keywords", "conditionsModule.keywords"),
        interventions=interventions,
        arms=arms,
        primary_outcomes=registered("primaryOutcomes"),
        secondary_outcomes=registered("secondaryOutcomes"),
        result_outcomes=result_outcomes,
        references=tuple(references),
        raw=record,
    )


def _submission_summary(r: _Reader, misc: Mapping[str, Any]) -> str | None:
    """A short stable summary of ``derivedSection.miscInfoModule.submissionTracking`` (spec: SubmissionTracking).

    Results submitted to CT.gov but not yet posted show up here: ``estimatedResultsFirstSubmitDate``, one
    ``submissionInfos`` item per submission cycle (``releaseDate`` = submitted for QC review, ``unreleaseDate`` =
    withdrawn by the sponsor, ``resetDate`` = QC review comments returned to the sponsor) and ``firstMcpInfo``
    (the first public posting of the QC comments). Example: ``"first submitted 2024-01-02; submitted 2024-01-02;
    QC comments returned 2024-02-03; QC comments posted 2024-02-05"`` (one line).
    None when the record has no submissionTracking (or an empty one).
    """
    path = "derivedSection.miscInfoModule.submissionTracking"
    tracking = r.obj(misc, "submissionTracking", path)
    if not tracking:
        return None
    parts = []
    estimated = r.text(tracking, "estimatedResultsFirstSubmitDate", f"{path}.estimatedResultsFirstSubmitDate")
    if estimated:
        parts.append(f"first submitted {estimated}")
    for p, info in r.objs(tracking, "submissionInfos", f"{path}.submissionInfos"):
        release = r.text(info, "releaseDate", f"{p}.releaseDate")
        unrelease = r.text(info, "unreleaseDate", f"{p}.unreleaseDate")
        unknown = r.boolean(info, "unreleaseDateUnknown", f"{p}.unreleaseDateUnknown")
        reset = r.text(info, "resetDate", f"{p}.resetDate")
        if release:
            parts.append(f"submitted {release}")
        if unrelease:
            parts.append(f"withdrawn {unrelease}")
        elif unknown:
            parts.append("withdrawn (date unknown)")
        if reset:
            parts.append(f"QC comments returned {reset}")
    mcp = r.obj(tracking, "firstMcpInfo", f"{path}.firstMcpInfo")
    posted = r.date_of(mcp, "postDateStruct", f"{path}.firstMcpInfo.postDateStruct")
    if posted:
        parts.append(f"QC comments posted {posted}")
    return "; ".join(parts) or None
