"""Query files: ``queries/*.toml``, one watched topic each; imports domain and errors only.

Errors name the file and the field, so a user can fix a query without reading code.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from monitor.domain import DEFAULT_ALERT_KINDS, EventKind, Query
from monitor.errors import ConfigError

TOP_KEYS = {"name", "description", "ctgov", "pubmed", "alerts"}
SECTION_KEYS = {"ctgov": {"terms"}, "pubmed": {"term", "rss"}, "alerts": {"kinds", "new_trial"}}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _fail(path: Path, field: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: field '{field}': {message}")


def check_expression(expr: str) -> str | None:
    """A reason why a search expression is malformed (unbalanced quotes or parentheses), or None."""
    if expr.count('"') % 2:
        return "unbalanced double quote"
    depth = 0
    in_quote = False
    for char in expr:
        if char == '"':
            in_quote = not in_quote
        elif not in_quote and char == "(":
            depth += 1
        elif not in_quote and char == ")":
            depth -= 1
            if depth < 0:
                return "')' without '('"
    return "'(' without ')'" if depth else None


def _expression(path: Path, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, field, "must be a non-empty string")
    problem = check_expression(value)
    if problem:
        raise _fail(path, field, problem)
    return " ".join(value.split())


def _section(path: Path, data: dict[str, Any], name: str) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise _fail(path, name, "must be a table")
    unknown = set(section) - SECTION_KEYS[name]
    if unknown:
        raise _fail(
            path, f"{name}.{sorted(unknown)[0]}", f"unknown field (known: {', '.join(sorted(SECTION_KEYS[name]))})"
        )
    return section


def parse_query(path: Path, data: dict[str, Any]) -> Query:
    """Validate one parsed query file."""
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _fail(path, sorted(unknown)[0], f"unknown field (known: {', '.join(sorted(TOP_KEYS))})")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _fail(path, "name", "must be letters, digits, '-', '_' or '.' (at most 100)")
    ctgov, pubmed, alerts = (_section(path, data, s) for s in ("ctgov", "pubmed", "alerts"))
    terms = ctgov.get("terms", [])
    if not isinstance(terms, list):
        raise _fail(path, "ctgov.terms", "must be a list of expressions")
    ctgov_terms = tuple(_expression(path, f"ctgov.terms[{i}]", t) for i, t in enumerate(terms))
    pubmed_term = pubmed.get("term")
    if pubmed_term is not None:
        pubmed_term = _expression(path, "pubmed.term", pubmed_term)
    rss = pubmed.get("rss", [])
    if not isinstance(rss, list) or not all(isinstance(u, str) and re.match(r"^https?://\S+$", u) for u in rss):
        raise _fail(path, "pubmed.rss", "must be a list of http(s) URLs")
    if not ctgov_terms and not pubmed_term and not rss:
        raise _fail(path, "ctgov.terms", "a query needs at least one CT.gov expression, a PubMed term or a feed")
    kinds = alerts.get("kinds", sorted(DEFAULT_ALERT_KINDS))
    valid = {k.value for k in EventKind}
    if not isinstance(kinds, list) or any(k not in valid for k in kinds):
        bad = next((k for k in kinds if k not in valid), kinds) if isinstance(kinds, list) else kinds
        raise _fail(path, "alerts.kinds", f"unknown event kind {bad!r} (known: {', '.join(sorted(valid))})")
    new_trial = alerts.get("new_trial", "cell_free_cancer")
    if new_trial not in ("cell_free_cancer", "all"):
        raise _fail(path, "alerts.new_trial", "must be 'cell_free_cancer' or 'all'")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail(path, "description", "must be a string")
    return Query(
        name=name,
        path=str(path),
        ctgov_terms=ctgov_terms,
        pubmed_term=pubmed_term,
        rss_urls=tuple(rss),
        alert_kinds=frozenset(EventKind(k) for k in kinds),
        new_trial_alert_requires_cell_free_cancer=new_trial == "cell_free_cancer",
        description=description,
    )


def load_query(path: Path) -> Query:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_query(path, data)


def load_queries(directory: Path, names: tuple[str, ...] | list[str] = ()) -> list[Query]:
    """Every ``*.toml`` in the folder, sorted by name; ``names`` selects some (unknown name -> ConfigError)."""
    if not directory.is_dir():
        raise ConfigError(f"queries folder {directory} does not exist (set MONITOR_QUERIES_DIR)")
    queries = [load_query(p) for p in sorted(directory.glob("*.toml"))]
    seen: dict[str, str] = {}
    for q in queries:
        if q.name in seen:
            raise ConfigError(f"{q.path}: field 'name': {q.name!r} is also used by {seen[q.name]}")
        seen[q.name] = q.path
    if not queries:
        raise ConfigError(f"no query files (*.toml) in {directory}")
    if names:
        missing = [n for n in names if n not in seen]
        if missing:
            raise ConfigError(f"unknown query {missing[0]!r} (known: {', '.join(sorted(seen))})")
        queries = [q for q in queries if q.name in names]
    return queries
