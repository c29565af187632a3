"""Domain objects shared by every layer: frozen dataclasses and enums; imports nothing from monitor.

Sources return these, the classifier and the pipeline work on them, the store converts them to rows,
notifiers render them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

JSON = Any  # a value json.dumps accepts


def trial_url(nct_id: str) -> str:
    """The registry page of a trial."""
    return f"https://clinicaltrials.gov/study/{quote(nct_id)}"


def paper_url(pmid: str) -> str:
    """The PubMed page of an article."""
    return f"https://pubmed.ncbi.nlm.nih.gov/{quote(pmid)}/"


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; naive values (as SQLite returns them) are UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class EventKind(enum.StrEnum):
    """The fixed set of event kinds (product.md section 4)."""

    NEW_TRIAL = "new_trial"
    STATUS_CHANGED = "status_changed"
    PHASE_CHANGED = "phase_changed"
    ENROLLMENT_CHANGED = "enrollment_changed"
    DATES_CHANGED = "dates_changed"
    DESIGN_CHANGED = "design_changed"
    RESULTS_SUBMITTED = "results_submitted"
    RESULTS_POSTED = "results_posted"
    PUBLICATION_LINKED = "publication_linked"
    EFFICACY_REPORTED = "efficacy_reported"
    SOURCE_FAILING = "source_failing"
    SOURCE_RECOVERED = "source_recovered"


DEFAULT_ALERT_KINDS: frozenset[EventKind] = frozenset(
    {
        EventKind.EFFICACY_REPORTED,
        EventKind.RESULTS_POSTED,
        EventKind.NEW_TRIAL,
        EventKind.SOURCE_FAILING,
        EventKind.SOURCE_RECOVERED,
    }
)


class OutcomeKind(enum.StrEnum):
    """What an outcome measure or a paper measures (product.md section 3, efficacy vs safety)."""

    EFFICACY = "efficacy"
    SAFETY = "safety"
    FEASIBILITY = "feasibility"
    PHARMACOKINETIC = "pharmacokinetic"
    OTHER = "other"


PRODUCT_CLASSES = ("extracellular_vesicle", "cell_free_secretome", "cell_based", "biomarker", "other")
SOURCES = (
    "msc_perinatal",
    "msc_adult",
    "msc_unspecified",
    "dendritic_cell",
    "tumor_cell",
    "blood",
    "plant",
    "other",
    "unknown",
)
PHASES = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")


@dataclass(frozen=True)
class Query:
    """One watched topic, loaded from ``queries/<name>.toml``."""

    name: str
    path: str
    ctgov_terms: tuple[str, ...]
    pubmed_term: str | None = None
    rss_urls: tuple[str, ...] = ()
    alert_kinds: frozenset[EventKind] = DEFAULT_ALERT_KINDS
    new_trial_alert_requires_cell_free_cancer: bool = True
    description: str = ""


@dataclass(frozen=True)
class Intervention:
    type: str | None
    name: str
    description: str = ""
    other_names: tuple[str, ...] = ()
    arm_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Arm:
    label: str
    type: str | None = None
    description: str = ""
    interventions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """A registered outcome (protocol) or a results outcome measure (results section)."""

    measure: str
    description: str = ""
    time_frame: str = ""
    type: str | None = None  # PRIMARY / SECONDARY / OTHER_PRE_SPECIFIED / POST_HOC for results
    reporting_status: str | None = None  # POSTED / NOT_POSTED for results measures


@dataclass(frozen=True)
class Reference:
    pmid: str
    type: str | None = None  # BACKGROUND / RESULT / DERIVED
    citation: str = ""


# What the store keeps of a CT.gov record (``Study.stored_raw``): what ``parse_study`` and the classifier read, so that
# a reclassification from the store sees what a fresh poll would. protocolSection without the modules neither reads
# (locations and eligibility are the bulk of most records; a test checks that the classifier ignores them),
# hasResults, resultsSection.outcomeMeasuresModule and derivedSection.miscInfoModule.
UNSTORED_PROTOCOL_MODULES = frozenset(
    {"contactsLocationsModule", "eligibilityModule", "oversightModule", "ipdSharingStatementModule"}
)
_STORED_MODULES = {"resultsSection": "outcomeMeasuresModule", "derivedSection": "miscInfoModule"}


@dataclass(frozen=True)
class Study:
    """A ClinicalTrials.gov v2 study, normalised; ``raw`` keeps the record as the API sent it."""

    nct_id: str
    brief_title: str
    official_title: str = ""
    acronym: str = ""
    overall_status: str | None = None
    why_stopped: str | None = None
    study_type: str | None = None
    phases: tuple[str, ...] = ()
    primary_purpose: str | None = None
    enrollment_count: int | None = None
    enrollment_type: str | None = None
    start_date: str | None = None  # PartialDate: yyyy, yyyy-MM or yyyy-MM-dd
    primary_completion_date: str | None = None
    completion_date: str | None = None
    first_posted_on: str | None = None
    last_update_posted_on: str | None = None
    results_first_posted_on: str | None = None
    results_first_submitted_on: str | None = None
    has_results: bool = False
    results_submission: str | None = None  # summary of submissionTracking, None when absent
    lead_sponsor: str | None = None
    brief_summary: str = ""
    detailed_description: str = ""
    conditions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    arms: tuple[Arm, ...] = ()
    primary_outcomes: tuple[Outcome, ...] = ()
    secondary_outcomes: tuple[Outcome, ...] = ()
    result_outcomes: tuple[Outcome, ...] = ()
    references: tuple[Reference, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def title(self) -> str:
        return self.brief_title or self.official_title or self.nct_id

    def stored_raw(self) -> dict[str, Any]:
        """The part of ``raw`` the store keeps (see ``UNSTORED_PROTOCOL_MODULES``); shares its values with ``raw``.

        Other modules of resultsSection / derivedSection stay as empty objects, so that a record without
        ``hasResults`` still shows a (non-empty) resultsSection to the parser.
        """
        out: dict[str, Any] = {}
        for key, value in self.raw.items():
            if key == "protocolSection" and isinstance(value, Mapping):
                out[key] = {k: v for k, v in value.items() if k not in UNSTORED_PROTOCOL_MODULES}
            elif key in _STORED_MODULES and isinstance(value, Mapping):
                keep = _STORED_MODULES[key]
                out[key] = {k: (v if k == keep else {}) for k, v in value.items()}
            elif key in ("hasResults", "protocolSection", "resultsSection", "derivedSection"):
                out[key] = value
        return out

    @property
    def phase(self) -> str | None:
        """Phases joined with ``/`` (``PHASE1/PHASE2``), None when the record has none."""
        return "/".join(self.phases) if self.phases else None

    @property
    def url(self) -> str:
        return trial_url(self.nct_id)


@dataclass(frozen=True)
class Evidence:
    """Why a field has its value: which part of the record, and the words that decided it."""

    field: str  # e.g. "interventions[0].name", "conditions", "override"
    words: str


@dataclass(frozen=True)
class Classification:
    """The fields of product.md section 3, each with its evidence."""

    product_class: str
    cell_free: bool
    engineered: bool
    source: str
    phase: str | None
    cancer: bool
    cancer_types: tuple[str, ...] = ()
    evidence: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)
    overridden: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, JSON]:
        """Plain values (the JSON of ``monitor classify``), evidence excluded."""
        return {
            "product_class": self.product_class,
            "cell_free": self.cell_free,
            "engineered": self.engineered,
            "source": self.source,
            "phase": self.phase,
            "cancer": self.cancer,
            "cancer_types": list(self.cancer_types),
        }

    def to_json(self) -> dict[str, JSON]:
        """Plain values plus evidence and overridden fields, as stored with the trial."""
        return {
            **self.as_dict(),
            "evidence": {k: [{"field": e.field, "words": e.words} for e in v] for k, v in self.evidence.items()},
            "overridden": sorted(self.overridden),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> Classification:
        return cls(
            product_class=data["product_class"], cell_free=bool(data["cell_free"]),
            engineered=bool(data.get("engineered")), source=data.get("source", "unknown"), phase=data.get("phase"),
            cancer=bool(data.get("cancer")), cancer_types=tuple(data.get("cancer_types", ())),
            evidence={k: tuple(Evidence(e["field"], e["words"]) for e in v)
                      for k, v in (data.get("evidence") or {}).items()},
            overridden=frozenset(data.get("overridden", ())),
        )


@dataclass(frozen=True)
class TrialRecord:
    """A tracked trial as stored: current state, classification (with evidence) and bookkeeping."""

    nct_id: str
    title: str
    overall_status: str | None
    phase: str | None
    product_class: str
    cell_free: bool
    cancer: bool
    has_results: bool
    lead_sponsor: str | None
    last_update_posted_on: str | None
    state: Mapping[str, JSON]
    classification: Mapping[str, JSON]
    classifier_version: str
    override: Mapping[str, JSON]
    queries: tuple[str, ...]
    first_seen_at: datetime
    updated_at: datetime

    @property
    def url(self) -> str:
        return trial_url(self.nct_id)

    def card(self, publications: tuple[Mapping[str, JSON], ...] = ()) -> dict[str, JSON]:
        """The snapshot an alert carries (Slack renders it)."""
        c = self.classification
        return {
            "nct_id": self.nct_id, "title": self.title, "url": self.url,
            "product_class": self.product_class, "cell_free": self.cell_free,
            "engineered": bool(c.get("engineered")), "source": c.get("source"), "phase": self.phase,
            "status": self.overall_status, "sponsor": self.lead_sponsor, "cancer": self.cancer,
            "cancer_types": list(c.get("cancer_types", [])), "evidence": dict(c.get("evidence", {})),
            "overridden": list(c.get("overridden", [])), "publications": [dict(p) for p in publications],
        }


@dataclass(frozen=True)
class Publication:
    """A PubMed article (or book article) as parsed from efetch XML."""

    pmid: str
    title: str
    abstract: str = ""
    journal: str = ""
    published_on: str | None = None  # yyyy, yyyy-MM or yyyy-MM-dd, or a MedlineDate text
    doi: str | None = None
    pmc_id: str | None = None
    publication_types: tuple[str, ...] = ()
    databank_nct_ids: tuple[str, ...] = ()  # DataBankList ClinicalTrials.gov accession numbers
    text_nct_ids: tuple[str, ...] = ()  # NCT ids found in the title or abstract
    is_book: bool = False

    @property
    def url(self) -> str:
        return paper_url(self.pmid)

    @property
    def nct_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.databank_nct_ids + self.text_nct_ids))


class LinkHow(enum.StrEnum):
    """How a paper was linked to a trial."""

    DATABANK = "databank"  # PubMed DataBankList / [si]
    REGISTRY_REFERENCE = "registry_reference"  # a CT.gov reference (RESULT, DERIVED, BACKGROUND)
    TEXT_MENTION = "text_mention"  # the NCT id appears in the title or abstract


@dataclass(frozen=True)
class Change:
    """A material field of a trial that changed between two sightings."""

    nct_id: str
    field: str
    old: JSON
    new: JSON
    seen_at: datetime


@dataclass(frozen=True)
class Event:
    """Something users hear about; ``key`` is unique, so an event is recorded once."""

    kind: EventKind
    key: str
    created_at: datetime
    nct_id: str | None = None
    query: str | None = None
    payload: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """An outbox row: one message about one trial (or one source), covering one or more events."""

    id: int
    key: str
    nct_id: str | None
    query: str | None
    events: tuple[Event, ...]
    trial: Mapping[str, JSON]  # snapshot of the trial when the alert was written (see store.trial_card)
    status: str  # pending / sending / sent
    attempts: int = 0
    created_at: datetime | None = None
    last_error: str | None = None
    message_ts: str | None = None
    baseline_summary: bool = False


@dataclass(frozen=True)
class NewAlert:
    """An alert to queue in the outbox, in the same transaction as its events (``Tx.add_alerts``)."""

    key: str
    events: Sequence[Event]
    nct_id: str | None
    query: str | None
    trial: Mapping[str, Any]  # the trial card (or, for a baseline summary, its counts)
    created_at: datetime
    baseline_summary: bool = False


@dataclass(frozen=True)
class SyncState:
    """Per (source, query): how far the last complete run got."""

    source: str
    query: str
    watermark: date | None = None  # CT.gov: LastUpdatePostDate; PubMed: creation date
    data_timestamp: str | None = None  # CT.gov /version dataTimestamp of the last complete run
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    failing: bool = False
    last_error: str | None = None


@dataclass
class CheckReport:
    """What one ``monitor check`` did, per query and in total."""

    new: int = 0
    changed: int = 0
    results: int = 0
    publications: int = 0
    alerts_sent: int = 0
    alerts_pending: int = 0
    errors: list[str] = field(default_factory=list)
    rows: list[dict[str, JSON]] = field(default_factory=list)  # one per (source, query)
    skipped: list[str] = field(default_factory=list)  # e.g. "ctgov/secretome-cancer: dataTimestamp unchanged"

    @property
    def ok(self) -> bool:
        return not self.errors
