"""Score the trial classifier on the labelled evaluation set (tests/eval): per-field accuracy and a confusion matrix.

Run: .venv/bin/python bench/eval_classifier.py [--errors dev|holdout|all] [--split dev|holdout|all]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.classify import CLASSIFIER_VERSION, classify_record  # noqa: E402
from monitor.domain import PRODUCT_CLASSES  # noqa: E402

EVAL_DIR = ROOT / "tests" / "eval"
FIELDS = ("product_class", "cell_free", "engineered", "source", "phase", "cancer", "cancer_types")
SPLITS = ("dev", "holdout", "all")


def load_eval(eval_dir: Path = EVAL_DIR) -> list[dict[str, Any]]:
    """Label entries, each with its record under ``"record"``."""
    labels: list[dict[str, Any]] = json.loads((eval_dir / "labels.json").read_text(encoding="utf-8"))
    for label in labels:
        label["record"] = json.loads((eval_dir / "records" / f"{label['nct_id']}.json").read_text(encoding="utf-8"))
    return labels


def predictions(labels: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for label in labels:
        values = classify_record(label["record"]).as_dict()
        values["cancer_types"] = sorted(values["cancer_types"])
        out[label["nct_id"]] = values
    return out


def expected(label: Mapping[str, Any], field: str) -> Any:
    value = label.get(field)
    return sorted(value) if field == "cancer_types" and value is not None else value


def in_split(labels: Sequence[Mapping[str, Any]], split: str) -> list[Mapping[str, Any]]:
    return [lab for lab in labels if split == "all" or lab.get("split", "dev") == split]


def accuracy(
    labels: Sequence[Mapping[str, Any]], preds: Mapping[str, Mapping[str, Any]], field: str
) -> tuple[int, int]:
    scored = [lab for lab in labels if field in lab]
    right = sum(preds[lab["nct_id"]][field] == expected(lab, field) for lab in scored)
    return right, len(scored)


def confusion(labels: Sequence[Mapping[str, Any]], preds: Mapping[str, Mapping[str, Any]]) -> str:
    short = {c: c[:10] for c in PRODUCT_CLASSES}
    pairs = Counter((lab["product_class"], preds[lab["nct_id"]]["product_class"]) for lab in labels)
    head = "truth \\ predicted".ljust(22) + "".join(short[c].rjust(12) for c in PRODUCT_CLASSES)
    rows = [head]
    for truth in PRODUCT_CLASSES:
        rows.append(truth.ljust(22) + "".join(str(pairs.get((truth, p), 0)).rjust(12) for p in PRODUCT_CLASSES))
    return "\n".join(rows)


def report(labels: Sequence[Mapping[str, Any]], preds: Mapping[str, Mapping[str, Any]], split: str) -> str:
    chosen = in_split(labels, split)
    lines = [f"== {split}: {len(chosen)} records"]
    for field in FIELDS:
        right, total = accuracy(chosen, preds, field)
        share = right / total if total else 0.0
        lines.append(f"  {field:<14} {right:>3}/{total:<3} {share:6.3f}")
    lines.append("  product_class confusion matrix (rows: label, columns: classifier):")
    lines.extend("    " + row for row in confusion(chosen, preds).splitlines())
    return "\n".join(lines)


def errors(labels: Sequence[Mapping[str, Any]], preds: Mapping[str, Mapping[str, Any]], split: str) -> str:
    lines = [f"== mismatches ({split})"]
    for lab in in_split(labels, split):
        pred = preds[lab["nct_id"]]
        wrong = [
            f"{f}: {expected(lab, f)!r} -> {pred[f]!r}" for f in FIELDS if f in lab and pred[f] != expected(lab, f)
        ]
        if wrong:
            flag = " (ambiguous)" if lab.get("ambiguous") else ""
            lines.append(f"  {lab['nct_id']}{flag}: " + "; ".join(wrong))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, help="report only this split")
    parser.add_argument("--errors", choices=SPLITS, help="also list the records the classifier gets wrong")
    args = parser.parse_args(argv)
    labels = load_eval()
    preds = predictions(labels)
    print(f"classifier {CLASSIFIER_VERSION}, evaluation set {EVAL_DIR.relative_to(ROOT)}")
    for split in [args.split] if args.split else SPLITS:
        print(report(labels, preds, split))
    if args.errors:
        print(errors(labels, preds, args.errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
