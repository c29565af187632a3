"""Benchmark: a CT.gov backfill of N studies through `monitor check` (parse + classify + diff + store).

A loopback server in a child process serves N synthetic-but-realistic studies, built from the real records in
tests/recordings/ctgov/ (new NCT ids, exosome / secretome titles and interventions, varied statuses), in pages of
1000. The main process runs the real pipeline against a fresh SQLite file and prints:

- studies per second of the backfill (wall clock, one core: the server runs in another process);
- peak resident memory of the pipeline process (ru_maxrss);
- the requests a second, no-change poll costs (the dataTimestamp gate) and those of a poll after k changes.

Usage: .venv/bin/python bench/bench_ctgov.py [N ...]      (default: 10000 50000)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# the section pieces a `fields` value may name, as the tests' fake CT.gov knows them (others get CT.gov's 400)
from tests.ctgov_server import SECTION_FIELDS  # noqa: E402

TITLES = [
    "Plant Exosomes Loaded With Curcumin in Colon Cancer",
    "Mesenchymal Stem Cell Conditioned Medium for Radiation-induced Oral Mucositis",
    "Circulating Exosomal microRNA as Biomarkers of Pancreatic Cancer",
    "Dendritic Cell-derived Exosomes Loaded With Tumour Antigens in Lung Cancer",
    "Umbilical Cord MSC Infusion in Graft-versus-host Disease After Leukaemia Transplant",
]
INTERVENTIONS = [
    {"type": "DIETARY_SUPPLEMENT", "name": "Curcumin conjugated with plant exosomes"},
    {"type": "BIOLOGICAL", "name": "MSC secretome (conditioned medium) mouthwash"},
    {"type": "DIAGNOSTIC_TEST", "name": "Plasma exosome isolation"},
    {"type": "BIOLOGICAL", "name": "Dex2 dendritic cell-derived exosomes"},
    {"type": "BIOLOGICAL", "name": "Umbilical cord mesenchymal stem cells"},
]
STATUSES = ["RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED", "NOT_YET_RECRUITING"]


def templates() -> list[dict]:
    folder = ROOT / "tests" / "recordings" / "ctgov"
    page = json.loads((folder / "xiaoyibao_studies_page_pancreatic_kras_10studies_full.json").read_text())
    records = page["studies"]
    # (the 1.5 MB PALLAS record with every results module is left out: CT.gov records average ~17 KB)
    for name in ("aact_NCT00763412.json", "aact_NCT02210780.json",
                 "xiaoyibao_NCT06008288_pancreatic.json"):
        records.append(json.loads((folder / name).read_text()))
    return records


def make_record(i: int, base: dict, *, last_update: str, status_shift: int = 0) -> dict:
    record = json.loads(json.dumps(base))
    proto = record.setdefault("protocolSection", {})
    proto.setdefault("identificationModule", {})["nctId"] = f"NCT{80000000 + i:08d}"
    proto["identificationModule"]["briefTitle"] = TITLES[i % len(TITLES)]
    status = proto.setdefault("statusModule", {})
    status["overallStatus"] = STATUSES[(i + status_shift) % len(STATUSES)]
    status["lastUpdatePostDateStruct"] = {"date": last_update, "type": "ACTUAL"}
    arms = proto.setdefault("armsInterventionsModule", {})
    arms["interventions"] = [INTERVENTIONS[i % len(INTERVENTIONS)], *arms.get("interventions", [])[:2]]
    return record




def serve(n: int, port_queue: multiprocessing.Queue, changed: multiprocessing.Value) -> None:  # type: ignore[type-arg]
    """Serve pages fast: each (template, title) pair is serialised once with placeholders, and a page is the
    placeholders replaced by bytes, so the pipeline never waits on the server. Like CT.gov, `fields` (section
    names only here) limits the sections served and an unknown name is a 400 text/plain."""
    count = len(templates())
    cache: dict[str | None, dict[tuple[int, int], bytes]] = {}

    def blobs_for(fields: str | None) -> dict[tuple[int, int], bytes]:
        if fields not in cache:
            keep = None if fields is None else {SECTION_FIELDS[f] for f in fields.split(",")}
            by_key = {}
            for t, base in enumerate(templates()):
                for k in range(len(TITLES)):
                    record = make_record(k, base, last_update="__DATE__")
                    record["protocolSection"]["identificationModule"]["nctId"] = "__NCT__"
                    record["protocolSection"]["statusModule"]["overallStatus"] = "__STATUS__"
                    if keep is not None:
                        record = {key: v for key, v in record.items() if key in keep}
                    by_key[(t, k)] = json.dumps(record).encode()
            cache[fields] = by_key
        return cache[fields]

    blobs_for(None)
    state = {"stamp": "2026-11-20T14:00:00"}

    def study(by_key: dict[tuple[int, int], bytes], i: int, day: bytes, shift: int) -> bytes:
        blob = by_key[(i % count, i % len(TITLES))]
        status = STATUSES[(i + shift) % len(STATUSES)].encode()
        return blob.replace(b"__NCT__", b"NCT%08d" % (80000000 + i)).replace(b"__DATE__", day).replace(
            b"__STATUS__", status)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            if url.path.endswith("/version"):
                if changed.value and state["stamp"] == "2026-11-20T14:00:00":
                    state["stamp"] = "2026-11-21T14:00:00"
                body = json.dumps({"apiVersion": "2.0.5", "dataTimestamp": state["stamp"]}).encode()
            elif any(f not in SECTION_FIELDS for f in params.get("fields", "ProtocolSection").split(",")):
                bad = next(f for f in params["fields"].split(",") if f not in SECTION_FIELDS)
                body = f"Parameter 'fields' contains invalid field name: '{bad}'".encode()
                self.send_response(400)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            else:
                by_key = blobs_for(params.get("fields"))
                size = int(params.get("pageSize", "10"))
                start = int(params.get("pageToken", "0"))
                if "filter.advanced" in params:  # an incremental poll: only the k changed studies
                    total, shift, day = changed.value, 1, b"2026-11-21"
                else:
                    total, shift, day = n, 0, b"2026-11-20"
                head = b'{"studies":[' + b",".join(
                    study(by_key, i, day, shift) for i in range(start, min(start + size, total)))
                tail = b"]"
                if start == 0:
                    tail += b',"totalCount":%d' % total
                if start + size < total:
                    tail += b',"nextPageToken":"%d"' % (start + size)
                body = head + tail + b"}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


class Counter:
    """Counts the HTTP requests the pipeline makes (an httpx event hook on the app's clients)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, request: object) -> None:
        self.n += 1


def run(n: int, changes: int = 100) -> dict:
    changed = multiprocessing.Value("i", 0)
    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(target=serve, args=(n, ports, changed), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    tmp = tempfile.mkdtemp()
    queries = Path(tmp) / "queries"
    queries.mkdir()
    (queries / "bench.toml").write_text('name = "bench"\n[ctgov]\nterms = ["exosome AND cancer"]\n')
    os.environ.update({
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp}/monitor.db", "MONITOR_QUERIES_DIR": str(queries),
        "MONITOR_CTGOV_URL": f"http://127.0.0.1:{port}/api/v2", "MONITOR_CTGOV_MIN_INTERVAL": "0",
        "MONITOR_OVERRIDES_FILE": f"{tmp}/overrides.toml", "MONITOR_CONFIG": f"{tmp}/none.toml",
    })
    from monitor.app import build_app
    from monitor.config import load_settings

    app = build_app(load_settings())
    counter = Counter()
    original = app._client

    def counted(base_url: str):  # type: ignore[no-untyped-def]
        client = original(base_url)
        client.event_hooks["request"].append(counter)
        return client

    app._client = counted  # type: ignore[method-assign]
    start = time.perf_counter()
    report = app.check(sources=("ctgov",), notify=False, now=datetime(2026, 11, 20, 15, tzinfo=UTC))
    elapsed = time.perf_counter() - start
    assert report.ok and report.new == n, (report.errors, report.new)
    backfill_requests = counter.n
    counter.n = 0
    app.check(sources=("ctgov",), notify=False, now=datetime(2026, 11, 20, 16, tzinfo=UTC))
    idle_requests = counter.n
    changed.value = changes
    counter.n = 0
    report2 = app.check(sources=("ctgov",), notify=False, now=datetime(2026, 11, 21, 15, tzinfo=UTC))
    changed_requests = counter.n
    app.close()
    server.terminate()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"studies": n, "seconds": elapsed, "per_second": n / elapsed, "peak_rss_mb": peak_mb,
            "backfill_requests": backfill_requests, "no_change_poll_requests": idle_requests,
            "changed_studies": changes, "changed_poll_requests": changed_requests,
            "changed_detected": report2.changed, "db_mb": os.path.getsize(f"{tmp}/monitor.db") / 2**20}


def _run_into(n: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results.put(run(n))


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 50_000]
    for n in sizes:
        # each size in a fresh process so that peak memory is that run's own
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        worker = ctx.Process(target=_run_into, args=(n, results))
        worker.start()
        r = results.get()
        worker.join()
        print(f"backfill {r['studies']:>6} studies: {r['seconds']:.1f} s, {r['per_second']:.0f} studies/s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB, {r['backfill_requests']} requests, DB {r['db_mb']:.0f} MB")
        print(f"  no-change poll: {r['no_change_poll_requests']} request(s); poll after {r['changed_studies']} "
              f"changed studies: {r['changed_poll_requests']} requests, {r['changed_detected']} changes recorded")


if __name__ == "__main__":
    main()
