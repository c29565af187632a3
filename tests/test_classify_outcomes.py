"""Efficacy vs safety / feasibility / PK for outcome measures and PubMed papers (product.md section 3)."""

from __future__ import annotations

import pytest

from monitor.classify import classify_outcome, classify_publication, efficacy_outcomes
from monitor.domain import OutcomeKind

E, S, F, PK, OTHER = (
    OutcomeKind.EFFICACY,
    OutcomeKind.SAFETY,
    OutcomeKind.FEASIBILITY,
    OutcomeKind.PHARMACOKINETIC,
    OutcomeKind.OTHER,
)


@pytest.mark.parametrize(
    ("measure", "description", "kind"),
    [
        ("Objective response rate per RECIST 1.1", "", E),
        ("Incidence of dose-limiting toxicities", "", S),
        ("Number of participants with adverse events", "", S),
        ("Feasibility of manufacturing", "", F),
        ("Cmax", "", PK),
        ("Incidence of grade 3 oral mucositis", "", E),
        ("Overall survival", "", E),
        ("Change in plasma exosome levels", "", OTHER),
        ("Progression-free survival", "", E),
        ("Complete remission rate", "", E),
        ("Time to progression", "", E),
        ("Tumor size", "measured by MRI", E),
        ("Disease control rate", "", E),
        ("Maximum tolerated dose (MTD)", "", S),
        ("Number of patients with treatment-emergent adverse events (TEAEs)", "", S),
        ("Area under the concentration-time curve (AUC)", "", PK),
        ("Half-life of the study drug", "", PK),
        ("Concentration of curcumin in normal and cancerous tissue", "", PK),
        ("Successful manufacture of the exosome product", "", F),
        ("Change in IL-6 levels", "", OTHER),
        ("Change from baseline in WOMAC pain subscale score", "", E),
        ("All-cause 60-day mortality", "", E),
        ("Primary outcome", "Number of participants with dose-limiting toxicities", S),
        ("Primary outcome", "Objective response rate", E),
        ("Immune response", "T cell responses by ELISPOT", OTHER),
        ("", "", OTHER),
    ],
    ids=lambda v: v if isinstance(v, str) and v else None,
)
def test_classify_outcome(measure: str, description: str, kind: OutcomeKind) -> None:
    assert classify_outcome(measure, description) is kind


def test_efficacy_outcomes_keeps_only_efficacy_measures_in_order() -> None:
    outcomes = [
        ("Number of participants with adverse events", ""),
        ("Overall survival", "months from randomisation"),
        ("Cmax", ""),
        ("Objective response rate per RECIST 1.1", ""),
    ]
    assert efficacy_outcomes(outcomes) == ["Overall survival", "Objective response rate per RECIST 1.1"]


RESULTS_ABSTRACT = (
    "Twenty-two patients received IFN-g-Dex. One patient exhibited a grade three hepatotoxicity. The median time to "
    "progression was 2.2 mo and median overall survival (OS) was 15 mo. Seven patients (32%) experienced "
    "stabilization of >4 mo."
)
PROTOCOL_ABSTRACT = (
    "Methods: Bicentric pilot study that will include 60 adult patients with solid tumours. Exosomes will be isolated "
    "from blood and urine samples. Patients will be followed for 1 year. Discussion: We expect to demonstrate that "
    "HSP70-exosomes could be a powerful diagnostic tool."
)
SAFETY_ABSTRACT = (
    "Ten healthy volunteers applied the exosome ointment for 20 days. No treatment-emergent adverse events were "
    "recorded and the ointment was well tolerated."
)
PRECLINICAL_ABSTRACT = (
    "In an orthotopic mouse model, engineered exosomes reduced tumor volume by 60% and prolonged survival of mice."
)
MUCOSITIS_ABSTRACT = (
    "Sixty patients undergoing chemoradiation for head and neck cancer were randomised. The incidence of severe oral "
    "mucositis was 20% with grape exosomes versus 45% with placebo (p = 0.03)."
)


@pytest.mark.parametrize(
    ("title", "abstract", "types", "reports"),
    [
        pytest.param(
            "Dex as maintenance immunotherapy in NSCLC",
            RESULTS_ABSTRACT,
            ["Clinical Trial, Phase II"],
            True,
            id="results",
        ),
        pytest.param(
            "Plant exosomes and oral mucositis",
            MUCOSITIS_ABSTRACT,
            ["Randomized Controlled Trial"],
            True,
            id="prevented-condition",
        ),
        pytest.param(
            "Exosomal HSP70 as a biomarker: a pilot study",
            PROTOCOL_ABSTRACT,
            ["Journal Article"],
            False,
            id="future-tense-protocol",
        ),
        pytest.param(
            "MSC exosomes for ARDS: study protocol for a randomised trial",
            RESULTS_ABSTRACT,
            [],
            False,
            id="protocol-title",
        ),
        pytest.param("EXIT-COVID: design and rationale", "", ["Journal Article"], False, id="design-and-rationale"),
        pytest.param("A trial of exosomes", RESULTS_ABSTRACT, ["Clinical Trial Protocol"], False, id="protocol-type"),
        pytest.param("Exosomes in cancer therapy", RESULTS_ABSTRACT, ["Journal Article", "Review"], False, id="review"),
        pytest.param(
            "Exosomes: a review of clinical trials",
            "Survival improved in several trials.",
            [],
            False,
            id="review-title",
        ),
        pytest.param("Exosome hype", RESULTS_ABSTRACT, ["Editorial"], False, id="editorial"),
        pytest.param("Re: Dex trial", RESULTS_ABSTRACT, ["Comment"], False, id="comment"),
        pytest.param(
            "Safety of MSC exosome ointment", SAFETY_ABSTRACT, ["Clinical Trial, Phase I"], False, id="safety-only"
        ),
        pytest.param("Engineered exosomes in mice", PRECLINICAL_ABSTRACT, ["Journal Article"], False, id="preclinical"),
        pytest.param("", "", [], False, id="empty"),
    ],
)
def test_classify_publication(title: str, abstract: str, types: list[str], reports: bool) -> None:
    result, evidence = classify_publication(title, abstract, types)
    assert result is reports
    assert evidence and all(e.words for e in evidence)


def test_publication_evidence_quotes_the_efficacy_words() -> None:
    _, evidence = classify_publication("Dex in NSCLC", RESULTS_ABSTRACT, ["Journal Article"])
    assert evidence[0].field == "abstract"
    assert "overall survival" in evidence[0].words
