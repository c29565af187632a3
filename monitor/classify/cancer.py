"""Is the trial population cancer patients (incl. complications of cancer therapy), and which cancers.

Reads conditions, keywords, titles and the brief summary; the detailed description only names the cancer type
of a trial already known to be a cancer trial (it is full of background such as "CD24 ... in human cancers").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from monitor.classify.text import (
    TIER_CONDITION,
    TIER_DESCRIPTION,
    TIER_INTERVENTION,
    Segment,
    ascii_lower,
    is_negated,
    snippet,
)
from monitor.domain import Evidence

CANCER_TYPES = (
    "breast",
    "prostate",
    "lung",
    "glioma",
    "melanoma",
    "colorectal",
    "pancreatic",
    "head_and_neck",
    "hematologic",
    "gastric",
    "liver",
    "ovarian",
    "bladder",
    "kidney",
    "other",
)

_MALIGNANCY = (
    r"cancers?|carcinomas?|adenocarcinomas?|tumou?rs?|neoplasms?|neoplasia|(?<!non-)neoplastic|malignan\w*|"
    r"leuka?emias?|lymphomas?|"
    r"myelomas?|gliomas?|glioblastomas?|GBM|melanomas?|sarcomas?|(?:neuro|retino|medullo|hepato|nephro)blastomas?|"
    r"mesotheliomas?|metasta\w+|"
    r"oncolog\w*|NSCLC|SCLC|HCC|PDAC|HNSCC|myelodysplastic|radical prostatectomy|mastectomy|"
    r"androgen deprivation"
)
MALIGNANCY_RE = re.compile(r"\b(?:" + _MALIGNANCY.lower() + r")\b(?![- ](?:necrosis|suppress|free|marker))")
# a malignancy named as an outcome to count ("incidence of HCC (hepatocellular carcinoma)" in cirrhosis): not the
# population
OUTCOME_BEFORE_RE = re.compile(r"\b(?:incidence|occurrence|development|onset) of (?:new |secondary |de novo )?$")
_PAREN_AFTER_RE = re.compile(r"\s*\([^()]{0,80}\)")
NOT_MALIGNANCY_RE = re.compile(r"\btumou?r[- ]?(?:necrosis|igen\w*|generation|formation)|\btumou?rigen\w*")
THERAPY_COMPLICATION_RE = re.compile(  # applied to lower-cased text
    r"\b(?:radiation|radiotherapy|radio-?chemotherapy|chemotherapy|chemoradiation|chemo-?radiotherapy)[- ]"
    r"(?:induced|associated|related)\b|\bpost-?radiation\b|"
    r"\b(?:mucositis|xerostomia|hyposalivation|dermatitis|proctitis|cystitis)\b[^.;]{0,40}?\b(?:following|after|"
    r"due to|from|during|associated with)\s+(?:\w+\s+){0,3}?(?:radiation|radiotherapy|chemotherapy|chemoradiation)",
)
# Organ words count only next to a malignancy word ("lung cancer", "carcinoma of the prostate"), or in a
# condition of a trial already known to be a cancer trial ("Larynx").
_TYPE_WORDS: tuple[tuple[str, str, str], ...] = (  # (type, lower-case pattern, literal pre-check)
    ("glioma", r"gliomas?|glioblastomas?|gbm|astrocytomas?|brain tumou?rs?", "glio|gbm|astrocyt|brain"),
    ("melanoma", r"melanomas?", "melanom"),
    (
        "hematologic",
        r"leuka?emias?|lymphomas?|myelomas?|myelodysplastic|blood[- ]related cancers?|blood cancers?|"
        r"ha?ematologic(?:al)? malignan\w*|myeloproliferative (?:neoplasms?|disorders?|diseases?)|mpns?|"
        r"polycyth(?:a)?emia vera|essential thrombocyth(?:a)?emia|(?:primary )?myelofibrosis|cml|aml|cll",
        "leuk|lymphom|myelom|myelodysplastic|blood|hematolog|haematolog|myeloprolif|mpn|polycyth|thrombocyth|myelofib|"
        "cml|aml|cll",
    ),
    (  # (not "Pulmonary Embolism" or "Radiation-induced Pulmonary Fibrosis" in a cancer trial: the organ harmed)
        "lung",
        r"nsclc|sclc|(?:lung|pulmonary)(?!\s+(?:embolism|fibrosis|hypertension|o?edema|injury|toxicity|infection))",
        "sclc|lung|pulmonary",
    ),
    ("breast", r"breast|mastectomy", "breast|mastectomy"),
    ("prostate", r"prostat\w*|androgen deprivation", "prostat|androgen deprivation"),
    ("colorectal", r"colorectal|colon|rectal|rectum|bowel", "colo|rect|bowel"),
    ("pancreatic", r"pancrea\w*|pdac", "pancrea|pdac"),
    (
        "head_and_neck",
        r"head and neck|hnscc|oropharyn\w*|oral cavity|larynx|laryngeal|pharynx|pharyngeal|nasopharyn\w*|tongue|lip",
        "head and neck|hnscc|pharyn|oral cavity|laryn|tongue|lip",
    ),
    ("gastric", r"gastric|stomach", "gastric|stomach"),
    ("liver", r"hepatocellular|hcc|liver|hepatic", "hepat|hcc|liver"),
    ("ovarian", r"ovar\w+", "ovar"),
    ("bladder", r"bladder|urothelial", "bladder|urothelial"),
    ("kidney", r"renal cell|kidney", "renal cell|kidney"),
)
_TYPE_RES = tuple((name, re.compile(rf"\b(?:{words})\b"), re.compile(pre)) for name, words, pre in _TYPE_WORDS)
_ANY_TYPE_RE = re.compile("|".join(pre for _, _, pre in _TYPE_WORDS))
_ANCHOR_EXCLUDED_RE = re.compile(r"metasta|oncolog")  # "liver metastasis" is not a liver cancer
_NEEDLES_RE = re.compile(  # case-sensitive literal pre-check on lower-cased text
    r"cancer|carcinom|tumo|neoplas|malignan|leuk|lymphom|myelom|glio|melanom|sarcom|blastom|mesothel|metasta|"
    r"oncolog|myelodysplastic|prostatectomy|mastectomy|radiat|radiotherap|chemo|gbm|sclc|hcc|pdac|hnscc|"
    r"androgen depriv"
)
_METASTATIC_SITE_RE = re.compile(r"[\s-]+(?:\w+\s+)?metasta")  # "liver metastasis": a site, not a type
_INHERENT = frozenset({"glioma", "melanoma", "hematologic"})
_NEAR = 40  # characters between an organ word and a malignancy word
_COMPLICATION_TYPE_RE = re.compile(r"\b(?:mucositis|xerostomia|hyposalivation|salivary)\b")


def detect_cancer(segments: Sequence[Segment]) -> tuple[bool, tuple[Evidence, ...]]:
    """True when a condition, keyword, title or the summary names a malignancy or a cancer-therapy complication."""
    evidence: list[Evidence] = []
    for seg in _cancer_segments(segments):
        for m in _malignancy_matches(seg.text):
            evidence.append(Evidence(seg.field, snippet(seg.text, m.start(), m.end())))
            break
        if len(evidence) >= 3:
            break
    if evidence:
        return True, tuple(evidence)
    return False, (Evidence("conditions", "no malignancy or cancer-therapy complication named"),)


def detect_cancer_types(segments: Sequence[Segment]) -> tuple[tuple[str, ...], tuple[Evidence, ...]]:
    """Cancer types named in the cancer-relevant text; ``("other",)`` when a cancer trial names none we know."""
    primary = list(_cancer_segments(segments))
    found = _types_in(primary)
    if not found:
        found = _types_in([s for s in segments if s.tier == TIER_DESCRIPTION])
    if not found:
        found = _complication_types(primary)
    if not found:
        return ("other",), (Evidence("conditions", "no known cancer type named"),)
    types = tuple(dict.fromkeys(name for name, _ in found))
    return types, tuple(dict.fromkeys(ev for _, ev in found))[:4]


def _cancer_segments(segments: Sequence[Segment]) -> list[Segment]:
    return [s for s in segments if s.tier not in (TIER_DESCRIPTION, TIER_INTERVENTION)]


@lru_cache(maxsize=128)
def _malignancy_matches(text: str) -> tuple[re.Match[str], ...]:
    """Malignancy words and therapy complications, matched in the ASCII-lower-cased text (same indices)."""
    low = ascii_lower(text)
    if not _NEEDLES_RE.search(low):
        return ()
    not_malignant = [(n.start(), n.end()) for n in NOT_MALIGNANCY_RE.finditer(low)]
    found = list(MALIGNANCY_RE.finditer(low))
    for m in found:
        if OUTCOME_BEFORE_RE.search(low, max(0, m.start() - 40), m.start()):
            paren = _PAREN_AFTER_RE.match(low, m.end())
            not_malignant.append((m.start(), paren.end() if paren else m.end()))
    hits = [
        m
        for m in found
        if not is_negated(text, m.start()) and not any(lo <= m.start() < hi for lo, hi in not_malignant)
    ]
    hits.extend(THERAPY_COMPLICATION_RE.finditer(low))
    return tuple(sorted(hits, key=lambda m: m.start()))


def _types_in(segments: Sequence[Segment]) -> list[tuple[str, Evidence]]:
    found: dict[str, Evidence] = {}
    for seg in segments:
        low = seg.low
        if not _ANY_TYPE_RE.search(low):
            continue
        present = [(name, pattern) for name, pattern, pre in _TYPE_RES if pre.search(low)]
        malignant = [m for m in _malignancy_matches(seg.text) if not _ANCHOR_EXCLUDED_RE.match(m.group())]
        for name, pattern in present:
            if name in found:
                continue
            for m in pattern.finditer(low):
                if _METASTATIC_SITE_RE.match(low, m.end()):
                    continue
                if name in _INHERENT or _near(m, malignant) or _is_cancer_condition(seg, segments):
                    found[name] = Evidence(seg.field, snippet(seg.text, m.start(), m.end()))
                    break
    order = {name: i for i, (name, _, _) in enumerate(_TYPE_WORDS)}
    return sorted(found.items(), key=lambda item: order[item[0]])


def _near(m: re.Match[str], malignant: Sequence[re.Match[str]]) -> bool:
    return any(abs(x.start() - m.end()) <= _NEAR or abs(m.start() - x.end()) <= _NEAR for x in malignant)


def _is_cancer_condition(seg: Segment, segments: Sequence[Segment]) -> bool:
    """A bare organ condition ("Larynx") counts when another condition or title of the trial names a cancer."""
    return seg.tier == TIER_CONDITION and any(_malignancy_matches(s.text) for s in segments if s is not seg)


def _complication_types(segments: Sequence[Segment]) -> list[tuple[str, Evidence]]:
    for seg in segments:
        m = _COMPLICATION_TYPE_RE.search(seg.low)
        if m and THERAPY_COMPLICATION_RE.search(seg.low):
            return [("head_and_neck", Evidence(seg.field, snippet(seg.text, m.start(), m.end())))]
    return []
