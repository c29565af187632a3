"""The trial classifier: one CT.gov v2 study record in, a ``Classification`` with evidence per field out.

Pure, total (never raises on thin or odd records) and explainable. Imports ``monitor.domain`` and this package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.classify import lexicon as lx
from monitor.classify.cancer import detect_cancer, detect_cancer_types
from monitor.classify.mentions import CELLS, EV, MEASURED, SECRETOME, TISSUE, Mention, acted_on
from monitor.classify.product import ProductDecision, decide_product
from monitor.classify.text import (
    TIER_INTERVENTION,
    TIER_SUMMARY,
    Segment,
    as_list,
    as_text,
    clause_after,
    clause_before,
    is_negated,
    module,
    record_segments,
    snippet,
)
from monitor.domain import PHASES, Classification, Evidence

CLASSIFIER_VERSION = "1.6.16"  # bump whenever a rule or word list changes: stored trials are reclassified

CELL_FREE_CLASSES = frozenset({"extracellular_vesicle", "cell_free_secretome"})
_THERAPY_CLASSES = frozenset({"extracellular_vesicle", "cell_free_secretome", "cell_based"})
_SOURCE_ORDER: dict[str, tuple[str, ...]] = {
    "cell_based": ("dendritic_cell", "tumor_cell", "msc_perinatal", "msc_adult", "other", "msc_unspecified"),
    "vesicle": (
        "dendritic_cell",
        "tumor_cell",
        "plant",
        "msc_perinatal",
        "msc_adult",
        "blood",
        "other",
        "msc_unspecified",
    ),
}
_SOURCE_RES = {
    "dendritic_cell": lx.SRC_DENDRITIC_RE,
    "tumor_cell": lx.SRC_TUMOR_RE,
    "plant": lx.SRC_PLANT_RE,
    "msc_perinatal": lx.SRC_PERINATAL_RE,
    "msc_adult": lx.SRC_ADULT_RE,
    "blood": lx.SRC_BLOOD_RE,
    "other": lx.SRC_OTHER_RE,
    "msc_unspecified": lx.SRC_MSC_RE,
}
_NEAR_PRODUCT = 60  # characters around a product named in the detailed description that may say it is engineered
_MSC_TISSUES = ("msc_perinatal", "msc_adult")  # worth finding anywhere when the product says only "MSC"


def classify_record(record: Mapping[str, Any]) -> Classification:
    """Classify one CT.gov API v2 study object (product.md section 3); evidence names the deciding words."""
    record = record if isinstance(record, Mapping) else {}
    segments = record_segments(record)
    product = decide_product(record, segments)
    cls = product.product_class
    source, source_ev = _source(cls, product, segments)
    engineered, engineered_ev = _engineered(cls, product)
    cancer, cancer_ev = detect_cancer(segments)
    types, types_ev = detect_cancer_types(segments) if cancer else ((), (Evidence("cancer", "not a cancer trial"),))
    phase, phase_ev = _phase(record)
    cell_free = cls in CELL_FREE_CLASSES
    return Classification(
        product_class=cls,
        cell_free=cell_free,
        engineered=engineered,
        source=source,
        phase=phase,
        cancer=cancer,
        cancer_types=types,
        evidence={
            "product_class": product.evidence,
            "cell_free": (Evidence("product_class", cls),),
            "engineered": engineered_ev,
            "source": source_ev,
            "phase": phase_ev,
            "cancer": cancer_ev,
            "cancer_types": types_ev,
        },
    )


# --- phase ----------------------------------------------------------------------------------------------------
def _phase(record: Mapping[str, Any]) -> tuple[str | None, tuple[Evidence, ...]]:
    phases = [p for p in as_list(module(record, "designModule").get("phases")) if isinstance(p, str) and p]
    if not phases:
        return None, (Evidence("designModule.phases", "no phase in the record"),)
    joined = "/".join(phases)
    unknown = [p for p in phases if p not in PHASES]
    words = joined if not unknown else f"{joined} (not in the vocabulary: {', '.join(unknown)})"
    return joined, (Evidence("designModule.phases", words),)


# --- source ---------------------------------------------------------------------------------------------------
def _source(cls: str, product: ProductDecision, segments: Sequence[Segment]) -> tuple[str, tuple[Evidence, ...]]:
    if cls == "biomarker":
        near = _fluid_next_to_vesicles(product)
        return near or _fluid(list(product.segments) + sorted(segments, key=lambda s: s.tier))
    if cls == "other":
        tissue = [m for m in product.mentions if m.kind == TISSUE]
        if tissue:
            words = tissue[0].seg.text[tissue[0].start : tissue[0].end]
            return "msc_perinatal" if lx.SRC_PERINATAL_RE.search(words) else "blood", (tissue[0].evidence,)
        early = sorted((s for s in segments if not s.control and s.tier <= TIER_SUMMARY), key=lambda s: s.tier)
        return _tumour_product(early) or _blood_test(early) or (
            "other",
            (Evidence("product_class", "no EV, secretome or cell product: source 'other'"),),
        )
    order = _SOURCE_ORDER["cell_based" if cls == "cell_based" else "vesicle"]
    rest = [s for s in segments if not s.control and s not in product.segments]
    found = (
        _first_source(order, product.product_phrases())
        or _first_source(order, product.segments)
        or _first_source_by_tier(order, rest)
    )
    if found is not None and found[0] == "msc_unspecified":
        found = _first_source_by_tier(_MSC_TISSUES, rest) or found
    if found is None and cls == "cell_based":
        found = _first_source(("msc_unspecified",), segments, {"msc_unspecified": lx.SRC_STEM_RE})
    if found is None:
        return "unknown", (Evidence("product_class", "no producing cell or tissue named"),)
    return found


def _tumour_product(early: Sequence[Segment]) -> tuple[str, tuple[Evidence, ...]] | None:
    """An `other` product made from the patient's tumour (lysate, heat-shock-protein complex): source tumor_cell.

    ``early``: the record's non-control interventions, arms, titles and summary, in tier order (as for _blood_test).
    """
    found = _first_match(lx.TUMOR_PRODUCT_RE, early, skip_negated=True)
    return ("tumor_cell", found) if found else None


def _blood_test(early: Sequence[Segment]) -> tuple[str, tuple[Evidence, ...]] | None:
    """An `other` record that tests blood ("cell-free DNA", "liquid biopsy") and names no other fluid: blood."""
    if any(lx.NOT_BLOOD_TEST_RE.search(s.text) for s in early):
        return None
    found = _first_match(lx.BLOOD_TEST_RE, early)
    return ("blood", found) if found else None


def _first_match(
    pattern: re.Pattern[str], segments: Sequence[Segment], *, skip_negated: bool = False
) -> tuple[Evidence, ...] | None:
    """Evidence of the first segment in which the pattern matches (not negated, when asked)."""
    for seg in segments:
        m = pattern.search(seg.text)
        if m and not (skip_negated and is_negated(seg.text, m.start())):
            return (Evidence(seg.field, snippet(seg.text, m.start(), m.end())),)
    return None


def _first_source_by_tier(order: Sequence[str], segments: Sequence[Segment]) -> tuple[str, tuple[Evidence, ...]] | None:
    """The first tier (interventions, titles, summary...) that names a source decides."""
    for tier in sorted({s.tier for s in segments}):
        found = _first_source(order, [s for s in segments if s.tier == tier])
        if found is not None:
            return found
    return None


def _first_source(
    order: Sequence[str],
    segments: Sequence[Segment],
    patterns: Mapping[str, Any] | None = None,
) -> tuple[str, tuple[Evidence, ...]] | None:
    patterns = patterns or _SOURCE_RES
    joined = "\n".join(seg.text for seg in segments)
    for name in order:
        if not patterns[name].search(joined):  # one search over all the text before looking segment by segment
            continue
        for seg in segments:
            m = patterns[name].search(seg.text)
            if m and not is_negated(seg.text, m.start()) and not acted_on(seg.text, m.start()):
                return name, (Evidence(seg.field, snippet(seg.text, m.start(), m.end())),)
    return None


_FLUIDS = (("blood", lx.FLUID_BLOOD_RE), ("other", lx.FLUID_OTHER_RE))


def _fluid_next_to_vesicles(product: ProductDecision) -> tuple[str, tuple[Evidence, ...]] | None:
    """The fluid named next to a measured vesicle word: "Urinary Exosomal ...", "exosomes isolated from plasma"."""
    measured = [m for m in product.mentions if m.kind in (MEASURED, EV, SECRETOME)]
    for m in sorted(measured, key=lambda m: m.seg.tier):
        text = m.seg.text
        before = clause_before(text, m.start, 40)
        lo = m.start - len(before)
        window = text[lo : m.end] + clause_after(text, m.end, 50)
        hits = [(f.start(), name, f) for name, pattern in _FLUIDS for f in pattern.finditer(window)]
        if hits:  # the fluid nearest the vesicle word
            _, name, f = min(hits, key=lambda h: min(abs(lo + h[0] - m.start), abs(lo + h[0] - m.end)))
            return name, (Evidence(m.seg.field, snippet(text, lo + f.start(), lo + f.end())),)
    return None


def _fluid(segments: Sequence[Segment]) -> tuple[str, tuple[Evidence, ...]]:
    for name, pattern in _FLUIDS:
        found = _first_match(pattern, segments)
        if found:
            return name, found
    return "unknown", (Evidence("product_class", "fluid measured not named"),)


# --- engineered -----------------------------------------------------------------------------------------------
def _engineered(cls: str, product: ProductDecision) -> tuple[bool, tuple[Evidence, ...]]:
    """Loaded, packaged, conjugated or genetically modified, said where the product is named (tiers 0-2)."""
    if cls not in _THERAPY_CLASSES:
        return False, (Evidence("product_class", f"{cls}: nothing of the kind administered"),)
    products = [m for m in product.mentions if m.kind in (EV, SECRETOME, CELLS) and m.seg.tier <= TIER_SUMMARY]
    for seg in dict.fromkeys(m.seg for m in products):
        hit = _engineering_words(seg.text)
        if hit is not None:
            return True, (Evidence(seg.field, snippet(seg.text, *hit)),)
    # a product named only in the detailed description: only the words right around it, not the background
    later = [m for m in product.deciding if m.seg.tier > TIER_SUMMARY]
    for m in later:
        lo = max(0, m.start - _NEAR_PRODUCT)
        hit = _engineering_words(m.seg.text[lo : m.end + _NEAR_PRODUCT])
        if hit is not None:
            return True, (Evidence(m.seg.field, snippet(m.seg.text, lo + hit[0], lo + hit[1])),)
    products += later
    for m in products:
        hit = _cargo(m.seg.text, m.start, m.end)
        if hit is not None:
            return True, (Evidence(m.seg.field, snippet(m.seg.text, *hit)),)
    lysate = _lysate_with_dendritic_cells(cls, product)
    if lysate is not None:
        return True, (lysate.evidence,)
    return False, (Evidence("interventions", "no loading, cargo or genetic modification named"),)


def _lysate_with_dendritic_cells(cls: str, product: ProductDecision) -> Mention | None:
    """A tumour lysate given as its own intervention next to dendritic cells is their antigen (a loaded DC vaccine)."""
    if cls != "cell_based":
        return None
    if not any(lx.SRC_DENDRITIC_RE.search(m.seg.text[m.start : m.end]) for m in product.deciding):
        return None
    for m in product.mentions:
        lysate = "lysate" in m.seg.low[m.start : m.end]
        if m.kind in (SECRETOME, MEASURED) and m.seg.tier == TIER_INTERVENTION and lysate:
            return m
    return None


def _engineering_words(text: str) -> tuple[int, int] | None:
    if not lx.ENGINEERED_NEEDLES.search(text.lower()):
        return None
    m = lx.ENGINEERED_RE.search(text)
    if m and not is_negated(text, m.start()):
        return m.start(), m.end()
    return None


def _cargo(text: str, start: int, end: int) -> tuple[int, int] | None:
    after = lx.CARGO_AFTER_RE.match(clause_after(text, end, 60))
    if after:
        return start, end + after.end()
    before = clause_before(text, start, 70)
    found = lx.CARGO_BEFORE_RE.search(before)
    if found:
        return start - len(before) + found.start(), end
    return None


def nct_id_of(record: Mapping[str, Any]) -> str:
    """The record's NCT id, or "" when it has none."""
    return as_text(module(record if isinstance(record, Mapping) else {}, "identificationModule").get("nctId"))
