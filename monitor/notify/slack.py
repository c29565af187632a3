"""Slack alerts: pure ``escape_text`` / ``format_message`` (Block Kit) and ``SlackNotifier`` (bot token or webhook).

Imports domain, errors and monitor.notify; the only module of monitor that imports slack_sdk.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import random
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.webhook import WebhookClient

from monitor.domain import Alert, Event, EventKind
from monitor.errors import ConfigError
from monitor.notify import DeliveryError

Block = dict[str, Any]
EVENT_TYPE = "monitor_alert"  # Slack message metadata event_type of every alert
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_TOTAL = 11_000  # Slack refuses messages of roughly 13,200 block characters (msg_blocks_too_long)
MAX_TEXT = 3000  # the notification fallback; Slack truncates at 40,000
ELLIPSIS = "…"

# ---------------------------------------------------------------------------------------------------- escaping

_LOOKALIKES = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_LOOSE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_ENTITY_TAIL = re.compile(r"&[a-z]{0,4}$")


def escape_text(s: str) -> str:
    """Registry or PubMed text made inert for Slack mrkdwn.

    1. ``&``, ``<``, ``>`` become ``&amp;``, ``&lt;``, ``&gt;`` (Slack's own rule), so ``<!channel>``,
       ``<@U123>`` and ``<https://evil|click>`` show as typed and cannot ping or hide a link; an existing
       ``&amp;`` shows as ``&amp;``.
    2. The mrkdwn markers that Slack cannot escape are swapped for look-alikes so a hostile title cannot
       open bold, strike or code spans across our own formatting: ``*`` -> U+2217 ``∗``, ``~`` -> U+223C
       ``∼``, backtick -> U+02CB ``ˋ``, and ``_`` -> U+02CD ``ˍ`` unless it sits between two letters or
       digits (``IL_6`` stays, ``_x_`` cannot italicise).
    3. Runs of whitespace, newlines included, become one space (a title cannot start a quote or a list).

    Bare URLs and ``@here`` written as plain words are left to ``verbatim`` text objects, which Slack does not
    auto-link or auto-mention.
    """
    s = " ".join(str(s).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _LOOSE_UNDERSCORE.sub("\u02cd", s)
    return s.translate(_LOOKALIKES)


def _escape_plain(s: str) -> str:
    """For plain_text objects (the header): no mrkdwn applies, only ``& < >`` are escaped."""
    s = " ".join(str(s).split())
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(escaped: str, limit: int) -> str:
    """Shorten already-escaped text to ``limit`` characters with an ellipsis, never splitting an entity."""
    if len(escaped) <= limit:
        return escaped
    cut = _ENTITY_TAIL.sub("", escaped[: limit - 1])
    return cut.rstrip() + ELLIPSIS


def _esc(value: Any, limit: int = 300) -> str:
    return _cut(escape_text("" if value is None else str(value)), limit)


def _paper_url(p: Mapping[str, Any]) -> Any:
    """PubMed's own URL when the PMID is numeric (a payload URL is not trusted further than that)."""
    pmid = str(p.get("pmid") or "")
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid.isdigit() else p.get("url")


def _trial_url(t: Mapping[str, Any], nct: str) -> Any:
    return f"https://clinicaltrials.gov/study/{nct}" if re.fullmatch(r"NCT\d{8}", nct) else t.get("url")


def _link(url: Any, label: str) -> str:
    """``<url|label>`` for an http(s) URL (label already escaped); the bare label for anything else."""
    u = str(url or "")
    if not re.match(r"https?://[^\s<>|]+$", u):
        return label
    return f"<{u.replace('&', '&amp;')}|{label}>"


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
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, MAX_HEADER), "emoji": True}}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _sections(lines: Sequence[str]) -> list[Block]:
    """Lines packed into as few section blocks as fit 3000 characters each (a longer line is cut)."""
    blocks: list[Block] = []
    chunk = ""
    for line in lines:
        line = _cut(line, MAX_SECTION)
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
    query = _esc(t.get("query") or alert.query, 120)
    tracked, cell_free, cfc = (_count(t.get(k)) for k in ("tracked", "cell_free", "cell_free_cancer"))
    text = (f"Now tracking {tracked} trials for query {query}, {cell_free} cell-free "
            f"({cfc} cell-free and cancer-related).")
    body = (f"Baseline of query *{query}*: now tracking *{tracked}* trials, *{cell_free}* cell-free "
            f"(*{cfc}* cell-free and cancer-related).\nThe first poll sends no per-trial alert. From now on you "
            "hear here when efficacy results appear, results are posted, or a new cell-free cancer trial is "
            "registered.")
    blocks = [_header(f":telescope: Now tracking {tracked} trials ({_escape_plain(str(t.get('query') or ''))})"),
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
    query = _esc(p.get("query") or alert.query or "", 120)
    emoji, words = _HEADLINE.get(event.kind, (":bell:", "Source"))
    if event.kind is EventKind.SOURCE_FAILING:
        failures = _esc(p.get("failures"), 20)
        error = _esc(p.get("error") or "no error text", 1500)
        text = f"Source failing: {name} for query {query} ({failures} failed polls in a row): {error}"
        body = (f"*{_esc(name)}* has failed *{failures}* polls in a row for query *{query}*. Its alerts wait "
                "until it works again; nothing is skipped, the next good poll catches up.\n"
                f"*Last error:* {error}")
    else:
        after = []
        if p.get("failed_for") is not None:
            after.append(f"failing for {_esc(_duration(p['failed_for']), 60)}")
        if p.get("failures") is not None:
            after.append(f"{_esc(p['failures'], 20)} failed polls")
        if p.get("last_success"):
            after.append(f"last success {_esc(p['last_success'], 40)}")
        detail = f" after {', '.join(after)}" if after else ""
        text = f"Source recovered: {name} works again for query {query}{detail}."
        body = f"*{_esc(name)}* works again for query *{query}*{detail}. Missed changes are caught up."
    return text, [_header(f"{emoji} {words}: {_escape_plain(name)}"), {"type": "section", "text": _mrkdwn(body)}]


def _duration(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        minutes = int(value) // 60
        return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{max(minutes, 1)} min"
    return str(value)


def _trial_message(alert: Alert) -> tuple[str, list[Block]]:
    t = alert.trial
    nct = str(t.get("nct_id") or alert.nct_id or "")
    url = _trial_url(t, nct)
    emoji, words = _pick_headline(alert)
    title = _esc(t.get("title") or nct, 300)
    cls = _esc(_CLASS.get(str(t.get("product_class")), t.get("product_class") or "unclassified"), 60)
    facts = f"{cls}, {_phase(t.get('phase'))}, {_esc(_status(t.get('status')), 40)}"
    text = _cut(f"{words}{_efficacy_where(alert)}: {_esc(nct, 20)} · {title} — {facts} "
                f"{_link(url, 'registry record')}", MAX_TEXT)
    blocks: list[Block] = [
        _header(f"{emoji} {words}: {_escape_plain(nct)}"),
        {"type": "section", "text": _mrkdwn(f"*{_link(url, f'{_esc(nct, 20)} · {title}')}*")},
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
                return f" (PubMed, PMID {_esc(e.payload.get('pmid'), 20)})"
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
    return [_mrkdwn(f"*{label}*\n{_esc(value, 500)}") for label, value in pairs]


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
            paper = _link(_paper_url(p), _esc(p.get("title") or f"PMID {p.get('pmid')}", 300))
            evidence = ", ".join(f"“{_esc(w, 120)}”" for w in list(p.get("evidence") or [])[:6])
            return [f"• *Efficacy reported in PubMed*: {paper} (PMID {_esc(p.get('pmid'), 20)})"
                    + (f" — evidence: {evidence}" if evidence else "")]
        measures = [str(m) for m in p.get("efficacy_outcomes") or []]
        if has_results:
            return [f"• *Efficacy reported on ClinicalTrials.gov*: {len(measures)} efficacy outcome "
                    "measure(s) among the posted results (below)"]
        return ["• *Efficacy reported on ClinicalTrials.gov*, efficacy outcome measures:",
                *_capped([f"    ◦ {_esc(m, 250)}" for m in measures], 20, "measures")]
    if kind is EventKind.RESULTS_POSTED:
        posted_on = _esc(p.get("results_first_posted_on") or "?", 20)
        return [f"• *Results first posted* on ClinicalTrials.gov on {posted_on}",
                *_capped(_outcome_lines(p), 20, "outcome measures")]
    if kind is EventKind.RESULTS_SUBMITTED:
        state = f" ({_esc(p.get('results_submission'), 200)})" if p.get("results_submission") else ""
        return [f"• *Results submitted*{state}: they are in quality control at ClinicalTrials.gov and may be "
                "returned to the sponsor; not posted and not final."]
    if kind is EventKind.PUBLICATION_LINKED:
        how = _HOW.get(str(p.get("how")), str(p.get("how") or "linked"))
        paper = _link(_paper_url(p), _esc(p.get("title") or f"PMID {p.get('pmid')}", 300))
        return [f"• *Paper linked* ({_esc(how, 80)}): {paper} (PMID {_esc(p.get('pmid'), 20)})"]
    if kind is EventKind.NEW_TRIAL:
        return [f"• *New trial* matching query *{_esc(event.query or '', 120)}*"]
    if kind.value.endswith("_changed"):
        changes = [f"    ◦ {_esc(c.get('field'), 60)}: {_esc(_value(c.get('old')), 200)} → "
                   f"{_esc(_value(c.get('new')), 200)}" for c in p.get("changes") or [] if isinstance(c, Mapping)]
        return [f"• *{_HEADLINE[kind][1]}*", *_capped(changes, 15, "changes")]
    return [f"• {_esc(kind.value, 60)}"]


def _outcome_lines(p: Mapping[str, Any]) -> list[str]:
    outcomes = [o for o in p.get("outcomes") or [] if isinstance(o, Mapping)]
    if not outcomes:
        return [f"    ◦ {_esc(m, 250)} — _efficacy_" for m in p.get("efficacy_outcomes") or []]
    efficacy_first = sorted(outcomes, key=lambda o: (o.get("kind") != "efficacy", o.get("type") != "PRIMARY"))
    lines = []
    for o in efficacy_first:
        kind = str(o.get("kind") or "other")
        label = f"*{kind}*" if kind == "efficacy" else f"_{_esc(kind, 20)}_"
        primary = " (primary)" if o.get("type") == "PRIMARY" else ""
        lines.append(f"    ◦ {_esc(o.get('measure'), 250)}{primary} — {label}")
    return lines


def _evidence_lines(t: Mapping[str, Any]) -> list[str]:
    evidence = t.get("evidence") or {}
    overridden = set(t.get("overridden") or [])
    title = "*Why it counts as cell-free*" if t.get("cell_free") else "*Why it is classified this way*"
    lines = []
    for name in _EVIDENCE_FIELDS:
        items = [e for e in evidence.get(name) or [] if isinstance(e, Mapping)]
        found = "; ".join(f"“{_esc(e.get('words'), 150)}” in {_esc(e.get('field'), 60)}" for e in items[:3])
        if name in overridden:
            found = (found + "; " if found else "") + "set by an override"
        if found:
            lines.append(f"• {name.replace('_', ' ')}: {found}")
    return [title, *lines] if lines else []


def _links_block(alert: Alert, url: Any) -> Block:
    links = [_link(url, "ClinicalTrials.gov record")]
    seen: set[str] = set()
    papers = [e.payload for e in alert.events if e.payload.get("pmid")] + list(alert.trial.get("publications") or [])
    for pub in (p for p in papers if isinstance(p, Mapping)):
        pmid = str(pub.get("pmid"))
        if pmid not in seen and len(seen) < 8:
            seen.add(pmid)
            links.append(_link(_paper_url(pub), f"PMID {_esc(pmid, 20)}"))
    elements = [_mrkdwn(" · ".join(links))]
    if alert.query:
        elements.append(_mrkdwn(f"query {_esc(alert.query, 120)} · monitor"))
    return {"type": "context", "elements": elements}


# ---------------------------------------------------------------------------------------------------- notifier

_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
                "missing_scope", "not_allowed_token_type", "ekm_access_denied", "team_access_not_granted",
                "invalid_token", "no_service", "no_service_id", "no_team", "team_disabled"}
_CHANNEL_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived",
                   "restricted_action", "action_prohibited", "posting_to_general_channel_denied"}
_BLOCKS_REFUSED = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long"}
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


def metadata_key(alert_key: str) -> str:
    """The ``alert_key`` put in Slack message metadata: the key itself, or ``sha256:<hex>`` when long."""
    if len(alert_key) <= 128:
        return alert_key
    return "sha256:" + hashlib.sha256(alert_key.encode("utf-8")).hexdigest()


class _ProportionalJitter(Jitter):
    """Up to 100 % of the backoff on top of it (the SDK's RandomJitter adds up to a whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random())


def _sdk_logger() -> logging.Logger:
    """slack_sdk logs request URLs at DEBUG (a webhook URL is a secret) and each failed attempt at ERROR (our
    DeliveryError already says it in one line): give it a logger that stays quiet."""
    logger = logging.getLogger("monitor.notify.slack_sdk")
    logger.setLevel(logging.CRITICAL)
    return logger


class SlackNotifier:
    """Posts alerts to Slack: a bot token and a channel (``chat.postMessage``), or an incoming webhook.

    With a bot token every message carries the metadata ``{"event_type": "monitor_alert", "event_payload":
    {"alert_key": ...}}`` and ``find_sent`` finds it again in ``conversations.history``: delivery is exactly
    once. ``chat.postMessage`` is retried only where that cannot post twice (429, a connection that failed before
    the request was written); after a 5xx the message is looked up before it is posted again. Timeouts and
    connections lost after the request went out raise a ``DeliveryError`` with ``definitely_not_sent=False``.

    A webhook returns no message id and offers no lookup (``can_lookup`` is False): delivery is at least once.
    """

    def __init__(self, *, token: str | None = None, channel: str | None = None,
                 api_url: str = "https://slack.com/api/", webhook_url: str | None = None, retries: int = 3,
                 timeout: float = 30.0, backoff: float = 0.5, page_size: int = 200) -> None:
        if not token and not webhook_url:
            raise ConfigError("Slack needs MONITOR_SLACK_TOKEN and MONITOR_SLACK_CHANNEL, or MONITOR_SLACK_WEBHOOK_URL")
        if token and not channel:
            raise ConfigError("MONITOR_SLACK_TOKEN is set but MONITOR_SLACK_CHANNEL is not: set the channel id "
                              "(C...) the bot posts alerts to")
        self._secrets = [s for s in (token, webhook_url) if s]
        self.channel = (channel or "").lstrip("#") if token else None
        self.can_lookup = bool(token)
        self.name = f"slack #{self.channel}" if token else "slack webhook"
        self.retries = retries
        self.backoff = backoff
        self.page_size = page_size
        self._channel_id = self.channel if self.channel and _CHANNEL_ID.fullmatch(self.channel) else None
        wait = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=_ProportionalJitter())
        logger = _sdk_logger()
        self._post_client: WebClient | None = None
        self._read_client: WebClient | None = None
        self._webhook: WebhookClient | None = None
        if token:
            # posting: only retries that cannot duplicate (429 was refused; URLError = request never written)
            post_handlers: list[RetryHandler] = [
                RateLimitErrorRetryHandler(max_retry_count=retries),
                ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=wait, error_types=[URLError]),
            ]
            # the SDK's hint says int, urllib takes a float timeout
            self._post_client = WebClient(token=token, base_url=api_url, timeout=timeout,  # type: ignore[arg-type]
                                          logger=logger, retry_handlers=post_handlers)
            self._read_client = WebClient(token=token, base_url=api_url, timeout=timeout,  # type: ignore[arg-type]
                                          logger=logger, retry_handlers=self._read_handlers(retries, wait))
        else:
            self._webhook = WebhookClient(str(webhook_url), timeout=timeout,  # type: ignore[arg-type]
                                          logger=logger, retry_handlers=self._read_handlers(retries, wait))

    @staticmethod
    def _read_handlers(retries: int, wait: BackoffRetryIntervalCalculator) -> list[RetryHandler]:
        return [
            RateLimitErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=wait),
            ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=wait,
                                        error_types=[URLError, ConnectionResetError, http.client.RemoteDisconnected]),
        ]

    # sending -------------------------------------------------------------------------------------------
    def send(self, alert: Alert) -> str | None:
        """Post one alert; returns the message ``ts`` (None with a webhook). Raises DeliveryError."""
        text, blocks = format_message(alert)
        if self._webhook is not None:
            self._send_webhook(text, blocks)
            return None
        return self._post(alert, text, blocks)

    def _post(self, alert: Alert, text: str, blocks: list[Block]) -> str | None:
        assert self._post_client is not None
        args: dict[str, Any] = {
            "channel": self.channel, "text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False,
            "metadata": {"event_type": EVENT_TYPE, "event_payload": {"alert_key": metadata_key(alert.key)}},
        }
        started = datetime.now(UTC)
        attempt = 0
        while True:
            try:
                response = self._post_client.chat_postMessage(**args)
            except SlackApiError as exc:
                status, error = _status_and_error(exc)
                if error in _BLOCKS_REFUSED and args["blocks"]:
                    args["blocks"] = None  # Slack refused the layout: the text alone still informs
                    continue
                if status < 500 or attempt >= self.retries:
                    raise self._api_error("chat.postMessage", exc, may_have_posted=status >= 500) from None
                found = self._find_after_error(alert, started, exc)
                if found:
                    return found
                attempt += 1
                time.sleep(self.backoff * 2**attempt)
                continue
            except Exception as exc:  # noqa: BLE001 - every transport error becomes one DeliveryError line
                raise self._network_error("chat.postMessage", exc) from None
            self._channel_id = str(response.get("channel") or self._channel_id or "") or None
            ts = response.get("ts")
            return str(ts) if ts else None

    def _find_after_error(self, alert: Alert, started: datetime, exc: SlackApiError) -> str | None:
        """After a 5xx the message may exist: look before posting again (a failed lookup ends the send)."""
        try:
            return self._lookup(alert, started.timestamp() - 60)
        except DeliveryError:
            raise self._api_error("chat.postMessage", exc, may_have_posted=True) from None

    def _send_webhook(self, text: str, blocks: list[Block]) -> None:
        assert self._webhook is not None
        try:
            response = self._webhook.send(text=text, blocks=blocks, unfurl_links=False, unfurl_media=False)
        except Exception as exc:  # noqa: BLE001
            raise self._network_error("webhook", exc) from None
        status, body = response.status_code, str(response.body or "").strip()
        if status == 200 and body == "ok":
            return
        code = body if re.fullmatch(r"[a-z_]{1,60}", body) else ""
        if status == 200 or status >= 500:
            raise self._error(f"Slack webhook failed: HTTP {status} {code}".rstrip() + " (after retries); the "
                              "message may have been posted", definitely_not_sent=False, channel_down=True)
        raise self._refusal("webhook", status, code)

    # lookup --------------------------------------------------------------------------------------------
    def find_sent(self, alert: Alert, *, oldest: datetime) -> str | None:
        """The ``ts`` of this alert's message posted at or after ``oldest`` (naive means UTC), else None."""
        if not self.can_lookup:
            return None
        when = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        return self._lookup(alert, when.timestamp())

    def _lookup(self, alert: Alert, oldest: float) -> str | None:
        key = metadata_key(alert.key)
        channel = self._resolve_channel()
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"channel": channel, "oldest": f"{max(oldest, 0):.6f}", "limit": self.page_size,
                                    "include_all_metadata": True}
            if cursor:
                args["cursor"] = cursor
            page = self._read("conversations.history", args)
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                if meta.get("event_type") == EVENT_TYPE and (meta.get("event_payload") or {}).get("alert_key") == key:
                    return str(message.get("ts"))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    def _resolve_channel(self) -> str:
        """conversations.history takes a channel id: use the configured one, or look the name up once."""
        if self._channel_id:
            return self._channel_id
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"types": "public_channel,private_channel", "exclude_archived": True,
                                    "limit": 1000}
            if cursor:
                args["cursor"] = cursor
            page = self._read("conversations.list", args)
            for ch in page.get("channels") or []:
                if ch.get("name") == self.channel:
                    self._channel_id = str(ch["id"])
                    return self._channel_id
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                raise self._error(f"Slack channel #{self.channel} not found by conversations.list; set "
                                  "MONITOR_SLACK_CHANNEL to the channel id (C...)", definitely_not_sent=False,
                                  channel_down=True)

    def _read(self, method: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        assert self._read_client is not None
        try:
            response = self._read_client.api_call(method, http_verb="GET", params=dict(args))
        except SlackApiError as exc:
            raise self._api_error(method, exc, may_have_posted=False) from None
        except Exception as exc:  # noqa: BLE001
            raise self._network_error(method, exc) from None
        return response.data if isinstance(response.data, dict) else {}

    # errors --------------------------------------------------------------------------------------------
    def _error(self, message: str, *, definitely_not_sent: bool, channel_down: bool) -> DeliveryError:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return DeliveryError(message, definitely_not_sent=definitely_not_sent, channel_down=channel_down)

    def _api_error(self, method: str, exc: SlackApiError, *, may_have_posted: bool) -> DeliveryError:
        status, error = _status_and_error(exc)
        if status >= 500:
            tail = "; the message may have been posted" if may_have_posted else ""
            return self._error(f"Slack {method} failed: HTTP {status} after {self.retries} retries{tail}",
                               definitely_not_sent=not may_have_posted, channel_down=True)
        return self._refusal(method, status, error, needed=_needed(exc))

    def _refusal(self, method: str, status: int, error: str, *, needed: str = "") -> DeliveryError:
        """A 4xx or ``ok: false``: Slack did not post the message."""
        code = (f"{error} (HTTP {status})" if status != 200 else error) if error else f"HTTP {status}"
        if status == 429:
            hint = f"rate limited after {self.retries} retries; the next run retries"
        elif error == "missing_scope":
            hint = f"add the scope {needed or 'it names'} to the Slack app and reinstall it"
        elif error in _AUTH_ERRORS:
            hint = "check MONITOR_SLACK_TOKEN / MONITOR_SLACK_WEBHOOK_URL"
        elif error in _CHANNEL_ERRORS:
            hint = "check MONITOR_SLACK_CHANNEL and invite the app to the channel (/invite @app)"
        else:
            hint = "Slack refused this message"
        down = status == 429 or error in _AUTH_ERRORS or error in _CHANNEL_ERRORS or status in (401, 403, 404, 410)
        return self._error(f"Slack {method} failed: {code}: {hint}", definitely_not_sent=True, channel_down=down)

    def _network_error(self, method: str, exc: BaseException) -> DeliveryError:
        posting = method in ("chat.postMessage", "webhook")
        if isinstance(exc, URLError) and not hasattr(exc, "code"):  # raised before the request was written
            reason = exc.reason
            what = type(reason).__name__ if isinstance(reason, BaseException) else "URLError"
            detail = getattr(reason, "strerror", None) or what
            tail = "; nothing was sent" if posting else ""
            return self._error(f"Slack {method} failed: cannot connect ({detail}) after {self.retries} retries{tail}",
                               definitely_not_sent=True, channel_down=True)
        if isinstance(exc, TimeoutError):
            what = "timed out waiting for the answer"
        elif isinstance(exc, ConnectionError | http.client.HTTPException):
            what = f"connection lost after the request was sent ({type(exc).__name__})"
        else:
            what = f"unexpected {type(exc).__name__}"
        tail = "; the message may have been posted" if posting else ""
        return self._error(f"Slack {method} failed: {what}{tail}", definitely_not_sent=False, channel_down=True)


def _status_and_error(exc: SlackApiError) -> tuple[int, str]:
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or "")
    return int(response.status_code or 0), error if re.fullmatch(r"[a-z_]{1,60}", error) else ""


def _needed(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    needed = str(data.get("needed") or "")
    return needed if re.fullmatch(r"[a-z:._,]{1,80}", needed) else ""


def make_slack_notifier(*, token: str | None, channel: str | None, api_url: str, webhook_url: str | None,
                        retries: int, timeout: float = 30) -> SlackNotifier | None:
    """The Slack channel of the settings: bot token + channel, else webhook, else None (Slack not configured)."""
    if not re.match(r"https?://", api_url or ""):
        raise ConfigError("MONITOR_SLACK_API_URL must be an http(s) URL such as https://slack.com/api/")
    if webhook_url and not token and not re.match(r"https?://", webhook_url):
        raise ConfigError("MONITOR_SLACK_WEBHOOK_URL must be an https:// URL (from the app's Incoming Webhooks page)")
    if not token and not webhook_url:
        return None
    return SlackNotifier(token=token or None, channel=channel, api_url=api_url, webhook_url=webhook_url or None,
                         retries=retries, timeout=timeout)


__all__ = ["EVENT_TYPE", "SlackNotifier", "escape_text", "format_message", "make_slack_notifier", "metadata_key"]
