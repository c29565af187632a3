"""The digest's data: ``build_digest_data`` reads the store (events of a period, trials, papers) into a DigestData.

Imports config, domain, notify.email (the DigestData model) and digest_labels; receives the store; never sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from monitor.config import zone as load_zone
from monitor.digest_labels import CLASS_LABELS, clean, describe_event, phase_label, status_label
from monitor.domain import Event, EventKind, TrialRecord, as_utc, paper_url, trial_url
from monitor.notify.email import (
    Bar,
    ClassGroup,
    DigestData,
    KindSection,
    Landscape,
    LandscapeRow,
    PaperLine,
    PhaseGroup,
    SourceNote,
    StartingLandscape,
    TrialItem,
)

if TYPE_CHECKING:
    from monitor.store.db import Store

__all__ = ["build_digest_data"]

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
PHASE_SHORT = {"EARLY_PHASE1": "Early 1", "PHASE1": "Ph 1", "PHASE1/PHASE2": "Ph 1/2", "PHASE2": "Ph 2",
               "PHASE2/PHASE3": "Ph 2/3", "PHASE3": "Ph 3", "PHASE4": "Ph 4", "NA": "N/A"}
CELL_FREE_CLASSES = ("extracellular_vesicle", "cell_free_secretome")
CLASSIFICATION_FIELDS = ("classification", "cell_free", "product_class")


def _phase_key(phase: str | None) -> tuple[int, str]:
    if phase is None:
        return (len(PHASE_ORDER) + 1, "")
    return (PHASE_ORDER.index(phase) if phase in PHASE_ORDER else len(PHASE_ORDER), phase)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


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
            self._papers[pmid] = PaperLine(pmid=pmid, title=clean(title), url=paper_url(pmid),
                                           journal=clean(journal, 120), published_on=clean(published or "", 40))
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
            nct_id=nct_id, title=clean(row.title if row else fallback), url=trial_url(nct_id),
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
    where = " / ".join(clean(x, 60) for x in (p.get("source"), p.get("query") or event.query) if x)
    if event.kind is EventKind.SOURCE_FAILING:
        detail = f"{p.get('failures', 'several')} failed polls in a row: {clean(p.get('error') or '?', 200)}"
    elif event.kind is EventKind.SOURCE_RECOVERED:
        detail = f"works again after {p.get('failures', 'several')} failed polls"
    else:
        detail = describe_event(event)
    kind = SOURCE_KINDS.get(event.kind) or KIND_TITLES.get(event.kind, (event.kind.value,))[0]
    at = as_utc(event.created_at).astimezone(zone)
    return SourceNote(kind, ": ".join(x for x in (where, detail) if x), f"{at:%a %d %b %H:%M}")


def _cell_free_changes(reader: _Reader, nct_ids: Iterable[str], since: datetime,
                       until: datetime) -> tuple[list[str], list[str]]:
    """Of ``nct_ids``, those whose classification became cell-free / stopped being cell-free in the period
    (a classification change always comes with a design_changed event, so only trials with news are read)."""
    gained, lost = [], []
    for nct_id in sorted(set(nct_ids)):
        for change in reader.store.changes(nct_id):
            if change.field not in CLASSIFICATION_FIELDS or not since <= as_utc(change.seen_at) < until:
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
    since, until = as_utc(since), as_utc(until)
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

