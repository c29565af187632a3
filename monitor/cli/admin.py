"""``monitor db upgrade``, ``monitor queries`` and ``monitor settings``."""

from __future__ import annotations

from typing import Any

import click

from monitor.cli.common import console, one_line_errors, open_app, print_json


@click.group("db")
def db_group() -> None:
    """The database (SQLite by default, or PostgreSQL)."""


@db_group.command("upgrade")
@one_line_errors
def db_upgrade_cmd() -> None:
    """Apply migrations (a fresh database is also migrated on first use).

    Example:

        MONITOR_DATABASE_URL=sqlite:////data/monitor.db monitor db upgrade
    """
    with open_app(migrate=False) as app, app.store.lock(timeout=max(app.settings.lock_timeout, 60.0)):
        before, after = app.store.upgrade()
        where = app.store.display_url
    click.echo(
        f"{where}: already at revision {after}"
        if before == after
        else f"{where}: upgraded from {before or 'empty'} to {after}"
    )


@click.command("queries")
@click.option("--validate", is_flag=True, help="Only check the files; exit 2 naming the file and field on error.")
@click.option("--json", "as_json", is_flag=True, help="Print the queries as JSON.")
@one_line_errors
def queries_cmd(validate: bool, as_json: bool) -> None:
    """List the queries (queries/*.toml) and check them.

    Example:

        monitor queries

        MONITOR_QUERIES_DIR=./my-queries monitor queries --validate
    """
    from monitor.config import load_settings
    from monitor.queries import load_queries

    settings = load_settings()
    queries = load_queries(settings.queries_dir)
    if validate:
        click.echo(f"{len(queries)} query file(s) in {settings.queries_dir} are valid")
        return
    rows: list[dict[str, Any]] = [
        {
            "name": q.name,
            "file": q.path,
            "description": q.description,
            "ctgov_terms": list(q.ctgov_terms),
            "pubmed_term": q.pubmed_term,
            "rss": list(q.rss_urls),
            "alert_kinds": sorted(k.value for k in q.alert_kinds),
            "new_trial_alerts": "cell_free_cancer" if q.new_trial_alert_requires_cell_free_cancer else "all",
        }
        for q in queries
    ]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title=f"queries in {settings.queries_dir}")
    for column in ("name", "file", "sources", "alerts"):
        table.add_column(column, overflow="fold")
    for r in rows:
        sources = ", ".join(
            s
            for s, on in (
                ("ctgov", r["ctgov_terms"]),
                ("pubmed", r["pubmed_term"]),
                (f"rss x{len(r['rss'])}", r["rss"]),
            )
            if on
        )
        table.add_row(r["name"], r["file"], sources, ", ".join(r["alert_kinds"]))
    console().print(table)


@click.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@one_line_errors
def settings_cmd(as_json: bool) -> None:
    """List every setting with its current value (secrets hidden), default and description.

    Example:

        monitor settings
    """
    from monitor.config import describe_settings, load_settings

    settings = load_settings()
    rows = []
    for env, default, description in describe_settings():
        value = getattr(settings, env.removeprefix("MONITOR_").lower())
        shown = "" if value is None else ("********" if "Secret" in type(value).__name__ else str(value))
        rows.append({"name": env, "value": shown, "default": default, "description": description})
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table()
    for column in ("name", "value", "default", "description"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["value"], r["default"], r["description"])
    console().print(table)
