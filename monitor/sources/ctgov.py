"""ClinicalTrials.gov API v2: parse study records and page through ``/studies``; imports domain, errors, http.

``parse_study`` turns one v2 study record into a :class:`monitor.domain.Study` (pure, no I/O).
``CtgovSource`` reads ``/version`` and streams ``/studies`` page by page for one search expression, optionally only
the studies whose LastUpdatePostDate is on or after a date (the incremental window).

Paging rules followed here (api-reference.md 1.4 and 1.6, product.md 2 and 8):

- every page is requested with exactly the same parameters, plus ``pageToken`` from the second page on;
- the result set ends only with a page that carries no ``nextPageToken``; an empty page that still carries a
  token is not the end;
- a token seen before (a loop) or more than ``max_pages`` pages end in a SourceError;
- when the first page announced ``totalCount`` and fewer distinct studies arrived (records that failed to parse
  count as arrived), the run ends in a SourceError after the last page, so the caller does not move its watermark;
- timeouts, 403/429/5xx, HTML or plain-text bodies, truncated JSON and bodies without a ``studies`` list are
  retried by :func:`monitor.sources.http.fetch`; when the retries run out it raises one SourceError line naming
  the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

import httpx

from monitor.domain import Arm, Intervention, Outcome, Reference, Study
from monitor.errors import RecordError, SourceError
from monitor.sources.http import BodyError, Pacer, decode_json, fetch

API_MAX_PAGE_SIZE = 1000
DEFAULT_MAX_PAGES = 10_000
# ``fields`` of every /studies request: the sections parse_study and the classifier read, nothing else.
# OpenAPI v2.0.5 (listStudies ``fields``): items are area, piece, field or special names, and "if a piece ... is a
# branch node, all descendant fields will be included"; ``ProtocolSection`` and ``HasResults`` are the spec's own
# examples, ``ResultsSection`` and ``DerivedSection`` are the Study schema's other section pieces (components
# ``ResultsSection`` / ``DerivedSection``). Read: all of protocolSection (parser and classifier), hasResults,
# resultsSection.outcomeMeasuresModule, derivedSection.miscInfoModule.submissionTracking. Left out:
# documentSection and annotationSection (never read). An invalid name is an HTTP 400 on every poll, so a test
# pins this exact value.
STUDY_FIELDS = "ProtocolSection,ResultsSection,DerivedSection,HasResults"


# ----------------------------------------------------------------------------------------------------- parsing


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
            raise self.fail(f"{path} is {_type_name(value)}, expected an object")
        return value

    def text(self, parent: Mapping[str, Any], key: str, path: str) -> str | None:
        value = parent.get(key)
        if type(value) is str:
            return value
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{path} is {_type_name(value)}, expected a string")
        return value

    def items(self, parent: Mapping[str, Any], key: str, path: str) -> Sequence[Any]:
        value = parent.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(f"{path} is {_type_name(value)}, expected a list")
        return value

    def objs(self, parent: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Mapping[str, Any]]]:
        out = []
        for i, item in enumerate(self.items(parent, key, path)):
            if item is None:
                continue
            if type(item) is not dict and not isinstance(item, Mapping):
                raise self.fail(f"{path}[{i}] is {_type_name(item)}, expected an object")
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
                raise self.fail(f"{path}[{i}] is {_type_name(item)}, expected a string")
            out.append(item)
        return tuple(out)

    def integer(self, parent: Mapping[str, Any], key: str, path: str) -> int | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{path} is {_type_name(value)}, expected an integer")
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
            raise self.fail(f"{path} is {_type_name(value)}, expected true or false")
        return value

    def date_of(self, parent: Mapping[str, Any], key: str, path: str) -> str | None:
        """The ``date`` of a DateStruct / PartialDateStruct, as the API sent it."""
        return self.text(self.obj(parent, key, path), "date", f"{path}.date")


def _type_name(value: Any) -> str:
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
        raise RecordError(f"study {label}: the record is {_type_name(record)}, expected an object")
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
            raise r.fail(f"{p}.pmid is {_type_name(pmid)}, expected a string")
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


# ----------------------------------------------------------------------------------------------------- paging


def build_params(expression: str, *, since: date | None, page_size: int) -> dict[str, str]:
    """The ``/studies`` parameters of one search; identical for every page (``pageToken`` is added per page).

    ``query.term`` searches the whole record. ``fields`` asks only for the sections the bot reads
    (:data:`STUDY_FIELDS`). ``since`` adds ``filter.advanced=AREA[LastUpdatePostDate]RANGE[<since>,MAX]``.
    """
    if not expression or not expression.strip():
        raise ValueError("empty ClinicalTrials.gov search expression")
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
    if isinstance(since, datetime):
        since = since.date()
    params = {
        "query.term": expression.strip(),
        "pageSize": str(min(page_size, API_MAX_PAGE_SIZE)),
        "countTotal": "true",
        "fields": STUDY_FIELDS,
    }
    if since is not None:
        params["filter.advanced"] = f"AREA[LastUpdatePostDate]RANGE[{since.isoformat()},MAX]"
    return params


@dataclass(frozen=True)
class Page:
    """One ``/studies`` page, parsed.

    ``number`` counts from 1. ``record_errors`` holds one line per record that could not be parsed (the rest of
    the page is in ``studies``). ``total_count`` is the ``totalCount`` of the first page (the API sends it only
    there), repeated on every page; None when the API did not send it.
    """

    number: int
    studies: tuple[Study, ...]
    record_errors: tuple[str, ...]
    next_page_token: str | None
    total_count: int | None

    @property
    def received(self) -> int:
        """Records on this page, parsed or not."""
        return len(self.studies) + len(self.record_errors)


@dataclass(frozen=True)
class _RawPage:
    studies: list[Any]
    next_page_token: str | None
    total_count: int | None


def _decode_page(response: httpx.Response) -> _RawPage:
    """A ``/studies`` body -> _RawPage; anything that is not a PagedStudies object is a BodyError (retried)."""
    body = decode_json(response)
    if not isinstance(body, dict):
        raise BodyError(f"expected a JSON object, got {_type_name(body)}")
    studies = body.get("studies")
    if not isinstance(studies, list):
        what = "no 'studies' key" if studies is None else f"'studies' is {_type_name(studies)}"
        raise BodyError(f"{what} in the page (keys: {', '.join(sorted(body)) or 'none'})")
    token = body.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise BodyError(f"'nextPageToken' is {_type_name(token)}, expected a string")
    total = body.get("totalCount")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise BodyError(f"'totalCount' is {total!r}, expected a count")
    return _RawPage(studies=studies, next_page_token=token or None, total_count=total)


def _decode_version(response: httpx.Response) -> Any:
    body = decode_json(response)
    if not isinstance(body, dict):
        raise BodyError(f"expected a JSON object, got {_type_name(body)}")
    return body


class CtgovSource:
    """ClinicalTrials.gov API v2 through a caller-made client (``make_client(settings.ctgov_url, ...)``)."""

    kind: ClassVar[str] = "ctgov"

    def __init__(
        self,
        client: httpx.Client,
        *,
        page_size: int = 1000,
        min_interval: float = 1.0,
        retries: int = 4,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        max_pages: int = DEFAULT_MAX_PAGES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        self.client = client
        self.page_size = min(page_size, API_MAX_PAGE_SIZE)
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.max_pages = max_pages
        self.pacer = Pacer(min_interval, clock=clock, sleep=sleep)

    def _fetch(
        self, url: str, decode: Callable[[httpx.Response], Any], what: str, params: Mapping[str, str] | None
    ) -> Any:
        return fetch(
            self.client,
            "GET",
            url,
            decode,
            what=what,
            params=params,
            retries=self.retries,
            backoff=self.backoff,
            pacer=self.pacer,
            sleep=self.sleep,
        )

    def data_timestamp(self) -> str:
        """``/version`` -> ``dataTimestamp`` (UTC ``yyyy-MM-ddTHH:mm:ss``); SourceError on failure or missing key."""
        body = self._fetch("version", _decode_version, "ClinicalTrials.gov /version", None)
        stamp = body.get("dataTimestamp")
        if not isinstance(stamp, str) or not stamp.strip():
            raise SourceError(
                f"ClinicalTrials.gov /version failed: no dataTimestamp in the answer (keys: {', '.join(sorted(body))})"
            )
        return stamp.strip()

    def iter_pages(self, expression: str, *, since: date | None) -> Iterator[Page]:
        """Stream the pages of one search, parsed; see the module docstring for the rules.

        The generator raises SourceError when a page cannot be read after the retries, on a repeated token, after
        ``max_pages`` pages, and after the last page when fewer studies arrived than the first page's totalCount.
        """
        params = build_params(expression, since=since, page_size=self.page_size)
        label = f"query.term={_short(expression.strip(), 80)!r}"
        seen_tokens: set[str] = set()
        seen_ids: set[str] = set()  # ids only: a study sent twice must not hide one never sent
        unparsed = 0
        token: str | None = None
        total: int | None = None
        number = 0
        while True:
            number += 1
            what = f"ClinicalTrials.gov /studies page {number} of {label}"
            if number > self.max_pages:
                raise SourceError(f"{what}: more than {self.max_pages} pages, giving up (paging does not end)")
            page_params = dict(params)
            if token is not None:
                page_params["pageToken"] = token
            raw: _RawPage = self._fetch("studies", _decode_page, what, page_params)
            if number == 1:
                total = raw.total_count
            token = raw.next_page_token
            studies, errors = self._parse_records(raw.studies, number)
            del raw
            seen_ids.update(study.nct_id for study in studies)
            unparsed += len(errors)
            if token is not None:
                if token in seen_tokens:
                    raise SourceError(
                        f"{what}: nextPageToken repeats an earlier token ({_short(token)}); paging would loop"
                    )
                seen_tokens.add(token)
            # the generator keeps no reference to the page while the caller holds it, so the page (and every
            # record in it) is freed the moment the caller lets it go: only one page in memory at a time
            box = [
                Page(number=number, studies=studies, record_errors=errors, next_page_token=token, total_count=total)
            ]
            del studies, errors
            yield box.pop()
            if token is None:
                break
        received = len(seen_ids) + unparsed
        if total is not None and received < total:
            raise SourceError(
                f"ClinicalTrials.gov /studies for {label}: received {received} of {total} studies announced by "
                f"totalCount in {number} pages; the result set is incomplete"
            )

    @staticmethod
    def _parse_records(records: Sequence[Any], number: int) -> tuple[tuple[Study, ...], tuple[str, ...]]:
        studies = []
        errors = []
        for i, record in enumerate(records, 1):
            try:
                studies.append(parse_study(record, index=i))
            except RecordError as exc:
                errors.append(f"page {number}: {exc}")
        return tuple(studies), tuple(errors)


def _short(token: str, limit: int = 24) -> str:
    return token if len(token) <= limit else token[:limit] + "..."
