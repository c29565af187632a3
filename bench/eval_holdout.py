"""Score the trial classifier on one blind holdout set (tests/eval/holdoutN).

Prints per-field accuracy (product_class, cell_free, engineered, source, phase, cancer, cancer_types), the same on the
non-ambiguous records only, the same again accepting on an ambiguous record the `alternatives` its curator wrote down
before the set was scored (field -> the other defensible values; sets from holdout10 on), the product_class confusion
matrix and every disagreement with the classifier's evidence for that field.

Run: .venv/bin/python bench/eval_holdout.py holdout3   (or holdout2, holdout4, ...)

With the environment variable DRY_RUN=1 the script only loads and validates the records and labels (field values
within the vocabulary of docs/product.md section 3, every record's nct_id matching its file name and its label, one
label per record, no id shared with tests/eval/records or any other holdout folder) and never imports or calls the
classifier. It exits 1 when validation fails (in both modes; a failing set is not scored).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL_DIR = ROOT / "tests" / "eval"
HOLDOUT_DIR = EVAL_DIR / "holdout3"  # replaced by the command-line argument in main()

FIELDS = ("product_class", "cell_free", "engineered", "source", "phase", "cancer", "cancer_types")
CLASSES = ("extracellular_vesicle", "cell_free_secretome", "cell_based", "biomarker", "other")
SOURCES = (
    "msc_perinatal",
    "msc_adult",
    "msc_unspecified",
    "dendritic_cell",
    "tumor_cell",
    "blood",
    "plant",
    "other",
    "unknown",
)
PHASES = ("EARLY_PHASE1", "PHASE1", "PHASE1/PHASE2", "PHASE2", "PHASE2/PHASE3", "PHASE3", "PHASE4", "NA")
# the classifier's vocabulary (monitor.classify.CANCER_TYPES; tests/test_classify_holdouts.py checks they agree),
# written out so that a dry run never imports the classifier.
KNOWN_CANCER_TYPES = ("breast", "prostate", "lung", "glioma", "melanoma", "colorectal", "pancreatic",
                      "head_and_neck", "hematologic", "gastric", "liver", "ovarian", "bladder", "kidney", "other")
NCT_RE = re.compile(r"^NCT\d{8}$")


def load() -> list[dict[str, Any]]:
    labels: list[dict[str, Any]] = json.loads((HOLDOUT_DIR / "labels.json").read_text(encoding="utf-8"))
    for label in labels:
        path = HOLDOUT_DIR / "records" / f"{label['nct_id']}.json"
        label["record"] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    return labels


def other_sets() -> list[Path]:
    """The dev set and every other holdout folder: their ids must not reappear in the scored one."""
    return [EVAL_DIR] + [d for d in sorted(EVAL_DIR.glob("holdout*")) if d.is_dir() and d != HOLDOUT_DIR]


def other_set_ids() -> set[str]:
    ids: set[str] = set()
    for directory in other_sets():
        ids.update(p.stem for p in (directory / "records").glob("NCT*.json"))
        labels_path = directory / "labels.json"
        if labels_path.is_file():
            ids.update(item["nct_id"] for item in json.loads(labels_path.read_text(encoding="utf-8")))
    return ids


def record_phase(record: Mapping[str, Any]) -> str | None:
    phases = record.get("protocolSection", {}).get("designModule", {}).get("phases")
    return "/".join(phases) if phases else None


def validate(labels: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    record_files = {p.stem for p in (HOLDOUT_DIR / "records").glob("*.json")}
    taken = other_set_ids()
    for label in labels:
        nct = label.get("nct_id", "?")
        where = f"{nct}:"
        if not NCT_RE.match(str(nct)):
            problems.append(f"{where} nct_id is not an NCT number")
        if nct in seen:
            problems.append(f"{where} labelled twice")
        seen.add(nct)
        if nct in taken:
            problems.append(f"{where} id already used by tests/eval or another holdout folder")
        record = label.get("record")
        if record is None:
            problems.append(f"{where} no records/{nct}.json")
        else:
            ident = record.get("protocolSection", {}).get("identificationModule", {})
            if ident.get("nctId") != nct:
                problems.append(f"{where} record nctId {ident.get('nctId')!r} does not match file/label")
            if label.get("phase") != record_phase(record):
                problems.append(f"{where} label phase {label.get('phase')!r} != record phases {record_phase(record)!r}")
        sources = label.get("sources")
        if not (isinstance(sources, list) and sources and all(str(s).startswith("http") for s in sources)):
            problems.append(f"{where} sources must be a non-empty list of URLs")
        if label.get("product_class") not in CLASSES:
            problems.append(f"{where} product_class {label.get('product_class')!r} not in vocabulary")
        if label.get("source") not in SOURCES:
            problems.append(f"{where} source {label.get('source')!r} not in vocabulary")
        if label.get("phase") is not None and label.get("phase") not in PHASES:
            problems.append(f"{where} phase {label.get('phase')!r} not in vocabulary")
        for field in ("cancer", "cell_free", "engineered"):
            if not isinstance(label.get(field), bool):
                problems.append(f"{where} {field} must be true/false")
        if label.get("cell_free") != (label.get("product_class") in ("extracellular_vesicle", "cell_free_secretome")):
            problems.append(f"{where} cell_free inconsistent with product_class")
        types = label.get("cancer_types")
        if not isinstance(types, list) or any(t not in KNOWN_CANCER_TYPES for t in types):
            problems.append(f"{where} cancer_types {types!r} outside {KNOWN_CANCER_TYPES}")
        elif bool(types) != bool(label.get("cancer")):
            problems.append(f"{where} cancer_types must be empty iff cancer is false")
        if not str(label.get("rationale", "")).strip():
            problems.append(f"{where} empty rationale")
        if "ambiguous" in label and label["ambiguous"] is not True:
            problems.append(f"{where} ambiguous must be true or absent")
        problems += [f"{where} {p}" for p in alternatives_problems(label)]
    for stem in sorted(record_files - seen):
        problems.append(f"{stem}: record file without a label")
    return problems


ALLOWED = {
    "product_class": CLASSES,
    "cell_free": (True, False),
    "engineered": (True, False),
    "source": SOURCES,
    "cancer": (True, False),
}


def alternatives_problems(label: Mapping[str, Any]) -> list[str]:
    """`alternatives` (ambiguous records only): field -> the other values a careful curator could defend."""
    alternatives = label.get("alternatives")
    if alternatives is None:
        return []
    if not label.get("ambiguous"):
        return ["alternatives given for a record not marked ambiguous"]
    if not isinstance(alternatives, dict) or not alternatives:
        return ["alternatives must be a non-empty object"]
    problems = []
    for field, values in alternatives.items():
        if field not in ALLOWED:
            problems.append(f"alternatives for {field!r}: only {sorted(ALLOWED)}")
        elif not isinstance(values, list) or not values or any(
            v not in ALLOWED[field] or type(v) is not type(ALLOWED[field][0]) for v in values
        ):
            problems.append(f"alternatives for {field}: {values!r} outside the vocabulary")
    classes = [label.get("product_class"), *alternatives.get("product_class", [])]
    free = {label.get("cell_free"), *alternatives.get("cell_free", [])}
    if {c in ("extracellular_vesicle", "cell_free_secretome") for c in classes} != free:
        problems.append("alternatives: cell_free values must follow the product_class values")
    return problems


def acceptable(field: str, label: Mapping[str, Any], predicted: Mapping[str, Any]) -> bool:
    """The label's value, or on an ambiguous record one of the alternatives its curator wrote down. An alternative
    cell_free value counts only with an acceptable product_class (cell_based is not made right by the cell_free of
    an alternative `other`)."""
    values = [label[field], *label.get("alternatives", {}).get(field, [])]
    if field == "cell_free" and not acceptable("product_class", label, predicted):
        values = [label[field]]
    return any(norm(field, predicted[field]) == norm(field, v) for v in values)


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


def summary(labels: list[dict[str, Any]]) -> None:
    classes = Counter(label["product_class"] for label in labels)
    cancer = sum(label["cancer"] for label in labels)
    ambiguous = sum(bool(label.get("ambiguous")) for label in labels)
    print(
        f"{len(labels)} records ({cancer} cancer, {len(labels) - cancer} not; {ambiguous} ambiguous): "
        + ", ".join(f"{c} {classes.get(c, 0)}" for c in CLASSES)
    )


def main() -> int:
    global HOLDOUT_DIR  # noqa: PLW0603 (a script: one folder per run)
    if len(sys.argv) != 2 or not (EVAL_DIR / sys.argv[1] / "labels.json").is_file():
        names = ", ".join(d.name for d in sorted(EVAL_DIR.glob("holdout*")))
        print(f"usage: eval_holdout.py FOLDER   (one of: {names})", file=sys.stderr)
        return 2
    HOLDOUT_DIR = EVAL_DIR / sys.argv[1]
    labels = load()
    problems = validate(labels)
    dry_run = os.environ.get("DRY_RUN", "").strip() not in ("", "0", "false", "no")
    if problems:
        print(f"validation failed for {HOLDOUT_DIR.relative_to(ROOT)}:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    if dry_run:
        print(f"DRY_RUN: {HOLDOUT_DIR.relative_to(ROOT)} validated, classifier not called")
        summary(labels)
        return 0

    from monitor.classify import CLASSIFIER_VERSION, classify_record  # noqa: PLC0415 (lazy: dry run never imports it)

    results = []
    for label in labels:
        classification = classify_record(label["record"])
        results.append((label, classification, classification.as_dict()))

    print(f"classifier {CLASSIFIER_VERSION}, evaluation set {HOLDOUT_DIR.relative_to(ROOT)}: {len(labels)} records")
    summary(labels)
    print("per-field accuracy:")
    for field in FIELDS:
        right = sum(norm(field, pred[field]) == norm(field, lab[field]) for lab, _, pred in results)
        print(f"  {field:<14} {right:>3}/{len(results):<3} {right / len(results):6.3f}")
    clear = [r for r in results if not r[0].get("ambiguous")]
    print(f"non-ambiguous records only ({len(clear)}):" if clear else "non-ambiguous records only: none")
    for field in FIELDS if clear else ():
        right = sum(norm(field, pred[field]) == norm(field, lab[field]) for lab, _, pred in clear)
        print(f"  {field:<14} {right:>3}/{len(clear):<3} {right / len(clear):6.3f}")

    with_alternatives = [r for r in results if r[0].get("alternatives")]
    if with_alternatives:
        print(f"accepting the alternatives the curator wrote down on {len(with_alternatives)} ambiguous records:")
        for field in FIELDS:
            right = sum(acceptable(field, lab, pred) for lab, _, pred in results)
            print(f"  {field:<14} {right:>3}/{len(results):<3} {right / len(results):6.3f}")

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
        for field in FIELDS:
            if norm(field, pred[field]) != norm(field, lab[field]):
                count += 1
                flag = " [ambiguous label]" if lab.get("ambiguous") else ""
                print(
                    f"  {lab['nct_id']}{flag} {field}: label={norm(field, lab[field])!r} "
                    f"predicted={norm(field, pred[field])!r}"
                )
                print(f"      evidence: {evidence_text(classification, field)}")
    print(f"{count} disagreements")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
