"""Explainable, rule-based classification of trials (product.md section 3), outcome measures and papers.

Imports only ``monitor.domain``, ``monitor.errors`` and the stdlib.
"""

from monitor.classify.cancer import CANCER_TYPES
from monitor.classify.outcomes import classify_outcome, classify_publication, efficacy_outcomes
from monitor.classify.overrides import apply_overrides, load_overrides
from monitor.classify.rules import CLASSIFIER_VERSION, classify_record

__all__ = [
    "CANCER_TYPES",
    "CLASSIFIER_VERSION",
    "apply_overrides",
    "classify_outcome",
    "classify_publication",
    "classify_record",
    "efficacy_outcomes",
    "load_overrides",
]
