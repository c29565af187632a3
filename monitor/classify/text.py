"""Read a CT.gov v2 study record into labelled text segments, and the small text helpers the rules share.

Pure and total: odd or missing modules give fewer segments, never an exception. Imports only the stdlib.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from monitor.classify.lexicon import GIVEN_NAME_TYPES, PRODUCT_WORD_RE

# Tiers, from "what is administered" to background text.
TIER_INTERVENTION = 0
TIER_TITLE = 1
TIER_SUMMARY = 2
TIER_CONDITION = 3
TIER_DESCRIPTION = 4
TIER_OUTCOME = 5  # outcome measures: read only for vesicles measured when nothing else names a product

CONTROL_RE = re.compile(
    r"\b(placebo|sham|saline|vehicle|no intervention|control|standard (?:of )?care|standard treatment|"
    r"conventional|convention drugs|usual care|best supportive care)\b",
    re.IGNORECASE,
)
CONTROL_ARM_TYPES = frozenset({"PLACEBO_COMPARATOR", "SHAM_COMPARATOR", "NO_INTERVENTION"})
_NEGATION_WORDS = frozenset({"no", "not", "without"})
_NEGATION_PAIRS = frozenset(
    {("free", "of"), ("absence", "of"), ("lack", "of"), ("instead", "of"), ("rather", "than"), ("devoid", "of")}
)
_WORD_RE = re.compile(r"[a-z]+|[^\sa-z()'/-]")  # words, and punctuation that ends a negation's reach
_CLAUSE_BREAK_RE = re.compile(r"[.;:!?]|,\s+(?:but|while|whereas)\b")
_CLAUSE_MARKS = ".;:!?"
_CLAUSE_CONJUNCTIONS = (", but ", ", while ", ", whereas ")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, so every index still points at the same character of ``text``."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class Segment:
    """One piece of record text: where it came from, the text, and its tier."""

    field: str
    text: str
    tier: int
    control: bool = False  # a placebo / comparator intervention or arm
    given: bool = False  # the name of a drug / biological / supplement intervention: it names what is given

    @cached_property
    def low(self) -> str:
        return ascii_lower(self.text)


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def protocol(record: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_mapping(as_mapping(record).get("protocolSection"))


def module(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return as_mapping(protocol(record).get(name))


def record_segments(record: Mapping[str, Any]) -> list[Segment]:
    """Every text field the classifier reads, with its path and tier."""
    return [seg for seg in _iter_segments(record) if seg.text.strip()]


def _iter_segments(record: Mapping[str, Any]) -> Iterator[Segment]:
    yield from _intervention_segments(record)
    ident = module(record, "identificationModule")
    for key in ("briefTitle", "officialTitle", "acronym"):
        yield Segment(key, as_text(ident.get(key)), TIER_TITLE)
    desc = module(record, "descriptionModule")
    yield Segment("briefSummary", as_text(desc.get("briefSummary")), TIER_SUMMARY)
    cond = module(record, "conditionsModule")
    for key in ("conditions", "keywords"):
        for i, text in enumerate(as_list(cond.get(key))):
            yield Segment(f"{key}[{i}]", as_text(text), TIER_CONDITION)
    yield Segment("detailedDescription", as_text(desc.get("detailedDescription")), TIER_DESCRIPTION)


def outcome_segments(record: Mapping[str, Any]) -> list[Segment]:
    """The registered outcome measures (measure and description), not part of ``record_segments``."""
    outcomes = module(record, "outcomesModule")
    found = []
    for key in ("primaryOutcomes", "secondaryOutcomes", "otherOutcomes"):
        for i, item in enumerate(as_list(outcomes.get(key))):
            item = as_mapping(item)
            for part in ("measure", "description"):
                text = as_text(item.get(part))
                if text.strip():
                    found.append(Segment(f"{key}[{i}].{part}", text, TIER_OUTCOME))
    return found


def _intervention_segments(record: Mapping[str, Any]) -> Iterator[Segment]:
    arms_module = module(record, "armsInterventionsModule")
    for i, item in enumerate(as_list(arms_module.get("interventions"))):
        item = as_mapping(item)
        name = as_text(item.get("name"))
        control = is_control(name)
        given = as_text(item.get("type")) in GIVEN_NAME_TYPES
        yield Segment(f"interventions[{i}].name", name, TIER_INTERVENTION, control, given)
        yield Segment(f"interventions[{i}].description", as_text(item.get("description")), TIER_INTERVENTION, control)
        for j, other in enumerate(as_list(item.get("otherNames"))):
            yield Segment(f"interventions[{i}].otherNames[{j}]", as_text(other), TIER_INTERVENTION, control)
    for i, arm in enumerate(as_list(arms_module.get("armGroups"))):
        arm = as_mapping(arm)
        label = as_text(arm.get("label"))
        control = as_text(arm.get("type")) in CONTROL_ARM_TYPES or is_control(label)
        yield Segment(f"armGroups[{i}].label", label, TIER_INTERVENTION, control)
        yield Segment(f"armGroups[{i}].description", as_text(arm.get("description")), TIER_INTERVENTION, control)


def is_control(name: str) -> bool:
    """A comparator: named placebo / saline / sham / standard care and not naming a product of interest."""
    if not CONTROL_RE.search(name):
        return False
    return not any(not is_negated(name, m.start()) for m in PRODUCT_WORD_RE.finditer(name))


def clause_before(text: str, start: int, width: int = 80) -> str:
    """The text before ``start`` back to the previous clause break (at most ``width`` characters)."""
    window = text[max(0, start - width) : start]
    cut = max(window.rfind(mark) + 1 for mark in _CLAUSE_MARKS)
    for conjunction in _CLAUSE_CONJUNCTIONS:
        found = window.rfind(conjunction)
        if found != -1:
            cut = max(cut, found + len(conjunction))
    return window[cut:]


def clause_after(text: str, end: int, width: int = 80) -> str:
    window = text[end : end + width]
    found = _CLAUSE_BREAK_RE.search(window)
    return window[: found.start()] if found else window


def is_negated(text: str, start: int) -> bool:
    """True when a negation ("no", "without", "free of" ...) governs the words starting at ``start``."""
    if text[max(0, start - 4) : start].lower() in ("non-", "non "):
        return True
    tokens = _WORD_RE.findall(ascii_lower(clause_before(text, start, 45)))
    words: list[str] = []
    for token in reversed(tokens):  # nearest first, up to a comma or other punctuation
        if not token[0].isalpha():
            break
        words.append(token)
    words.reverse()
    pairs = list(zip(words, words[1:], strict=False))
    not_only = {i for i, pair in enumerate(pairs) if pair == ("not", "only")}  # "not only ... but also" names them
    negating = (w in _NEGATION_WORDS and i not in not_only for i, w in enumerate(words))
    return any(negating) or any(pair in _NEGATION_PAIRS for pair in pairs)


def snippet(text: str, start: int, end: int, pad: int = 30) -> str:
    """The matched words with a little context (whole words), on one line."""
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    while lo > 0 and not text[lo - 1].isspace():
        lo -= 1
    while hi < len(text) and not text[hi].isspace():
        hi += 1
    words = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + words + ("…" if hi < len(text) else "")
