"""Finding the product words of a registration: vesicles, secretome, cells, tissue products, each given, measured
or removed, with the words around them that name their source. Imports ``monitor.domain`` and this package only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.classify import lexicon as lx
from monitor.classify.text import Segment, clause_after, clause_before, is_negated, snippet
from monitor.domain import Evidence

EV, SECRETOME, CELLS, TISSUE, MEASURED = "ev", "secretome", "cells", "tissue", "measured"
# TISSUE: a blood or perinatal-tissue product given without cells or vesicles (PRP, serum eye drops, amniotic
# membrane extract, placental allograft): class "other", source "blood" or "msc_perinatal"
REMOVED = "removed"  # vesicles a device or drug clears from the body: neither given nor only measured
_TOKEN_RE = re.compile(r"\S+\s*$|\S+\s+")
_ATTACHED_RE = re.compile(r" ?- ?([A-Za-z][\w-]*)")  # "Secretome-MSCs", "Exosome-MSC": the source follows the product
_PAREN_RE = re.compile(r"\s*\(([^()]{1,80})\)")
_FOLLOWING_WORD_RE = re.compile(r"\s+([A-Za-z][\w'’-]*)")


@dataclass(frozen=True)
class Mention:
    kind: str
    seg: Segment
    start: int
    end: int

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.seg.field, snippet(self.seg.text, self.start, self.end))


# --- finding mentions -----------------------------------------------------------------------------------------
def find_mentions(segments: Sequence[Segment]) -> list[Mention]:
    found: list[Mention] = []
    for seg in segments:
        if not seg.control:
            found.extend(_segment_mentions(seg))
    return found


def _segment_mentions(seg: Segment) -> list[Mention]:
    text, low = seg.text, seg.low
    if not (lx.ANY_PRODUCT_LOWER.search(low) or lx.ANY_PRODUCT_UPPER.search(text)):
        return []
    blood = sorted(term_spans(lx.BLOOD_PRODUCT_TERM, text, low) + term_spans(lx.PERINATAL_TISSUE_TERM, text, low))
    found = [Mention(TISSUE, seg, lo, hi) for lo, hi in blood if not is_negated(text, lo)]
    masked: list[tuple[int, int]] = []
    for kind, term in ((EV, lx.EV_TERM), (SECRETOME, lx.SECRETOME_TERM)):
        for lo, hi in term_spans(term, text, low):
            if any(b_lo <= lo < b_hi for b_lo, b_hi in blood):
                continue
            masked.append(source_span(text, lo, hi))
            found.extend(_classified(kind, seg, lo, hi))
    found.extend(Mention(MEASURED, seg, lo, hi) for lo, hi in term_spans(lx.MEASURED_EV_TERM, text, low))
    found.extend(_cell_mentions(seg, masked))
    return found


def term_spans(term: lx.Term, text: str, low: str) -> list[tuple[int, int]]:
    """(start, end) of every match of a term: lower-case pattern on ``low``, case-sensitive one on ``text``."""
    lower, lower_needles, upper, upper_needles = term
    spans = [m.span() for m in lower.finditer(low)] if lower_needles.search(low) else []
    if upper is not None and upper_needles is not None and upper_needles.search(text):
        spans.extend(m.span() for m in upper.finditer(text))
    return sorted(spans)


def _cell_mentions(seg: Segment, masked: list[tuple[int, int]]) -> list[Mention]:
    text, low = seg.text, seg.low
    found: list[Mention] = []
    spans = [(lo, hi, False) for lo, hi in term_spans(lx.CELL_TERM, text, low)]
    if seg.field.endswith(".name"):
        spans += [(lo, hi, True) for lo, hi in term_spans(lx.WEAK_CELL_TERM, text, low)]
    for lo, hi, weak in spans:
        covered = any(m_lo <= lo < m_hi for m_lo, m_hi in masked) or any(c.start <= lo < c.end for c in found)
        covered = covered or _makes_product(text, hi)
        background = bool(weak and lx.NOT_ADMINISTERED_CELL_RE.search(text[:lo])) or acted_on(text, lo)
        if not covered and not background and not is_negated(text, lo):
            found.append(Mention(CELLS, seg, lo, hi))
    return found


def acted_on(text: str, start: int) -> bool:
    """Cells a product "activates" or "restores" are its targets: neither what is given nor where it comes from."""
    return bool(lx.TARGET_CELLS_BEFORE_RE.search(clause_before(text, start, 100)))


def _makes_product(text: str, end: int) -> bool:
    """Cells followed by "derived" and, within a few words, a vesicle or secretome word: they make the product."""
    made = lx.MAKES_PRODUCT_AFTER_RE.match(text, end)
    if made is None:
        return False
    window = clause_after(text, made.end(), 50)
    low = window.lower()
    return bool(term_spans(lx.EV_TERM, window, low) or term_spans(lx.SECRETOME_TERM, window, low))


def _classified(kind: str, seg: Segment, start: int, end: int) -> list[Mention]:
    text = seg.text
    if is_negated(text, start) or lx.DEPLETED_AFTER_RE.match(text, end):
        return []
    if kind == SECRETOME and (
        lx.ANTIGEN_BEFORE_RE.search(clause_before(text, start, 40)) or lx.ANTIGEN_AFTER_RE.match(text, end)
    ):
        return []  # "dendritic cells pulsed with tumor lysate": the lysate is the antigen, not the product
    if kind == EV and lx.MICROPARTICLE_RE.match(text[start:end]) and lx.DRUG_PARTICLE_RE.search(text):
        return []  # a drug formulation: "microparticles" in a text about embolization, microspheres, polymers
    if kind == EV and lx.REMOVED_BEFORE_RE.search(clause_before(text, start, 60)):
        return [Mention(REMOVED, seg, start, end)]  # (before "measured": "removes circulating exosomes")
    if is_measured(text, start, end, name_of_given=seg.given):
        return [Mention(MEASURED, seg, start, end)]
    return [Mention(kind, seg, start, end)]


def is_measured(text: str, start: int, end: int, *, name_of_given: bool = False) -> bool:
    """Words around a vesicle word saying it is measured ("levels of", "circulating", "exosomal RNA", "will be
    measured"). In the name of a drug or biological intervention only the words before count: "Exosome Complex,
    RNA" names a product, "analysis of circulating exosomes" a measurement."""
    before = clause_before(text, start, 40)
    if lx.MEASURE_BEFORE_RE.search(before) or (not name_of_given and lx.FLUID_BEFORE_RE.search(before)):
        return True
    if not name_of_given and lx.RELATION_BEFORE_RE.search(clause_before(text, start, 80)):
        return True
    if not name_of_given and lx.EFFECT_ON_BEFORE_RE.search(clause_before(text, start, 140)):
        return True
    return not name_of_given and bool(lx.MEASURE_AFTER_RE.search(clause_after(text, end, 60)))


def source_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The product phrase around an EV / secretome word.

    "UC-MSC-derived" before it, "derived from MSCs" or a hyphenated "-MSCs" ("Secretome-MSCs") after it.
    """
    lo = start
    for token in reversed(_TOKEN_RE.findall(text, max(0, start - 120), start)[-8:]):
        word = token.strip().strip("()[],'\"").lower()
        if not _is_descriptor(word):
            break
        lo -= len(token)
    hi = end
    attached = _ATTACHED_RE.match(text, end)
    if attached and _is_descriptor(attached.group(1).lower()):
        hi = attached.end()
        while (more := _FOLLOWING_WORD_RE.match(text, hi)) and _is_descriptor(more.group(1).lower()):
            hi = more.end()  # "Secretome-hypoxia MSC"
    paren = _PAREN_RE.match(text, hi)
    if paren and term_spans(lx.CELL_TERM, paren.group(1), paren.group(1).lower()):
        hi = paren.end()  # "Exosome (MSC-derived)", "Exosomes (derived from UC-MSCs)"
    link = lx.SOURCE_LINK_RE.match(text[hi : hi + 300])
    if link:
        hi = hi + link.end() + len(clause_after(text, hi + link.end(), 70))
    return lo, hi


def _is_descriptor(word: str) -> bool:
    parts = [p for p in re.split(r"[-/]", word) if p]
    return bool(parts) and all(
        p in lx.DESCRIPTOR_WORDS or p == "derived" or lx.DESCRIPTOR_TOKEN_RE.match(p) for p in parts
    )
