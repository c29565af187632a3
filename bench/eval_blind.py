"""The classifier's accuracy on registrations it was not written on: every blind holdout set in one report.

1. The first (blind) run of every set, as recorded when it was scored (tests/eval/holdouts.json): the honest measure
   of each classifier version on registrations it had never seen, pooled over all sets and by version (sets before
   holdout10 have no written alternatives: their strict figures stand in).
2. The current classifier on every set, and pooled over the sets it was never tuned on (`tuned_in` null), with the
   product_class confusion matrix of that pool. That pool is biased towards easy sets (a set with misses got tuned
   on), so the first runs are the fairer measure. "alternatives" accepts, on an ambiguous record, the other values its
   curator wrote down before the set was scored (sets from holdout10 on; older sets count ambiguous labels strictly).

Run: .venv/bin/python bench/eval_blind.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eval_holdout import acceptable  # noqa: E402
from monitor.classify import CLASSIFIER_VERSION, classify_record  # noqa: E402

EVAL_DIR = ROOT / "tests" / "eval"
CLASSES = ("extracellular_vesicle", "cell_free_secretome", "cell_based", "biomarker", "other")


def load_sets() -> list[dict[str, Any]]:
    sets: list[dict[str, Any]] = json.loads((EVAL_DIR / "holdouts.json").read_text(encoding="utf-8"))["sets"]
    return sets


def set_labels(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The labels of one set, each with its record under "record" (holdout1 is the development set's holdout split)."""
    folder = EVAL_DIR / entry["folder"]
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    if entry["folder"] == ".":
        labels = [label for label in labels if label.get("split") == "holdout"]
    for label in labels:
        label["record"] = json.loads((folder / "records" / f"{label['nct_id']}.json").read_text(encoding="utf-8"))
    return labels


def ratio(right: int, total: int) -> str:
    return f"{right}/{total} ({right / total:.2f})" if total else "-"


def run_counts(entry: dict[str, Any]) -> dict[str, int]:
    """One set's first run as counts to pool; without written alternatives the strict figures stand in for them."""
    run = entry["first_run"]
    alternatives = run.get("alternatives") or [run["product_class"], run["cell_free"]]
    return {"n": entry["records"], "pc": run["product_class"], "cf": run["cell_free"], "ua": run["unambiguous"][0],
            "ut": run["unambiguous"][1], "apc": alternatives[0], "acf": alternatives[1]}


def first_runs(sets: list[dict[str, Any]]) -> None:
    print("1. first (blind) runs, as recorded")
    print(f"  {'set':<10} {'n':>3}  {'classifier':<10} {'product_class':<15} {'cell_free':<15} "
          f"{'unambiguous pc':<15} alternatives pc / cf")
    totals: Counter[str] = Counter()
    recent: Counter[str] = Counter()  # the sets whose curators wrote alternatives down (holdout10 on)
    for entry in sets:
        run, n = entry["first_run"], entry["records"]
        alternatives = run.get("alternatives")
        if alternatives:
            recent.update(run_counts(entry))
        alt = f"{alternatives[0]}/{n} / {alternatives[1]}/{n}" if alternatives else "-"
        print(f"  {entry['set']:<10} {n:>3}  {run['classifier']:<10} {ratio(run['product_class'], n):<15} "
              f"{ratio(run['cell_free'], n):<15} {ratio(*run['unambiguous']):<15} {alt}")
        totals.update(run_counts(entry))
    print(f"  {'all':<10} {totals['n']:>3}  {'':<10} {ratio(totals['pc'], totals['n']):<15} "
          f"{ratio(totals['cf'], totals['n']):<15} {ratio(totals['ua'], totals['ut']):<15}")
    n = recent["n"]
    if n:
        print(f"  {'with alt.':<10} {n:>3}  {'':<10} {ratio(recent['pc'], n):<15} {ratio(recent['cf'], n):<15} "
              f"{ratio(recent['ua'], recent['ut']):<15} {ratio(recent['apc'], n)} / {ratio(recent['acf'], n)}")
    by_version(sets)


def by_version(sets: list[dict[str, Any]]) -> None:
    """The first runs pooled by the classifier version that scored them: each version's own blind figure."""
    print("\n  first runs pooled by classifier version")
    pooled: dict[str, Counter[str]] = {}
    for entry in sets:
        pooled.setdefault(entry["first_run"]["classifier"], Counter()).update(sets=1, **run_counts(entry))
    for version, t in pooled.items():
        n = t["n"]
        print(f"  {version:<10} {t['sets']:>2} set(s) {n:>3}  {ratio(t['pc'], n):<15} {ratio(t['cf'], n):<15} "
              f"{ratio(t['ua'], t['ut']):<15} {ratio(t['apc'], n)} / {ratio(t['acf'], n)}")


def current(sets: list[dict[str, Any]]) -> None:
    print(f"\n2. classifier {CLASSIFIER_VERSION} now (* = a set it was never tuned on)")
    print(f"  {'set':<11} {'n':>3}  {'product_class':<15} {'cell_free':<15} {'unambiguous pc':<15} "
          "alternatives pc / cf")
    pool: Counter[str] = Counter()
    matrix: Counter[tuple[str, str]] = Counter()
    for entry in sets:
        labels = set_labels(entry)
        unseen = entry["tuned_in"] is None
        row: Counter[str] = Counter()
        for label in labels:
            predicted = classify_record(label["record"]).as_dict()
            row.update(
                n=1,
                pc=predicted["product_class"] == label["product_class"],
                cf=predicted["cell_free"] == label["cell_free"],
                ut=not label.get("ambiguous"),
                ua=not label.get("ambiguous") and predicted["product_class"] == label["product_class"],
                apc=acceptable("product_class", label, predicted),
                acf=acceptable("cell_free", label, predicted),
            )
            if unseen:
                matrix[(label["product_class"], predicted["product_class"])] += 1
        if unseen:
            pool.update(row)
        name = entry["set"] + ("*" if unseen else "")
        print(f"  {name:<11} {row['n']:>3}  {ratio(row['pc'], row['n']):<15} {ratio(row['cf'], row['n']):<15} "
              f"{ratio(row['ua'], row['ut']):<15} {row['apc']}/{row['n']} / {row['acf']}/{row['n']}")
    n = pool["n"]
    print(f"\n3. classifier {CLASSIFIER_VERSION} on the {n} registrations of the sets it was never tuned on")
    print(f"  product_class {ratio(pool['pc'], n)}, cell_free {ratio(pool['cf'], n)}; unambiguous labels: "
          f"product_class {ratio(pool['ua'], pool['ut'])}; accepting the curators' alternatives: product_class "
          f"{ratio(pool['apc'], n)}, cell_free {ratio(pool['acf'], n)}")
    print("  product_class confusion matrix (rows: label, columns: classifier):")
    print("  " + "truth \\ predicted".ljust(22) + "".join(c[:10].rjust(12) for c in CLASSES))
    for truth in CLASSES:
        print("  " + truth.ljust(22) + "".join(str(matrix.get((truth, p), 0)).rjust(12) for p in CLASSES))


def main() -> int:
    sets = load_sets()
    first_runs(sets)
    current(sets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
