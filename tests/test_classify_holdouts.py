"""Accuracy floors on the two blind holdouts (tests/eval/holdout2, holdout3), each run once against classifier
1.0.1 before any rule was changed for it. The floors are the figures of that first run, so a regression fails; a
rule change tuned on holdout2 must not be reported as a blind figure any more (holdout3 stays the blind one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.classify import classify_record

EVAL = Path(__file__).parent / "eval"
FIELDS = ("product_class", "cell_free", "engineered", "source", "phase", "cancer")
# first-run figures (correct / total) per holdout
FLOORS = {
    "holdout2": {"product_class": 21, "cell_free": 21, "engineered": 25, "source": 25, "phase": 27, "cancer": 26},
    "holdout3": {"product_class": 24, "cell_free": 25, "engineered": 25, "source": 21, "phase": 26, "cancer": 25},
}


def score(folder: str) -> tuple[dict[str, int], int]:
    labels = json.loads((EVAL / folder / "labels.json").read_text())
    correct = dict.fromkeys(FIELDS, 0)
    for label in labels:
        record = json.loads((EVAL / folder / "records" / f"{label['nct_id']}.json").read_text())
        values = classify_record(record).as_dict()
        for name in FIELDS:
            correct[name] += values[name] == label[name]
    return correct, len(labels)


@pytest.mark.parametrize("folder", sorted(FLOORS))
def test_blind_holdout_accuracy_does_not_regress(folder):
    correct, total = score(folder)
    for name, floor in FLOORS[folder].items():
        assert correct[name] >= floor, f"{folder} {name}: {correct[name]}/{total} < floor {floor}/{total}"


def test_holdout3_meets_the_product_targets():
    correct, total = score("holdout3")
    assert correct["product_class"] / total >= 0.90
    assert correct["cell_free"] / total >= 0.95
    assert correct["phase"] == total
