"""Slack Block Kit rendering: pure ``format_message(alert)`` -> (notification text, blocks) within Slack's limits.

Imports domain and monitor.notify.slack_mrkdwn only (no slack_sdk).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.domain import Alert, Event, EventKind
from monitor.notify.slack_mrkdwn import ELLIPSIS, cut_text, esc, escape_plain, link, paper_url, trial_url

Block = dict[str, Any]
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TOTAL = 11_000  # Slack refuses messages of roughly 13,200 block characters (msg_blocks_too_long)
MAX_TEXT = 3000  # the notification fallback; Slack truncates at 40,000

# ---------------------------------------------------------------------------------------------------- wording

_CLASS = {
    "extracellular_vesicle": "extracellular vesicles (exosomes / EVs)",
    "cell_free_secretome": "cell-free secretome",
    "cell_based": "cell-based (living cells)",
    "biomarker": "biomarker only (EVs measured, not given)",
    "other": "other",
}
_SOURCE = {
    "msc_perinatal": "perinatal MSC", "msc_adult": "adult MSC", "msc_unspecified": "MSC (unspecified)",
    "dendritic_cell": "dendritic cells", "tumor_cell": "tumour cells", "blood": "blood", "plant": "plant",
    "other": "other", "unknown": "unknown",
}
_SOURCES = {"ctgov": "ClinicalTrials.gov", "pubmed": "PubMed", "rss": "PubMed RSS"}
_HOW = {"databank": "PubMed lists the trial id", "registry_reference": "the registry cites it",
        "text_mention": "the abstract names the trial"}
_ORDER = [
    EventKind.EFFICACY_REPORTED, EventKind.RESULTS_POSTED, EventKind.RESULTS_SUBMITTED,
    EventKind.PUBLICATION_LINKED, EventKind.NEW_TRIAL, EventKind.STATUS_CHANGED, EventKind.PHASE_CHANGED,
    EventKind.ENROLLMENT_CHANGED, EventKind.DATES_CHANGED, EventKind.DESIGN_CHANGED,
    EventKind.SOURCE_FAILING, EventKind.SOURCE_RECOVERED,
]
_HEADLINE = {
    EventKind.EFFICACY_REPORTED: (":rotating_light:", "Efficacy results first reported"),
    EventKind.RESULTS_POSTED: (":bar_chart:", "Results posted on ClinicalTrials.gov"),
    EventKind.RESULTS_SUBMITTED: (":hourglass_flowing_sand:",
                                  "Results submitted (in quality control, may be returned)"),
    EventKind.PUBLICATION_LINKED: (":page_facing_up:", "Paper linked"),
    EventKind.NEW_TRIAL: (":new:", "New trial"),
    EventKind.STATUS_CHANGED: (":arrows_counterclockwise:", "Status changed"),
    EventKind.PHASE_CHANGED: (":arrows_counterclockwise:", "Phase changed"),
    EventKind.ENROLLMENT_CHANGED: (":arrows_counterclockwise:", "Enrolment changed"),
    EventKind.DATES_CHANGED: (":arrows_counterclockwise:", "Dates changed"),
    EventKind.DESIGN_CHANGED: (":arrows_counterclockwise:", "Design changed"),
    EventKind.SOURCE_FAILING: (":warning:", "Source failing"),
    EventKind.SOURCE_RECOVERED: (":white_check_mark:", "Source recovered"),
}
_EVIDENCE_FIELDS = ("product_class", "cell_free", "engineered", "source", "cancer", "cancer_types")


def _phase(p: Any) -> str:
    if not p:
        return "none (observational)"
    if p == "NA":
        return "not applicable"
    parts = [str(x).replace("EARLY_PHASE", "early phase ").replace("PHASE", "") for x in str(p).split("/")]
    return ("Phase " + "/".join(parts)).replace("Phase early phase ", "Early phase ")


def _words(value: Any) -> str:
    s = str(value or "").replace("_", " ").strip()
    return s[:1].upper() + s[1:].lower() if s else ""


def _status(s: Any) -> str:
    return "Active, not recruiting" if s == "ACTIVE_NOT_RECRUITING" else (_words(s) or "unknown")


def _value(v: Any) -> str:
    """A change's old/new value, compact."""
    if v is None or v == "" or v == []:
        return "—"
    if isinstance(v, list | tuple):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    return str(v)


# ---------------------------------------------------------------------------------------------------- blocks

def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": cut_text(text, MAX_HEADER), "emoji": True}}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _sections(lines: Sequence[str]) -> list[Block]:
    """Lines packed into as few section blocks as fit 3000 characters each (a longer line is cut)."""
    blocks: list[Block] = []
    chunk = ""
    for line in lines:
        line = cut_text(line, MAX_SECTION)
        if chunk and len(chunk) + 1 + len(line) > MAX_SECTION:
            blocks.append({"type": "section", "text": _mrkdwn(chunk)})
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append({"type": "section", "text": _mrkdwn(chunk)})
    return blocks


def _capped(lines: list[str], cap: int, what: str) -> list[str]:
    if len(lines) <= cap:
        return lines
    return [*lines[:cap], f"    … and {len(lines) - cap} more {what}"]


def _block_chars(block: Block) -> int:
    return len(json.dumps(block, ensure_ascii=False))


def _fit(blocks: list[Block], tail: Block) -> list[Block]:
    """Keep Slack's limits: at most 50 blocks and about 11,000 characters; ``tail`` (the links) always stays."""
    budget = MAX_TOTAL - _block_chars(tail)
    kept: list[Block] = []
    for block in blocks:
        size = _block_chars(block)
        if len(kept) >= MAX_BLOCKS - 2 or size > budget:
            dropped = len(blocks) - len(kept)
            note = {"type": "context", "elements": [_mrkdwn(f"{ELLIPSIS} {dropped} more part(s) not shown; "
                                                            "open the record for everything.")]}
            return [*kept, note, tail]
        kept.append(block)
        budget -= size
    return [*kept, tail]


# ---------------------------------------------------------------------------------------------------- messages

def _pick_headline(alert: Alert) -> tuple[str, str]:
    """(emoji, words) of the most important event of an alert (efficacy first)."""
    if alert.baseline_summary:
        return ":telescope:", "Now tracking trials"
    kinds = {e.kind for e in alert.events}
    for kind in _ORDER:
        if kind in kinds:
            emoji, words = _HEADLINE[kind]
            if kind is EventKind.NEW_TRIAL and alert.trial.get("cell_free") and alert.trial.get("cancer"):
                words = "New cell-free cancer trial"
            return emoji, words
    return ":bell:", "Trial update"


def format_message(alert: Alert) -> tuple[str, list[Block]]:
    """(notification text, Block Kit blocks) of one alert. Pure; every registry or PubMed text is escaped."""
    if alert.baseline_summary:
        return _baseline_message(alert)
    source_kinds = (EventKind.SOURCE_FAILING, EventKind.SOURCE_RECOVERED)
    if alert.nct_id is None and alert.events and all(e.kind in source_kinds for e in alert.events):
        return _source_message(alert)
    return _trial_message(alert)


def _baseline_message(alert: Alert) -> tuple[str, list[Block]]:
    t = alert.trial
    query = esc(t.get("query") or alert.query, 120)
    tracked, cell_free, cfc = (_count(t.get(k)) for k in ("tracked", "cell_free", "cell_free_cancer"))
    text = (f"Now tracking {tracked} trials for query {query}, {cell_free} cell-free "
            f"({cfc} cell-free and cancer-related).")
    body = (f"Baseline of query *{query}*: now tracking *{tracked}* trials, *{cell_free}* cell-free "
            f"(*{cfc}* cell-free and cancer-related).\nThe first poll sends no per-trial alert. From now on you "
            "hear here when efficacy results appear, results are posted, or a new cell-free cancer trial is "
            "registered.")
    blocks = [_header(f":telescope: Now tracking {tracked} trials ({escape_plain(str(t.get('query') or ''))})"),
              {"type": "section", "text": _mrkdwn(body)}]
    return text, blocks


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _source_message(alert: Alert) -> tuple[str, list[Block]]:
    event = alert.events[-1]
    p = event.payload
    source = str(p.get("source") or "")
    name = _SOURCES.get(source, source or "a source")
    query = esc(p.get("query") or alert.query or "", 120)
    emoji, words = _HEADLINE.get(event.kind, (":bell:", "Source"))
    if event.kind is EventKind.SOURCE_FAILING:
        failures = esc(p.get("failures"), 20)
        error = esc(p.get("error") or "no error text", 1500)
        text = f"Source failing: {name} for query {query} ({failures} failed polls in a row): {error}"
        body = (f"*{esc(name)}* has failed *{failures}* polls in a row for query *{query}*. Its alerts wait "
                "until it works again; nothing is skipped, the next good poll catches up.\n"
                f"*Last error:* {error}")
    else:
        after = []
        if p.get("failed_for") is not None:
            after.append(f"failing for {esc(_duration(p['failed_for']), 60)}")
        if p.get("failures") is not None:
            after.append(f"{esc(p['failures'], 20)} failed polls")
        if p.get("last_success"):
            after.append(f"last success {esc(p['last_success'], 40)}")
        detail = f" after {', '.join(after)}" if after else ""
        text = f"Source recovered: {name} works again for query {query}{detail}."
        body = f"*{esc(name)}* works again for query *{query}*{detail}. Missed changes are caught up."
    return text, [_header(f"{emoji} {words}: {escape_plain(name)}"), {"type": "section", "text": _mrkdwn(body)}]


def _duration(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        minutes = int(value) // 60
        return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{max(minutes, 1)} min"
    return str(value)


def _trial_message(alert: Alert) -> tuple[str, list[Block]]:
    t = alert.trial
    nct = str(t.get("nct_id") or alert.nct_id or "")
    url = trial_url(t, nct)
    emoji, words = _pick_headline(alert)
    title = esc(t.get("title") or nct, 300)
    cls = esc(_CLASS.get(str(t.get("product_class")), t.get("product_class") or "unclassified"), 60)
    facts = f"{cls}, {_phase(t.get('phase'))}, {esc(_status(t.get('status')), 40)}"
    text = cut_text(f"{words}{_efficacy_where(alert)}: {esc(nct, 20)} · {title} — {facts} "
                f"{link(url, 'registry record')}", MAX_TEXT)
    blocks: list[Block] = [
        _header(f"{emoji} {words}: {escape_plain(nct)}"),
        {"type": "section", "text": _mrkdwn(f"*{link(url, f'{esc(nct, 20)} · {title}')}*")},
        {"type": "section", "fields": _fields(t)},
        *_sections(["*What happened*", *_event_lines(alert)]),
        *_sections(_evidence_lines(t)),
    ]
    return text, _fit(blocks, _links_block(alert, url))


def _efficacy_where(alert: Alert) -> str:
    """`` (PubMed, PMID 123)`` or `` (ClinicalTrials.gov)`` for the notification line of an efficacy alert."""
    for e in alert.events:
        if e.kind is EventKind.EFFICACY_REPORTED:
            if e.payload.get("source") == "pubmed":
                return f" (PubMed, PMID {esc(e.payload.get('pmid'), 20)})"
            return " (ClinicalTrials.gov)"
    return ""


def _fields(t: Mapping[str, Any]) -> list[dict[str, Any]]:
    cls = _CLASS.get(str(t.get("product_class")), str(t.get("product_class") or "unclassified"))
    if t.get("engineered"):
        cls += ", engineered"
    cancers = ", ".join(str(c) for c in t.get("cancer_types") or []) or ("yes" if t.get("cancer") else "no")
    pairs = [("Class", cls), ("Phase", _phase(t.get("phase"))), ("Status", _status(t.get("status"))),
             ("Sponsor", t.get("sponsor") or "unknown"), ("Made from", _SOURCE.get(str(t.get("source")),
                                                                                    t.get("source") or "unknown")),
             ("Cancer", cancers)]
    return [_mrkdwn(f"*{label}*\n{esc(value, 500)}") for label, value in pairs]


def _event_lines(alert: Alert) -> list[str]:
    events = sorted(alert.events, key=lambda e: _ORDER.index(e.kind) if e.kind in _ORDER else len(_ORDER))
    has_results = any(e.kind is EventKind.RESULTS_POSTED for e in events)
    lines: list[str] = []
    for event in events:
        lines.extend(_event_text(event, has_results=has_results))
    if not lines:
        lines.append("• (no event details)")
    return lines


def _event_text(event: Event, *, has_results: bool) -> list[str]:
    p = event.payload
    kind = event.kind
    if kind is EventKind.EFFICACY_REPORTED:
        if p.get("source") == "pubmed":
            paper = link(paper_url(p), esc(p.get("title") or f"PMID {p.get('pmid')}", 300))
            evidence = ", ".join(f"“{esc(w, 120)}”" for w in list(p.get("evidence") or [])[:6])
            return [f"• *Efficacy reported in PubMed*: {paper} (PMID {esc(p.get('pmid'), 20)})"
                    + (f" — evidence: {evidence}" if evidence else "")]
        measures = [str(m) for m in p.get("efficacy_outcomes") or []]
        if has_results:
            return [f"• *Efficacy reported on ClinicalTrials.gov*: {len(measures)} efficacy outcome "
                    "measure(s) among the posted results (below)"]
        return ["• *Efficacy reported on ClinicalTrials.gov*, efficacy outcome measures:",
                *_capped([f"    ◦ {esc(m, 250)}" for m in measures], 20, "measures")]
    if kind is EventKind.RESULTS_POSTED:
        posted_on = esc(p.get("results_first_posted_on") or "?", 20)
        return [f"• *Results first posted* on ClinicalTrials.gov on {posted_on}",
                *_capped(_outcome_lines(p), 20, "outcome measures")]
    if kind is EventKind.RESULTS_SUBMITTED:
        state = f" ({esc(p.get('results_submission'), 200)})" if p.get("results_submission") else ""
        return [f"• *Results submitted*{state}: they are in quality control at ClinicalTrials.gov and may be "
                "returned to the sponsor; not posted and not final."]
    if kind is EventKind.PUBLICATION_LINKED:
        how = _HOW.get(str(p.get("how")), str(p.get("how") or "linked"))
        paper = link(paper_url(p), esc(p.get("title") or f"PMID {p.get('pmid')}", 300))
        return [f"• *Paper linked* ({esc(how, 80)}): {paper} (PMID {esc(p.get('pmid'), 20)})"]
    if kind is EventKind.NEW_TRIAL:
        return [f"• *New trial* matching query *{esc(event.query or '', 120)}*"]
    if kind.value.endswith("_changed"):
        changes = [f"    ◦ {esc(c.get('field'), 60)}: {esc(_value(c.get('old')), 200)} → "
                   f"{esc(_value(c.get('new')), 200)}" for c in p.get("changes") or [] if isinstance(c, Mapping)]
        return [f"• *{_HEADLINE[kind][1]}*", *_capped(changes, 15, "changes")]
    return [f"• {esc(kind.value, 60)}"]


def _outcome_lines(p: Mapping[str, Any]) -> list[str]:
    outcomes = [o for o in p.get("outcomes") or [] if isinstance(o, Mapping)]
    if not outcomes:
        return [f"    ◦ {esc(m, 250)} — _efficacy_" for m in p.get("efficacy_outcomes") or []]
    efficacy_first = sorted(outcomes, key=lambda o: (o.get("kind") != "efficacy", o.get("type") != "PRIMARY"))
    lines = []
    for o in efficacy_first:
        kind = str(o.get("kind") or "other")
        label = f"*{kind}*" if kind == "efficacy" else f"_{esc(kind, 20)}_"
        primary = " (primary)" if o.get("type") == "PRIMARY" else ""
        lines.append(f"    ◦ {esc(o.get('measure'), 250)}{primary} — {label}")
    return lines


def _evidence_lines(t: Mapping[str, Any]) -> list[str]:
    evidence = t.get("evidence") or {}
    overridden = set(t.get("overridden") or [])
    title = "*Why it counts as cell-free*" if t.get("cell_free") else "*Why it is classified this way*"
    lines = []
    for name in _EVIDENCE_FIELDS:
        items = [e for e in evidence.get(name) or [] if isinstance(e, Mapping)]
        found = "; ".join(f"“{esc(e.get('words'), 150)}” in {esc(e.get('field'), 60)}" for e in items[:3])
        if name in overridden:
            found = (found + "; " if found else "") + "set by an override"
        if found:
            lines.append(f"• {name.replace('_', ' ')}: {found}")
    return [title, *lines] if lines else []


def _links_block(alert: Alert, url: Any) -> Block:
    links = [link(url, "ClinicalTrials.gov record")]
    seen: set[str] = set()
    papers = [e.payload for e in alert.events if e.payload.get("pmid")] + list(alert.trial.get("publications") or [])
    for pub in (p for p in papers if isinstance(p, Mapping)):
        pmid = str(pub.get("pmid"))
        if pmid not in seen and len(seen) < 8:
            seen.add(pmid)
            links.append(link(paper_url(pub), f"PMID {esc(pmid, 20)}"))
    elements = [_mrkdwn(" · ".join(links))]
    if alert.query:
        elements.append(_mrkdwn(f"query {esc(alert.query, 120)} · monitor"))
    return {"type": "context", "elements": elements}


__all__ = ["Block", "format_message"]
