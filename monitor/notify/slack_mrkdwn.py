"""Slack mrkdwn made safe: ``escape_text`` and its helpers (escape, cut to a limit, links to trusted URLs).

Pure; imports domain only (the record URLs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from monitor.domain import paper_url as pubmed_page
from monitor.domain import trial_url as registry_page

ELLIPSIS = "…"

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


def escape_plain(s: str) -> str:
    """For plain_text objects (the header): no mrkdwn applies, only ``& < >`` are escaped."""
    s = " ".join(str(s).split())
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut_text(escaped: str, limit: int) -> str:
    """Shorten already-escaped text to ``limit`` characters with an ellipsis, never splitting an entity."""
    if len(escaped) <= limit:
        return escaped
    cut = _ENTITY_TAIL.sub("", escaped[: limit - 1])
    return cut.rstrip() + ELLIPSIS


def esc(value: Any, limit: int = 300) -> str:
    """Any value (None as empty) escaped with ``escape_text`` and cut to ``limit`` characters."""
    return cut_text(escape_text("" if value is None else str(value)), limit)


def paper_url(p: Mapping[str, Any]) -> Any:
    """PubMed's own URL when the PMID is numeric (a payload URL is not trusted further than that)."""
    pmid = str(p.get("pmid") or "")
    return pubmed_page(pmid) if pmid.isdigit() else p.get("url")


def trial_url(t: Mapping[str, Any], nct: str) -> Any:
    """The registry's own URL when ``nct`` is a well-formed NCT id (a payload URL otherwise)."""
    return registry_page(nct) if re.fullmatch(r"NCT\d{8}", nct) else t.get("url")


def link(url: Any, label: str) -> str:
    """``<url|label>`` for an http(s) URL (label already escaped); the bare label for anything else."""
    u = str(url or "")
    if not re.match(r"https?://[^\s<>|]+$", u):
        return label
    return f"<{u.replace('&', '&amp;')}|{label}>"


__all__ = ["ELLIPSIS", "cut_text", "esc", "escape_plain", "escape_text", "link", "paper_url", "trial_url"]
