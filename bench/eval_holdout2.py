"""Score the trial classifier once on the blind second holdout set (tests/eval/holdout2).

Prints per-field accuracy (product_class, cell_free, engineered, source, phase, cancer; cancer_types as an extra),
the product_class confusion matrix and every disagreement with the classifier's evidence for that field.

Run: .venv/bin/python bench/eval_holdout2.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.classify import CLASSIFIER_VERSION, classify_record  # noqa: E402

HOLDOUT_DIR = ROOT / "tests" / "eval" / "holdout2"
FIELDS = ("product_class", "cell_free", "engineered", "source", "phase", "cancer")
EXTRA = ("cancer_types",)
CLASSES = ("extracellular_vesicle", "cell_free_secretome", "cell_based", "biomarker", "other")


def load() -> list[dict[str, Any]]:
    labels: list[dict[str, Any]] = json.loads((HOLDOUT_DIR / "labels.json").read_text(encoding="utf-8"))
    for label in labels:
        path = HOLDOUT_DIR / "records" / f"{label['nct_id']}.json"
        label["record"] = json.loads(path.read_text(encoding="utf-8"))
    return labels


def norm(field: str, value: Any) -> Any:
    return sorted(value) if field == "cancer_types" and value is not None else value


def evidence_text(classification: Any, field: str) -> str:
    evidence = getattr(classification, "evidence", None)
    items = evidence.get(field, ()) if isinstance(evidence, Mapping) else ()
    parts = []
    for item in items:
        where = getattr(item, "field", None)
        words = getattr(item, "words", None)
        parts.append(f"{where}: {words!r}" if where is not None else repr(item))
    return " | ".join(parts) if parts else "(no evidence)"


def main() -> int:
    labels = load()
    results = []
    for label in labels:
        classification = classify_record(label["record"])
        results.append((label, classification, classification.as_dict()))

    print(f"classifier {CLASSIFIER_VERSION}, evaluation set {HOLDOUT_DIR.relative_to(ROOT)}: {len(labels)} records")
    print("per-field accuracy:")
    for field in FIELDS + EXTRA:
        right = sum(norm(field, pred[field]) == norm(field, lab[field]) for lab, _, pred in results)
        note = "  (extra, not one of the six scored fields)" if field in EXTRA else ""
        print(f"  {field:<14} {right:>3}/{len(results):<3} {right / len(results):6.3f}{note}")
    amb = [r for r in results if not r[0].get("ambiguous")]
    print(f"non-ambiguous records only ({len(amb)}):")
    for field in FIELDS:
        right = sum(norm(field, pred[field]) == norm(field, lab[field]) for lab, _, pred in amb)
        print(f"  {field:<14} {right:>3}/{len(amb):<3} {right / len(amb):6.3f}")

    pairs = Counter((lab["product_class"], pred["product_class"]) for lab, _, pred in results)
    print("product_class confusion matrix (rows: label, columns: classifier):")
    print("  " + "truth \\ predicted".ljust(22) + "".join(c[:10].rjust(12) for c in CLASSES))
    for truth in CLASSES:
        print("  " + truth.ljust(22) + "".join(str(pairs.get((truth, p), 0)).rjust(12) for p in CLASSES))
    unknown = {p for _, p in pairs} - set(CLASSES)
    if unknown:
        print(f"  (predicted classes outside the vocabulary: {sorted(unknown)})")

    print("disagreements (nct_id, field, label, predicted, classifier evidence):")
    count = 0
    for lab, classification, pred in results:
        for field in FIELDS + EXTRA:
            if norm(field, pred[field]) != norm(field, lab[field]):
                count += 1
                flag = " [ambiguous label]" if lab.get("ambiguous") else ""
                print(f"  {lab['nct_id']}{flag} {field}: label={norm(field, lab[field])!r} "
                      f"predicted={norm(field, pred[field])!r}")
                print(f"      evidence: {evidence_text(classification, field)}")
    print(f"{count} disagreements")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
