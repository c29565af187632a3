"""``monitor trials`` and ``monitor show``: what the store knows."""

from __future__ import annotations

import csv
import sys
from typing import Any

import click

from monitor.cli.common import console, one_line_errors, open_app, print_json

PRODUCT_CLASSES = ("extracellular_vesicle", "cell_free_secretome", "cell_based", "biomarker", "other")


def _results_state(state: dict[str, Any]) -> str:
    if state.get("has_results"):
        return f"posted {state.get('results_first_posted_on') or ''}".strip()
    if state.get("results_submission"):
        return "submitted (QC)"
    return "none"


def trial_summary(t: Any) -> dict[str, Any]:
    c = t.classification
    return {
        "nct_id": t.nct_id, "title": t.title, "product_class": t.product_class, "cell_free": t.cell_free,
        "engineered": bool(c.get("engineered")), "source": c.get("source"), "phase": t.phase,
        "cancer": t.cancer, "cancer_types": c.get("cancer_types", []), "status": t.overall_status,
        "results": _results_state(dict(t.state)), "has_results": t.has_results, "sponsor": t.lead_sponsor,
        "queries": list(t.queries), "last_update_posted_on": t.last_update_posted_on, "url": t.url,
    }


@click.command("trials")
@click.option("--cell-free", is_flag=True, help="Only cell-free products (EV or secretome).")
@click.option("--cancer", is_flag=True, help="Only trials in cancer (incl. supportive care).")
@click.option("--class", "product_class", type=click.Choice(PRODUCT_CLASSES), help="Only this product class.")
@click.option("--phase", help="Only this phase, e.g. PHASE1 or PHASE1/PHASE2.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@one_line_errors
def trials_cmd(cell_free: bool, cancer: bool, product_class: str | None, phase: str | None, as_json: bool,
               as_csv: bool) -> None:
    """List tracked trials with classification, phase, status and results state.

    Example:

        monitor trials --cell-free --cancer

        monitor trials --class extracellular_vesicle --phase PHASE1 --json
    """
    with open_app() as app:
        rows = [trial_summary(t) for t in app.store.trials(
            cell_free=True if cell_free else None, cancer=True if cancer else None, product_class=product_class,
            phase=phase.upper() if phase else None)]
    if as_json:
        print_json(rows)
        return
    columns = ["nct_id", "product_class", "cell_free", "phase", "status", "results", "cancer", "title"]
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "phase": r["phase"] or ""} for r in rows)
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} tracked trial(s)")
    cells = [[("yes" if r[c] else "no") if isinstance(r[c], bool) else str(r[c] or "-") for c in columns] for r in rows]
    for column in columns:
        if column == "title":
            table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=60)
        else:
            table.add_column(column.replace("_", " "), no_wrap=True)
    for row in cells:
        table.add_row(*row)
    console().print(table)


@click.command("show")
@click.argument("nct_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@one_line_errors
def show_cmd(nct_id: str, as_json: bool) -> None:
    """One trial: classification with evidence, status, dates, results, papers, change history.

    Example:

        monitor show NCT05375604

        monitor show NCT05375604 --json
    """
    from monitor.store.quickread import QuickReader, configured_database_url

    wanted = nct_id.strip().upper()
    reader = QuickReader.open(configured_database_url())
    if reader is not None:  # the fast path: stdlib sqlite3, no SQLAlchemy or pydantic import
        try:
            trial, changes, events, papers = _load(reader, wanted)
        finally:
            reader.close()
    else:
        with open_app() as app:
            trial, changes, events, papers = _load(app.store, wanted)
    data = {
        **trial_summary(trial),
        "classification": dict(trial.classification),
        "overrides": dict(trial.override),
        "dates": {k: trial.state.get(k) for k in ("start_date", "primary_completion_date", "completion_date")},
        "enrollment": trial.state.get("enrollment"),
        "results_submission": trial.state.get("results_submission"),
        "first_seen_at": trial.first_seen_at.isoformat(),
        "changes": [{"field": c.field, "old": c.old, "new": c.new, "seen_at": c.seen_at.isoformat()} for c in changes],
        "events": [{"kind": e.kind.value, "key": e.key, "created_at": e.created_at.isoformat(),
                    "payload": dict(e.payload)} for e in events],
        "publications": [{"pmid": p.pmid, "title": p.title, "journal": p.journal, "published_on": p.published_on,
                          "url": p.url, "efficacy": efficacy, "link": ", ".join(how)} for p, efficacy, how in papers],
    }
    if as_json:
        print_json(data)
    else:
        _print_show(data)


def _load(source: Any, nct_id: str) -> tuple[Any, Any, Any, Any]:
    from monitor.errors import ConfigError

    trial = source.trial(nct_id)
    if trial is None:
        raise ConfigError(f"{nct_id} is not tracked (see `monitor trials`)")
    return trial, source.changes(nct_id), source.events(nct_id=nct_id), source.publications_for(nct_id)


def _print_show(d: dict[str, Any]) -> None:
    from rich.markup import escape

    out = console()
    out.print(f"[bold]{d['nct_id']}[/bold]  {escape(d['title'])}")
    out.print(f"{d['url']}")
    out.print(f"status {d['status'] or '-'} · phase {d['phase'] or '-'} · results {d['results']} · sponsor "
              f"{escape(d['sponsor'] or '-')}")
    dates = d["dates"]
    enrollment = d["enrollment"] or {}
    enrolled = f"{enrollment.get('count')} ({(enrollment.get('type') or '').lower()})".replace(" ()", "") \
        if enrollment.get("count") is not None else "-"
    out.print(f"start {dates['start_date'] or '-'} · primary completion {dates['primary_completion_date'] or '-'} · "
              f"completion {dates['completion_date'] or '-'} · enrolment {enrolled}")
    c = d["classification"]
    overridden = set(c.get("overridden", []))
    out.print("\n[bold]classification[/bold]")
    for name in ("product_class", "cell_free", "engineered", "source", "phase", "cancer", "cancer_types"):
        mark = " (override)" if name in overridden else ""
        why = "; ".join(f"{e['field']}: \"{e['words']}\"" for e in c.get("evidence", {}).get(name, []))
        out.print(f"  {name:14} {c.get(name)!s}{mark}" + (f"  <- {escape(why)}" if why else ""), highlight=False)
    out.print(f"\n[bold]papers[/bold] ({len(d['publications'])})")
    for p in d["publications"]:
        flag = " \\[efficacy]" if p["efficacy"] else ""
        out.print(f"  PMID {p['pmid']} ({p['link']}){flag}: {escape(p['title'])} {p['url']}", highlight=False)
    out.print(f"\n[bold]changes[/bold] ({len(d['changes'])})")
    for ch in d["changes"]:
        out.print(f"  {ch['seen_at'][:16]}  {ch['field']}: {escape(str(ch['old']))} -> {escape(str(ch['new']))}",
                  highlight=False)
    out.print(f"\n[bold]events[/bold] ({len(d['events'])})")
    for e in d["events"]:
        out.print(f"  {e['created_at'][:16]}  {e['kind']}  {e['key']}", highlight=False)
