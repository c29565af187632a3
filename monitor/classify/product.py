"""What a registration administers: its product class, decided from the product words found in it, with evidence.

Intervention-level text decides first; titles, summary, keywords and the detailed description only when the
interventions name nothing of interest. Imports ``monitor.domain`` and this package only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.classify import lexicon as lx
from monitor.classify.mentions import (
    CELLS,
    EV,
    MEASURED,
    REMOVED,
    SECRETOME,
    TISSUE,
    Mention,
    find_mentions,
    is_measured,
    source_span,
    term_spans,
)
from monitor.classify.text import (
    TIER_INTERVENTION,
    TIER_SUMMARY,
    TIER_TITLE,
    Segment,
    as_list,
    as_mapping,
    as_text,
    clause_after,
    is_negated,
    module,
    outcome_segments,
)
from monitor.domain import Evidence

_CLASS_OF_KIND = {
    EV: "extracellular_vesicle",
    SECRETOME: "cell_free_secretome",
    CELLS: "cell_based",
    TISSUE: "other",
}
_KIND_PRIORITY = (CELLS, EV, SECRETOME, TISSUE)
_CELL_FREE_CLASSES = frozenset({_CLASS_OF_KIND[EV], _CLASS_OF_KIND[SECRETOME]})
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class ProductDecision:
    product_class: str
    evidence: tuple[Evidence, ...]
    segments: tuple[Segment, ...]  # where the deciding mentions are
    mentions: tuple[Mention, ...]  # every mention found in the record
    deciding: tuple[Mention, ...] = ()  # the mentions of the chosen class

    def product_phrases(self) -> list[Segment]:
        """The deciding EV / secretome words with the words naming their source ("secretome of placental MSCs")."""
        phrases = []
        for m in self.deciding:
            if m.kind in (EV, SECRETOME):
                lo, hi = source_span(m.seg.text, m.start, m.end)
                phrases.append(Segment(m.seg.field, m.seg.text[lo:hi], m.seg.tier))
        return phrases


# --- deciding the class ---------------------------------------------------------------------------------------
def decide_product(record: Mapping[str, Any], segments: Sequence[Segment]) -> ProductDecision:
    """The first part of the record (interventions, arms, titles, summary, ...) naming a product decides.

    Conditions, keywords and the detailed description are only read when the earlier parts name nothing.
    """
    design = _design_evidence(record)
    early = [s for s in segments if s.tier <= TIER_SUMMARY]
    mentions = find_mentions(early)
    if design is not None and design.field == "designModule.studyType":
        tested = _tested_products(mentions)
        if tested:  # "evaluate the therapeutic effect of MSC-Exo", registered as observational
            return _decided(tested, mentions)
        mentions += find_mentions([s for s in segments if s.tier > TIER_SUMMARY])
        return _biomarker_or_other(record, mentions, (design,))
    if design is not None:
        tier0 = [
            m for m in mentions if m.kind in _CLASS_OF_KIND and m.kind != TISSUE and m.seg.tier == TIER_INTERVENTION
        ]
        if tier0:
            return _decided(_without_background_cells(tier0), mentions)
        mentions += find_mentions([s for s in segments if s.tier > TIER_SUMMARY])
        return _biomarker_or_other(record, mentions, (design,))
    if not mentions:
        mentions = find_mentions([s for s in segments if s.tier > TIER_SUMMARY])
    groups = _reading_order(mentions)
    if not groups:
        return _biomarker_or_other(record, mentions, ())
    admin = [m for m in groups[0] if m.kind in _CLASS_OF_KIND]
    if admin and admin[0].seg.tier == TIER_INTERVENTION:
        admin = _without_background_cells(admin)
    if not admin:
        return _biomarker_or_other(record, mentions, ())
    decision = _decided(admin, mentions)
    from_text_only = admin[0].seg.tier > TIER_INTERVENTION  # titles or summary, not the interventions, name it
    measured = any(m.kind == MEASURED and m.seg.tier <= TIER_SUMMARY for m in mentions)
    if (
        decision.product_class in _CELL_FREE_CLASSES
        and from_text_only
        and not _manufactured(decision.deciding)
        and not _administration_named(record, early, measured=measured)
    ):
        note = Evidence("record", "vesicles named, nothing said to be given (no intervention, dose or route)")
        return _biomarker_or_other(record, [m for m in mentions if m.kind != REMOVED], (note,))
    return decision


def _manufactured(mentions: Sequence[Mention]) -> bool:
    """Vesicles or secretome named with the cells or plants that make them ("MSC EVs", "dendritic cell-derived
    exosomes", "grape exosomes"): a product, not something measured in patients."""
    for m in mentions:
        if m.kind in (EV, SECRETOME):
            lo, hi = source_span(m.seg.text, m.start, m.end)
            if lx.MANUFACTURED_SOURCE_RE.search(m.seg.text[lo:hi]):
                return True
    return False


def _tested_products(mentions: Sequence[Mention]) -> list[Mention]:
    """Manufactured vesicles or secretome that a sentence says are tested ("the efficacy of MSC-Exo", "the
    therapeutic effect of MSC-Exo"): given, whatever the registered design."""
    tested = []
    for m in mentions:
        if m.kind in (EV, SECRETOME) and _manufactured([m]):
            offset, sentence = _sentence_at(m.seg.text, m.start)
            at = m.start - offset
            if any(t.start() <= at < t.end() for t in lx.TESTED_PRODUCT_RE.finditer(sentence)):
                tested.append(m)
    return tested


def _sentence_at(text: str, position: int) -> tuple[int, str]:
    """(start, text) of the sentence holding ``position``."""
    start = 0
    for found in _SENTENCE_RE.finditer(text):
        if found.start() >= position:
            break
        start = found.end()
    end = _SENTENCE_RE.search(text, position)
    return start, text[start : end.start() if end else len(text)]


def _administration_named(record: Mapping[str, Any], early: Sequence[Segment], *, measured: bool = False) -> bool:
    """Does the record say that something is given: a biological intervention, a route, a dose, a treatment?

    Asked only when titles or the summary, not the interventions, name the vesicles: "Extracellular Vesicles in
    Breast Cancer Patients Undergoing Neoadjuvant Chemotherapy" with a summary about measuring them gives nothing.
    """
    interventions = [as_mapping(i) for i in as_list(module(record, "armsInterventionsModule").get("interventions"))]
    if not measured and any(as_text(i.get("type")) in lx.ADMINISTERED_TYPES for i in interventions):
        return True  # (a typed "Dietary Supplement: salt diet" next to "exosomes in the urine" gives no vesicles)
    texts = [seg.text for seg in early if not seg.control]
    registered_interventional = as_text(module(record, "designModule").get("studyType")) == "INTERVENTIONAL"
    if not registered_interventional and any(lx.OBSERVATIONAL_RE.search(text) for text in texts):
        return False  # (a registered study type outweighs the word "observational" in a summary)
    if any(lx.TESTED_PRODUCT_RE.search(text) for text in texts):
        return True
    return any(_says_given(sentence) for sentence in _vesicle_sentences(texts))


def _says_given(sentence: str) -> bool:
    """An administration cue in a sentence naming vesicles. "Treated with" and "receive" count only when what
    follows them names a product: "Extracellular Vesicles in Kidney Disease Treated With Dapagliflozin" gives a
    drug, "patients will be treated with exosome eye drops" gives the vesicles."""
    if lx.BIOMARKER_WORD_RE.search(sentence):
        return False  # "Endothelial Microparticules and ... Kidney Transplantation: Biomarker of ... Rejection"
    for cue in lx.ADMINISTRATION_RE.finditer(sentence):
        if not lx.OBJECT_CUE_RE.match(cue.group()):
            return True
        if lx.PRODUCT_WORD_RE.search(clause_after(sentence, cue.end(), 60)):
            return True
    return False


def _vesicle_sentences(texts: Sequence[str]) -> list[str]:
    """The sentences (titles are one) naming a vesicle or secretome word that is not only measured there.

    "microparticle levels will be elevated and will go down after percutaneous treatment of the valves" names a
    treatment, but of the valves: the vesicles in that sentence are measured, so it says nothing is given.
    """
    found = []
    for text in texts:
        for sentence in _SENTENCE_RE.split(text):
            low = sentence.lower()
            spans = term_spans(lx.EV_TERM, sentence, low) + term_spans(lx.SECRETOME_TERM, sentence, low)
            if any(not is_measured(sentence, lo, hi) for lo, hi in spans):
                found.append(sentence)
    return found


def _without_background_cells(mentions: list[Mention]) -> list[Mention]:
    """Drop the cells an intervention's description names when its name gives a vesicle or secretome product.

    "MSC-Derived Secretome" described as "collected from cultured MSCs under GMP conditions": the cells are how
    the product is made, not what is given. An intervention whose name also names cells keeps them.
    """
    named: dict[str, set[str]] = {}
    for m in mentions:
        owner, _, part = m.seg.field.rpartition(".")
        if owner.startswith("interventions[") and part == "name":
            named.setdefault(owner, set()).add(m.kind)
    cell_free = {owner for owner, kinds in named.items() if kinds & {EV, SECRETOME} and CELLS not in kinds}
    return [
        m
        for m in mentions
        if not (m.kind == CELLS and m.seg.field.rpartition(".")[0] in cell_free and not m.seg.field.endswith(".name"))
    ]


def _reading_order(mentions: Sequence[Mention]) -> list[list[Mention]]:
    """Mentions grouped by where they are: interventions, arm groups, titles, summary, conditions, description."""

    def rank(m: Mention) -> tuple[int, int]:
        return m.seg.tier, int(m.seg.field.startswith("armGroups"))

    groups: dict[tuple[int, int], list[Mention]] = {}
    for m in sorted(mentions, key=rank):
        groups.setdefault(rank(m), []).append(m)
    return list(groups.values())


def _decided(at_tier: list[Mention], mentions: list[Mention]) -> ProductDecision:
    counts = Counter(m.kind for m in at_tier)
    tier = at_tier[0].seg.tier
    if CELLS in counts and tier <= TIER_TITLE:
        kind = CELLS
    else:
        kind = max(_KIND_PRIORITY, key=lambda k: (counts.get(k, 0), -_KIND_PRIORITY.index(k)))
    chosen = [m for m in at_tier if m.kind == kind]
    return ProductDecision(
        _CLASS_OF_KIND[kind],
        _unique_evidence(chosen),
        tuple(dict.fromkeys(m.seg for m in chosen)),
        tuple(mentions),
        tuple(chosen),
    )


def _biomarker_or_other(
    record: Mapping[str, Any], mentions: list[Mention], design: tuple[Evidence, ...]
) -> ProductDecision:
    """Nothing of interest is given: vesicles measured anywhere (outcome measures last) make a biomarker study."""
    measured = [
        m
        for m in mentions
        if m.kind in (MEASURED, EV)
        or (m.kind == SECRETOME and not lx.NOT_MEASURABLE_RE.match(m.seg.text[m.start : m.end]))
        or (design and m.kind == REMOVED)
    ]
    if measured:
        evidence = design + _unique_evidence(measured)
        return ProductDecision("biomarker", evidence[:4], tuple(m.seg for m in measured), tuple(mentions))
    blood = [m for m in mentions if m.kind == TISSUE]
    if blood:
        return ProductDecision("other", _unique_evidence(blood), tuple(m.seg for m in blood), tuple(mentions))
    removed = [m for m in mentions if m.kind == REMOVED]
    if removed:  # a device or drug that clears vesicles: "other", with the words that say so
        return ProductDecision("other", _unique_evidence(removed), (), tuple(mentions))
    in_outcomes = _vesicles_in_outcomes(record)
    if in_outcomes:  # "the serum level of extracellular vesicle biomarkers" named only as an outcome
        evidence = design + _unique_evidence(in_outcomes)
        return ProductDecision("biomarker", evidence[:4], tuple(m.seg for m in in_outcomes), tuple(in_outcomes))
    note = Evidence("interventions", "no exosome / vesicle / secretome / cell product named")
    return ProductDecision("other", design + (note,), (), tuple(mentions))


def _vesicles_in_outcomes(record: Mapping[str, Any]) -> list[Mention]:
    """Vesicle words in the outcome measures, all measured there (a secretome word in an outcome is an assay's
    "culture supernatant", not a product)."""
    found: list[Mention] = []
    for seg in outcome_segments(record):
        for term in (lx.EV_TERM, lx.MEASURED_EV_TERM):
            found.extend(Mention(MEASURED, seg, lo, hi) for lo, hi in term_spans(term, seg.text, seg.low))
    return [m for m in found if not is_negated(m.seg.text, m.start)]


def _design_evidence(record: Mapping[str, Any]) -> Evidence | None:
    """Evidence that the study only measures (observational, diagnostic purpose or diagnostic-test arms)."""
    design = module(record, "designModule")
    study_type = as_text(design.get("studyType"))
    if study_type == "OBSERVATIONAL":
        return Evidence("designModule.studyType", study_type)
    purpose = as_text(as_mapping(design.get("designInfo")).get("primaryPurpose"))
    if purpose in lx.DIAGNOSTIC_PURPOSES:
        return Evidence("designModule.designInfo.primaryPurpose", purpose)
    interventions = [as_mapping(i) for i in as_list(module(record, "armsInterventionsModule").get("interventions"))]
    for i, item in enumerate(interventions):
        if as_text(item.get("type")) == "DIAGNOSTIC_TEST":
            return Evidence(f"interventions[{i}].type", f"DIAGNOSTIC_TEST: {as_text(item.get('name'))}")
    for i, item in enumerate(interventions):
        name = as_text(item.get("name"))
        if lx.SAMPLING_RE.match(name):
            return Evidence(f"interventions[{i}].name", name)
    return None


def _unique_evidence(mentions: Sequence[Mention]) -> tuple[Evidence, ...]:
    return tuple(dict.fromkeys(m.evidence for m in mentions))[:3]
