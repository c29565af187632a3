"""Benchmark: how fast `monitor --help` and `monitor show` answer (product.md: under 0.3 s).

Runs each command 10 times in a fresh process against a store holding a few hundred trials and prints the
median and the best wall-clock time.

Usage: .venv/bin/python bench/bench_cli.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def seed(url: str, n: int = 300) -> str:
    from monitor.app import build_classifier
    from monitor.check import process_page
    from monitor.config import load_settings
    from monitor.domain import Query
    from monitor.sources.ctgov_parse import parse_study
    from monitor.store.db import Store, make_engine
    from tests.factories import make_study

    store = Store(make_engine(url), url=url)
    store.upgrade()
    studies = [parse_study(make_study(f"NCT{70000000 + i:08d}", title="Exosome trial in cancer")) for i in range(n)]
    with store.transaction() as tx:
        process_page(
            tx,
            studies,
            query=Query(name="bench", path="", ctgov_terms=("x",)),
            classifier=build_classifier(load_settings()),
            baseline=True,
            now=datetime(2026, 11, 25, tzinfo=UTC),
        )
    store.engine.dispose()
    return "NCT70000007"


def timed(cmd: list[str], env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(10):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    tmp = tempfile.mkdtemp()
    url = f"sqlite:///{tmp}/monitor.db"
    nct = seed(url)
    env = {**os.environ, "MONITOR_DATABASE_URL": url, "MONITOR_CONFIG": f"{tmp}/none.toml"}
    monitor = str(Path(sys.executable).parent / "monitor")
    for label, cmd in (
        ("monitor --help", [monitor, "--help"]),
        (f"monitor show {nct}", [monitor, "show", nct]),
        (f"monitor show {nct} --json", [monitor, "show", nct, "--json"]),
    ):
        t = timed(cmd, env)
        print(f"{label:34} median {statistics.median(t) * 1000:.0f} ms, best {min(t) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
