"""Efficacy vs safety / feasibility / PK (product.md section 3) for outcome measures and PubMed papers.

Pure functions; imports ``monitor.domain`` and the stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from monitor.domain import Evidence, OutcomeKind

_I = re.IGNORECASE

# Incidence or severity of the condition the trial tries to prevent counts as efficacy, even when graded by CTCAE.
_PREVENTED_RE = re.compile(
    r"\b(?:oral |radiation[- ]induced |chemotherapy[- ]induced )?(?:mucositis|stomatitis|xerostomia|"
    r"hyposalivation|radiation dermatitis|hand[- ]foot syndrome)\b",
    _I,
)
_PK_RE = re.compile(
    r"\b(?:c ?max|t ?max|c ?min|auc(?:\d|inf|last|tau)?|area under the (?:plasma )?concentration|half[- ]life|"
    r"t1/2|pharmacokinetic\w*|PK|clearance|volume of distribution|trough|bioavailability|plasma concentrations? of|"
    r"serum concentrations? of|concentration of \w+ in)\b",
    _I,
)
_SAFETY_RE = re.compile(
    r"\b(?:adverse (?:events?|reactions?|effects?)|AEs?|SAEs?|TEAEs?|toxicit\w*|dose[- ]limiting|DLTs?|"
    r"maximum tolerated dose|MTD|tolerab\w*|safety|side[- ]effects?|infusion[- ](?:associated|related) "
    r"(?:events?|reactions?)|laboratory abnormalit\w*|vital signs|immunogenicity)\b",
    _I,
)
_FEASIBILITY_RE = re.compile(
    r"\b(?:feasib\w*|manufactur\w*|production|recruitment rate|enrol+ment rate|accrual|retention|adherence|"
    r"compliance|completion rate|successful (?:manufacture|production|delivery)|acceptability)\b",
    _I,
)
_EFFICACY_RE = re.compile(
    r"\b(?:response rate|(?:objective|overall|tumou?r|clinical|complete|partial|best overall|pathologic\w*) "
    r"responses?|duration of response|ORR|RECIST|remission|survival|OS|PFS|DFS|EFS|RFS|progression|"
    r"time to progression|recurrence|relapse|tumou?r (?:size|volume|shrinkage|burden|regression)|"
    r"disease control|DCR|clinical benefit|mortality|death rate|cure rate|healing|wound (?:size|area|closure)|"
    r"ulcer (?:size|area)|hair (?:count|density)|pain|symptom\w*|quality of life|WOMAC|OSDI|ADAS|"
    r"salivary flow|saliva flow|clinical (?:improvement|status|outcome)|ventilat\w*-free|hospital discharge|"
    r"time to recovery|(?:score|scale|index) (?:of|for) (?:disease|symptom)|disease activity)\b",
    _I,
)
_LEVELS_RE = re.compile(
    r"\b(?:levels?|concentrations?|expression|biomarkers?|markers?|exosom\w*|vesicles?|cytokines?|IL-\d+|CRP|"
    r"counts?|profiles?)\b",
    _I,
)


def classify_outcome(measure: str, description: str = "") -> OutcomeKind:
    """What one outcome measure measures; the title decides, the description only breaks ties."""
    measure = measure if isinstance(measure, str) else ""
    description = description if isinstance(description, str) else ""
    kind = _kind_of(measure)
    if kind is OutcomeKind.OTHER and not _LEVELS_RE.search(measure):
        kind = _kind_of(description)
    return kind


def _kind_of(text: str) -> OutcomeKind:
    if not text.strip():
        return OutcomeKind.OTHER
    if _PREVENTED_RE.search(text) and not re.search(r"\badverse (?:events?|reactions?)\b", text, _I):
        return OutcomeKind.EFFICACY
    if _PK_RE.search(text):
        return OutcomeKind.PHARMACOKINETIC
    if _SAFETY_RE.search(text):
        return OutcomeKind.SAFETY
    if _FEASIBILITY_RE.search(text):
        return OutcomeKind.FEASIBILITY
    if _EFFICACY_RE.search(text) and not _only_levels(text):
        return OutcomeKind.EFFICACY
    return OutcomeKind.OTHER


def _only_levels(text: str) -> bool:
    """'Change in plasma exosome levels' measures a biomarker, not a clinical benefit."""
    return bool(_LEVELS_RE.search(text)) and not re.search(r"\b(?:survival|response|remission|progression)\b", text, _I)


def efficacy_outcomes(outcomes: Iterable[tuple[str, str]]) -> list[str]:
    """The measures, of (measure, description) pairs, that measure efficacy."""
    return [
        measure for measure, description in outcomes if classify_outcome(measure, description) is OutcomeKind.EFFICACY
    ]


# --- publications ---------------------------------------------------------------------------------------------
_EXCLUDED_TYPES = {
    "review": "review",
    "systematic review": "review",
    "meta-analysis": "review",
    "editorial": "editorial",
    "comment": "comment",
    "clinical trial protocol": "protocol",
    "published erratum": "erratum",
    "retraction of publication": "retraction",
    "news": "news",
}
_PROTOCOL_RE = re.compile(
    r"\b(?:study protocol|trial protocol|protocol for a|protocol of a|design and rationale|rationale and design|"
    r"study design and|statistical analysis plan)\b",
    _I,
)
_REVIEW_RE = re.compile(
    r"\b(?:a review|this review|systematic review|meta-analysis|narrative review|we review|"
    r"review of the literature|overview of)\b",
    _I,
)
_FUTURE_RE = re.compile(
    r"\b(?:will be (?:randomi[sz]ed|enrolled|recruited|assessed|included|treated|followed)|"
    r"will include|will receive|we expect|is (?:currently )?ongoing|are being recruited)\b",
    _I,
)
_PRECLINICAL_RE = re.compile(
    r"\b(?:mice|mouse|murine|rats?|rabbits?|zebrafish|porcine|canine|xenografts?|in vitro|cell lines?|"
    r"animal models?|orthotopic)\b",
    _I,
)
_HUMAN_RE = re.compile(
    r"\b(?:patients? (?:were|was|received|treated|enrolled|had)|participants|subjects|volunteers|"
    r"phase (?:i|ii|iii|1|2|3|i/ii|1/2)|clinical trial|trial|enrolled|cohort)\b",
    _I,
)
_PAPER_EFFICACY_RE = re.compile(
    r"\b(?:objective response|overall response|response rate|partial responses?|complete responses?|"
    r"complete remission|partial remission|remissions?|stable disease|disease control|progression[- ]free|"
    r"overall survival|median survival|survival|time to progression|disease progression|recurrence|"
    r"tumou?r (?:size|shrinkage|regression|response|volume)|RECIST|ORR|PFS|"
    r"(?:incidence|severity|grade) of (?:severe |grade \S+ )?(?:oral )?mucositis|"
    r"mucositis (?:incidence|grade|severity)|"
    r"mortality|clinical improvement|healing rate|wound healing|improved (?:cognitive|clinical) function)\b",
    _I,
)
_RESULT_RE = re.compile(
    r"\b(?:results?|observed|showed|shown|demonstrated|achieved|experienced|was|were|had|"
    r"median|p ?[<=]|\d+(?:\.\d+)? ?%|reduced|increased|improved|decreased)\b",
    _I,
)


def classify_publication(
    title: str, abstract: str, publication_types: Sequence[str]
) -> tuple[bool, tuple[Evidence, ...]]:
    """True when the paper reports clinical efficacy results, with the deciding words as evidence."""
    title = title if isinstance(title, str) else ""
    abstract = abstract if isinstance(abstract, str) else ""
    types = [t for t in publication_types if isinstance(t, str)] if publication_types else []
    excluded = _excluded(title, abstract, types)
    if excluded is not None:
        return False, (excluded,)
    for field, text in (("title", title), ("abstract", abstract)):
        for m in _PAPER_EFFICACY_RE.finditer(text):
            if _RESULT_RE.search(_sentence(text, m.start(), m.end())):
                return True, (Evidence(field, _sentence(text, m.start(), m.end(), limit=160)),)
    return False, (Evidence("abstract", "no clinical efficacy result (response, survival, remission, ...) reported"),)


def _excluded(title: str, abstract: str, types: Sequence[str]) -> Evidence | None:
    for publication_type in types:
        reason = _EXCLUDED_TYPES.get(publication_type.strip().lower())
        if reason:
            return Evidence("publication_types", f"{publication_type} ({reason}, not a results report)")
    for field, text, pattern, reason in (
        ("title", title, _PROTOCOL_RE, "protocol"),
        ("abstract", abstract, _PROTOCOL_RE, "protocol"),
        ("title", title, _REVIEW_RE, "review"),
    ):
        m = pattern.search(text)
        if m:
            return Evidence(field, f"{m.group()} ({reason}, not a results report)")
    future = _FUTURE_RE.findall(abstract)
    if len(future) >= 2:
        return Evidence("abstract", f"{future[0]} (planned study, not results)")
    preclinical = _PRECLINICAL_RE.search(title + " " + abstract)
    if preclinical and not _HUMAN_RE.search(title + " " + abstract):
        return Evidence("abstract", f"{preclinical.group()} (preclinical)")
    return None


def _sentence(text: str, start: int, end: int, limit: int = 400) -> str:
    lo = max(text.rfind(". ", 0, start) + 2, 0) if text.rfind(". ", 0, start) >= 0 else 0
    hi = text.find(". ", end)
    hi = len(text) if hi == -1 else hi + 1
    words = " ".join(text[lo:hi].split())
    return words if len(words) <= limit else words[: limit - 1] + "…"
