"""Use case: the weekly digest. ``build_digest_data`` reads the store, ``send_digest`` renders, sends and records it.

Imports domain, errors and notify.email; receives the store and the notifier; never reads settings or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from monitor.config import zone as load_zone
from monitor.domain import Event, EventKind, TrialRecord
from monitor.errors import ConfigError, NotifyError
from monitor.notify.email import (
    Bar,
    ClassGroup,
    DigestData,
    EmailNotifier,
    KindSection,
    Landscape,
    LandscapeRow,
    PaperLine,
    PhaseGroup,
    SourceNote,
    StartingLandscape,
    TrialItem,
    render_digest,
    render_html,
)

if TYPE_CHECKING:
    from monitor.store.db import Store
    from monitor.store.models import DigestRow

__all__ = ["DigestData", "DigestReport", "build_digest_data", "send_digest"]

FIRST_PERIOD = timedelta(days=7)
KIND_ORDER = (
    EventKind.EFFICACY_REPORTED, EventKind.RESULTS_POSTED, EventKind.RESULTS_SUBMITTED,
    EventKind.PUBLICATION_LINKED, EventKind.NEW_TRIAL, EventKind.STATUS_CHANGED, EventKind.PHASE_CHANGED,
    EventKind.ENROLLMENT_CHANGED, EventKind.DATES_CHANGED, EventKind.DESIGN_CHANGED,
)
KIND_TITLES = {
    EventKind.EFFICACY_REPORTED: ("Efficacy reported", "First efficacy evidence for these trials (results or paper)."),
    EventKind.RESULTS_POSTED: ("Results posted", "ClinicalTrials.gov shows results for the first time."),
    EventKind.RESULTS_SUBMITTED: ("Results submitted", "In ClinicalTrials.gov quality control: not public yet, "
                                  "and a submission may still be withdrawn."),
    EventKind.PUBLICATION_LINKED: ("Papers linked", "PubMed articles newly linked to a tracked trial."),
    EventKind.NEW_TRIAL: ("New trials", "Registrations that matched a query for the first time."),
    EventKind.STATUS_CHANGED: ("Status changes", ""),
    EventKind.PHASE_CHANGED: ("Phase changes", ""),
    EventKind.ENROLLMENT_CHANGED: ("Enrolment changes", ""),
    EventKind.DATES_CHANGED: ("Date changes", ""),
    EventKind.DESIGN_CHANGED: ("Design changes",
                               "Conditions, interventions, arms, outcomes, sponsor or classification."),
}
SOURCE_KINDS = {EventKind.SOURCE_FAILING: "Source failing", EventKind.SOURCE_RECOVERED: "Source recovered"}
PHASE_ORDER = ("EARLY_PHASE1", "PHASE1", "PHASE1/PHASE2", "PHASE2", "PHASE2/PHASE3", "PHASE3", "PHASE4", "NA")
PHASE_LABELS = {"EARLY_PHASE1": "Early phase 1", "PHASE1": "Phase 1", "PHASE1/PHASE2": "Phase 1/2",
                "PHASE2": "Phase 2", "PHASE2/PHASE3": "Phase 2/3", "PHASE3": "Phase 3", "PHASE4": "Phase 4",
                "NA": "Not applicable"}
PHASE_SHORT = {"EARLY_PHASE1": "Early 1", "PHASE1": "Ph 1", "PHASE1/PHASE2": "Ph 1/2", "PHASE2": "Ph 2",
               "PHASE2/PHASE3": "Ph 2/3", "PHASE3": "Ph 3", "PHASE4": "Ph 4", "NA": "N/A"}
CLASS_LABELS = {"extracellular_vesicle": "Extracellular vesicles / exosomes", "cell_free_secretome": "Secretome "
                "(cell-free)", "cell_based": "Cell-based", "biomarker": "Biomarker only", "other": "Other"}
CELL_FREE_CLASSES = ("extracellular_vesicle", "cell_free_secretome")
CLASSIFICATION_FIELDS = ("classification", "cell_free", "product_class")


@dataclass(frozen=True)
class DigestReport:
    """What one ``send_digest`` call did. ``html`` is set for a preview."""

    period_start: datetime
    period_end: datetime
    subject: str
    recipients: tuple[str, ...]
    events: int
    sent: bool = False
    preview: bool = False
    html: str | None = None
    error: str | None = None
    refused: tuple[str, ...] = ()
    digest_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.preview or self.sent

    def summary(self) -> str:
        period = f"{self.period_start:%Y-%m-%d %H:%M} to {self.period_end:%Y-%m-%d %H:%M} UTC"
        if self.preview:
            return f"digest preview for {period}, {self.events} events; nothing sent"
        if not self.sent:
            return f"digest for {period} NOT sent (kept pending, retried next time): {self.error}"
        refused = f"; refused: {', '.join(self.refused)}" if self.refused else ""
        return f"digest for {period} sent to {len(self.recipients)} recipients, {self.events} events{refused}"


# --- labels and small helpers -------------------------------------------------------------------------------
def _utc(moment: datetime) -> datetime:
    """Aware UTC; naive values (as SQLite returns them) are UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)



def _clean(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def phase_label(phase: str | None) -> str:
    if not phase:
        return "No phase (observational)"
    return PHASE_LABELS.get(phase) or " / ".join(PHASE_LABELS.get(p, p) for p in phase.split("/"))


def _phase_key(phase: str | None) -> tuple[int, str]:
    if phase is None:
        return (len(PHASE_ORDER) + 1, "")
    return (PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER), phase)


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
        return _clean(", ".join(_value_label(v) for v in value), 160)
    if isinstance(value, Mapping):
        return _mapping_label(value)
    if isinstance(value, str) and value in PHASE_LABELS:
        return PHASE_LABELS[value]
    if isinstance(value, str) and value.isupper() and value.replace("_", "").isalpha():
        return status_label(value)
    return _clean(value, 120)


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
        return _clean(named, 80)
    return _clean(", ".join(f"{k}={v}" for k, v in value.items()), 120)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def trial_url(nct_id: str) -> str:
    return f"https://clinicaltrials.gov/study/{quote(nct_id)}"


def paper_url(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{quote(pmid)}/"


# --- event descriptions (payloads are written by the check pipeline; unknown keys are ignored) ------------------
def _strings(payload: Mapping[str, Any], *keys: str) -> list[str] | None:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, list | tuple):
            return [_clean(v.get("measure") or v.get("title") if isinstance(v, Mapping) else v, 160) for v in value]
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
            return f"efficacy reported in PubMed (PMID {_clean(p.get('pmid', '?'), 20)})"
        return "efficacy outcome measures posted on ClinicalTrials.gov" + (f": {'; '.join(measures)}" if measures
                                                                            else "")
    if event.kind is EventKind.PUBLICATION_LINKED:
        how = p.get("how")
        return f"linked via {_clean(how, 40).replace('_', ' ')}" if how else ""
    if event.kind is EventKind.RESULTS_SUBMITTED:
        return _clean(p.get("state") or p.get("results_submission") or "", 160)
    changes = p.get("changes")
    if isinstance(changes, list):
        return "; ".join(_change_text(c) for c in changes if isinstance(c, Mapping))
    if "old" in p or "new" in p:
        return _change_text(p)
    return ""


# --- building the digest ----------------------------------------------------------------------------------------
class _Reader:
    """The store reads of one digest, with trials and papers cached."""

    def __init__(self, store: Store, zone: ZoneInfo) -> None:
        self.store = store
        self.zone = zone
        self.trials: dict[str, TrialRecord] = {t.nct_id: t for t in store.trials()}
        self._papers: dict[str, PaperLine] = {}

    def paper(self, pmid: str, payload: Mapping[str, Any]) -> PaperLine:
        if pmid not in self._papers:
            found = self.store.publication(pmid)
            pub = found[0] if found else None
            title = pub.title if pub else payload.get("title") or f"PMID {pmid}"
            journal = pub.journal if pub else payload.get("journal") or ""
            published = pub.published_on if pub else payload.get("published_on")
            self._papers[pmid] = PaperLine(pmid=pmid, title=_clean(title), url=paper_url(pmid),
                                           journal=_clean(journal, 120), published_on=_clean(published or "", 40))
        return self._papers[pmid]

    def papers(self, events: Iterable[Event]) -> tuple[PaperLine, ...]:
        out: dict[str, PaperLine] = {}
        for e in events:
            pmids = [e.payload.get("pmid")] + list(e.payload.get("pmids") or [])
            for pmid in (str(p) for p in pmids if p):
                out[pmid] = self.paper(pmid, e.payload)
        return tuple(out.values())

    def item(self, nct_id: str, events: Sequence[Event] = ()) -> TrialItem:
        row = self.trials.get(nct_id)
        details = tuple(dict.fromkeys(d for d in (describe_event(e) for e in events) if d))
        fallback = next((e.payload.get("title") for e in events if e.payload.get("title")), nct_id)
        return TrialItem(
            nct_id=nct_id, title=_clean(row.title if row else fallback), url=trial_url(nct_id),
            phase=phase_label(row.phase if row else None), status=status_label(row.overall_status if row else None),
            product_class=CLASS_LABELS.get(row.product_class, row.product_class) if row else "Not tracked",
            cell_free=bool(row and row.cell_free), details=details, papers=self.papers(events),
        )

    def group(self, items: Sequence[TrialItem]) -> tuple[ClassGroup, ...]:
        """Cell-free first, then the others; each by phase in development order."""
        groups = []
        for cell_free, label in ((True, "Cell-free (EV / secretome)"), (False, "Other trials")):
            chosen = [i for i in items if i.cell_free is cell_free]
            phases: dict[str | None, list[TrialItem]] = {}
            for item in sorted(chosen, key=lambda i: i.nct_id):
                row = self.trials.get(item.nct_id)
                phases.setdefault(row.phase if row else None, []).append(item)
            if phases:
                ordered = sorted(phases.items(), key=lambda kv: _phase_key(kv[0]))
                groups.append(ClassGroup(label, cell_free, tuple(PhaseGroup(phase_label(k), tuple(v))
                                                                 for k, v in ordered)))
        return tuple(groups)


def _sections(reader: _Reader, news: Sequence[Event]) -> tuple[tuple[KindSection, ...], tuple[SourceNote, ...]]:
    by_kind: dict[EventKind, dict[str, list[Event]]] = {}
    notes = []
    for e in news:
        if e.kind in SOURCE_KINDS or e.nct_id is None:
            notes.append(_source_note(e, reader.zone))
            continue
        by_kind.setdefault(e.kind, {}).setdefault(e.nct_id, []).append(e)
    sections = []
    for kind in KIND_ORDER:
        if kind in by_kind:
            items = [reader.item(nct_id, events) for nct_id, events in by_kind[kind].items()]
            title, note = KIND_TITLES[kind]
            sections.append(KindSection(kind.value, title, note, reader.group(items)))
    return tuple(sections), tuple(notes)


def _source_note(event: Event, zone: ZoneInfo) -> SourceNote:
    p = event.payload
    where = " / ".join(_clean(x, 60) for x in (p.get("source"), p.get("query") or event.query) if x)
    if event.kind is EventKind.SOURCE_FAILING:
        detail = f"{p.get('failures', 'several')} failed polls in a row: {_clean(p.get('error') or '?', 200)}"
    elif event.kind is EventKind.SOURCE_RECOVERED:
        detail = f"works again after {p.get('failures', 'several')} failed polls"
    else:
        detail = describe_event(event)
    kind = SOURCE_KINDS.get(event.kind) or KIND_TITLES.get(event.kind, (event.kind.value,))[0]
    at = _utc(event.created_at).astimezone(zone)
    return SourceNote(kind, ": ".join(x for x in (where, detail) if x), f"{at:%a %d %b %H:%M}")


def _cell_free_changes(reader: _Reader, nct_ids: Iterable[str], since: datetime,
                       until: datetime) -> tuple[list[str], list[str]]:
    """Of ``nct_ids``, those whose classification became cell-free / stopped being cell-free in the period
    (a classification change always comes with a design_changed event, so only trials with news are read)."""
    gained, lost = [], []
    for nct_id in sorted(set(nct_ids)):
        for change in reader.store.changes(nct_id):
            if change.field not in CLASSIFICATION_FIELDS or not since <= _utc(change.seen_at) < until:
                continue
            old, new = (_is_cell_free(change.field, v) for v in (change.old, change.new))
            if old is False and new is True:
                gained.append(nct_id)
            elif old is True and new is False:
                lost.append(nct_id)
    return sorted(set(gained)), sorted(set(lost))


def _is_cell_free(field: str, value: Any) -> bool | None:
    if field == "classification":
        return value.get("cell_free") if isinstance(value, Mapping) else None
    if field == "product_class":
        return value in CELL_FREE_CLASSES if isinstance(value, str) else None
    return value if isinstance(value, bool) else None


def _landscape_changes(reader: _Reader, news: Sequence[Event], since: datetime, until: datetime) -> tuple[str, ...]:
    def trials_with(kind: EventKind) -> list[str]:
        return sorted({e.nct_id for e in news if e.kind is kind and e.nct_id})

    new = trials_with(EventKind.NEW_TRIAL)
    cell_free_new = [n for n in new if (row := reader.trials.get(n)) is not None and row.cell_free]
    gained, lost = _cell_free_changes(reader, (e.nct_id for e in news if e.nct_id), since, until)
    lines = []
    if new:
        lines.append(f"+{_plural(len(new), 'trial')} ({len(cell_free_new)} cell-free)")
    if gained:
        lines.append(f"newly cell-free: {', '.join(gained)}")
    if lost:
        lines.append(f"no longer cell-free: {', '.join(lost)}")
    if results := trials_with(EventKind.RESULTS_POSTED):
        lines.append(f"+{len(results)} with results: {', '.join(results)}")
    if efficacy := trials_with(EventKind.EFFICACY_REPORTED):
        lines.append(f"+{len(efficacy)} with efficacy evidence: {', '.join(efficacy)}")
    if status := trials_with(EventKind.STATUS_CHANGED):
        lines.append(f"{_plural(len(status), 'status change')}")
    return tuple(lines)


def _bars(pairs: Sequence[tuple[str, int, bool]]) -> tuple[Bar, ...]:
    top = max((count for _, count, _ in pairs), default=0) or 1
    return tuple(Bar(label, count, max(1, round(100 * count / top)) if count else 0, cell_free)
                 for label, count, cell_free in pairs)


def _landscape(reader: _Reader, changes: tuple[str, ...]) -> Landscape:
    trials = list(reader.trials.values())
    phases = sorted({t.phase for t in trials}, key=_phase_key)
    rows = []
    for cls in (*CLASS_LABELS, *sorted({t.product_class for t in trials} - set(CLASS_LABELS))):
        counts = tuple(sum(1 for t in trials if t.product_class == cls and t.phase == p) for p in phases)
        rows.append(LandscapeRow(CLASS_LABELS.get(cls, cls), cls in CELL_FREE_CLASSES, counts, sum(counts)))
    statuses: dict[str, int] = {}
    for t in trials:
        statuses[status_label(t.overall_status)] = statuses.get(status_label(t.overall_status), 0) + 1
    with_results = sorted((reader.item(t.nct_id) for t in trials if t.has_results),
                          key=lambda i: (not i.cell_free, i.nct_id))
    return Landscape(
        total=len(trials), cell_free=sum(1 for t in trials if t.cell_free), cancer=sum(1 for t in trials if t.cancer),
        phases=tuple(PHASE_SHORT.get(p, p) if p else "None" for p in phases), rows=tuple(rows),
        phase_totals=tuple(sum(r.counts[i] for r in rows) for i in range(len(phases))),
        statuses=tuple(sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))),
        bars=_bars([(r.label, r.total, r.cell_free) for r in rows]), with_results=tuple(with_results), changes=changes,
    )


def _starting(reader: _Reader, baseline: Sequence[Event]) -> StartingLandscape | None:
    if not baseline:
        return None
    nct_ids = sorted({e.nct_id for e in baseline if e.kind is EventKind.NEW_TRIAL and e.nct_id})
    items = [reader.item(n) for n in nct_ids]
    cell_free = sorted((i for i in items if i.cell_free), key=lambda i: (_phase_key(reader.trials[i.nct_id].phase),
                                                                         i.nct_id))
    pmids = {str(e.payload.get("pmid")) for e in baseline if e.kind is EventKind.PUBLICATION_LINKED}
    return StartingLandscape(trials=len(nct_ids), cell_free=len(cell_free), papers=len(pmids - {"None"}),
                             cell_free_trials=tuple(cell_free))


def _summary(sections: Sequence[KindSection], notes: Sequence[SourceNote]) -> str:
    counts = {s.kind: s.count for s in sections}
    parts = []
    for kind, one, many in (("efficacy_reported", "efficacy reported", "efficacy reported"),
                            ("results_posted", "results posted", "results posted"),
                            ("new_trial", "new trial", "new trials"),
                            ("publication_linked", "paper linked", "papers linked")):
        if counts.get(kind):
            parts.append(_plural(counts.pop(kind), one, many))
    if other := sum(counts.values()):
        parts.append(_plural(other, "other change"))
    if notes:
        parts.append(_plural(len(notes), "source notice"))
    return ", ".join(parts) or "nothing new"


def build_digest_data(store: Store, *, since: datetime, until: datetime, timezone: str) -> DigestData:
    """The digest of events created in [since, until), with the landscape as it is now."""
    zone = load_zone(timezone)
    since, until = _utc(since), _utc(until)
    everything = store.events(since=since, until=until)
    news_keys = {e.key for e in store.events(since=since, until=until, include_baseline=False)}
    news = [e for e in everything if e.key in news_keys]
    reader = _Reader(store, zone)
    sections, notes = _sections(reader, news)
    start, end = since.astimezone(zone), until.astimezone(zone)
    return DigestData(
        period_start=start, period_end=end, timezone=timezone,
        period_label=f"{start:%a %d %b %Y %H:%M} to {end:%a %d %b %Y %H:%M} ({timezone})",
        week_label=f"{start.day} {start:%b %Y}", summary=_summary(sections, notes), sections=sections,
        source_notes=notes, starting=_starting(reader, [e for e in everything if e.key not in news_keys]),
        landscape=_landscape(reader, _landscape_changes(reader, news, since, until)),
    )


# --- sending and recording --------------------------------------------------------------------------------------
def _period_start(store: Store, *, now: datetime, since: datetime | None) -> datetime:
    if since is not None:
        return _utc(since)
    pending = store.pending_digests()
    if pending:
        return min(_utc(p.period_start) for p in pending)
    last = store.last_sent_digest()
    return _utc(last.period_end) if last else now - FIRST_PERIOD


def send_digest(store: Store, notifier: EmailNotifier | None, *, now: datetime, since: datetime | None = None,
                preview: bool = False, sender: str, recipients: Sequence[str], timezone: str) -> DigestReport:
    """Build the digest of everything since the last sent one and send it (or preview it: no DB write).

    The period is recorded before the send; a failed send stays pending and the next call covers it again,
    together with what happened since. A crash during the send may deliver the digest twice, never lose it.
    """
    now = _utc(now)
    if not preview and notifier is None:
        raise ConfigError("no SMTP server for the digest: set MONITOR_SMTP_HOST (or use --preview)")
    if not preview and not recipients:
        raise ConfigError("no recipients for the digest: set MONITOR_DIGEST_TO (comma-separated addresses)")
    start = min(_period_start(store, now=now, since=since), now)
    data = build_digest_data(store, since=start, until=now, timezone=timezone)
    events = sum(s.count for s in data.sections) + len(data.source_notes)
    report = DigestReport(period_start=start, period_end=now, subject=data.subject, recipients=tuple(recipients),
                          events=events, preview=preview)
    if preview or notifier is None:
        return replace(report, html=render_html(data))
    message = render_digest(data, sender=sender, recipients=recipients)
    row, others = _record_attempt(store, start=start, now=now, recipients=recipients)
    try:
        refused = notifier.send(message)
    except NotifyError as exc:
        row.status, row.last_error = "failed", str(exc)
        store.save_digest(row)
        return replace(report, error=str(exc), digest_id=row.id)
    for done in (row, *others):
        done.status, done.sent_at = "sent", now
        done.last_error = f"refused: {', '.join(refused)}" if refused and done is row else None
        store.save_digest(done)
    return replace(report, sent=True, refused=tuple(refused), digest_id=row.id)


def _record_attempt(store: Store, *, start: datetime, now: datetime,
                    recipients: Sequence[str]) -> tuple[DigestRow, list[DigestRow]]:
    """Write the period about to be sent; reuses the oldest unsent row, so one row stands for one period."""
    from monitor.store.models import DigestRow

    pending = store.pending_digests()
    row = pending[0] if pending else DigestRow(period_start=start, period_end=now, created_at=now)
    row.period_start, row.period_end, row.recipients, row.status = start, now, list(recipients), "pending"
    return store.save_digest(row), pending[1:]


