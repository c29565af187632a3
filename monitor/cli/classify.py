"""``monitor classify FILE... [--json]``: classify CT.gov study JSON files offline, with evidence.

Imports only click at module level; the classifier, json and rich are imported inside the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from monitor.domain import Classification



class InputError(click.ClickException):
    """A file or setting the command cannot use: one line on stderr, exit code 2."""

    exit_code = 2


@click.command("classify")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per study.")
def classify_cmd(files: tuple[str, ...], as_json: bool) -> None:
    """Classify ClinicalTrials.gov study JSON files (a single study or a /studies page); '-' reads stdin.

    Overrides from the file named by MONITOR_OVERRIDES_FILE (default ./overrides.toml) are applied.

    \b
    Example:
      monitor classify NCT03608631.json
      curl -s 'https://clinicaltrials.gov/api/v2/studies?query.term=exosome' | monitor classify - --json
    """
    import json

    from monitor.classify import apply_overrides, classify_record
    from monitor.classify.rules import nct_id_of

    overrides = _load_overrides()
    results: list[tuple[str, Classification]] = []
    for name in files:
        for study in _studies(name, _read(name)):
            nct_id = nct_id_of(study)
            classification = classify_record(study)
            if nct_id in overrides:
                classification = apply_overrides(classification, overrides[nct_id])
            results.append((nct_id, classification))
    if as_json:
        click.echo(json.dumps([_as_json(nct_id, c) for nct_id, c in results], indent=2, ensure_ascii=False))
    else:
        _print_table(results)


def _load_overrides() -> dict[str, dict[str, Any]]:
    from monitor.classify import load_overrides
    from monitor.config import load_settings
    from monitor.errors import ConfigError

    try:
        return load_overrides(load_settings().overrides_file)  # MONITOR_OVERRIDES_FILE or monitor.toml
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def _read(name: str) -> Any:
    import json
    import sys

    try:
        if name == "-":
            text = sys.stdin.read()
        else:
            with open(name, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{_label(name)}: cannot read the file ({reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{_label(name)}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None


def _studies(name: str, data: Any) -> Iterator[Mapping[str, Any]]:
    """The study objects in a file: one study, a /studies page ({"studies": [...]}) or a JSON array of studies."""
    if isinstance(data, dict) and isinstance(data.get("studies"), list):
        items = data["studies"]
    elif isinstance(data, list):
        items = data
    else:
        items = [data]
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("protocolSection"), dict):
            where = f"study {i + 1}" if len(items) > 1 else "the file"
            raise InputError(
                f"{_label(name)}: {where} is not a ClinicalTrials.gov study (no protocolSection); "
                "give a study from /api/v2/studies/NCT... or a /studies page"
            )
        yield item


def _label(name: str) -> str:
    return "<stdin>" if name == "-" else name


def _as_json(nct_id: str, c: Classification) -> dict[str, Any]:
    return {
        "nct_id": nct_id or None,
        **c.as_dict(),
        "evidence": {
            field: [{"field": e.field, "words": e.words} for e in items] for field, items in c.evidence.items()
        },
        "overridden": sorted(c.overridden),
    }


def _print_table(results: list[tuple[str, Classification]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(results)} stud{'y' if len(results) == 1 else 'ies'} classified", show_lines=True)
    for column in ("nct_id", "product_class", "cell_free", "source", "phase", "cancer"):
        table.add_column(column, no_wrap=True)
    table.add_column("evidence", overflow="fold", min_width=30)
    for nct_id, c in results:
        cancer = ("yes: " + ", ".join(c.cancer_types)) if c.cancer else "no"
        mark = {field: " *" if field in c.overridden else "" for field in c.evidence}
        cells = (
            nct_id or "?",
            c.product_class + mark.get("product_class", ""),
            ("yes" if c.cell_free else "no") + mark.get("cell_free", ""),
            c.source + mark.get("source", ""),
            (c.phase or "-") + mark.get("phase", ""),
            cancer + mark.get("cancer", ""),
            _key_evidence(c),
        )
        table.add_row(*(Text(cell) for cell in cells))  # Text: registry words are never read as rich markup
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped: wide enough for the fixed columns and some evidence
    console.print(table)
    if any(c.overridden for _, c in results):
        console.print("* set in overrides.toml")


def _key_evidence(c: Classification) -> str:
    lines = []
    for field in ("product_class", "source", "cancer"):
        items = c.evidence.get(field, ())
        if items:
            lines.append(f"{field}: {items[0].words} [{items[0].field}]")
    return "\n".join(lines)
