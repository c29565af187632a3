"""User overrides of classification fields (``overrides.toml``): load and validate them, apply them.

Imports ``monitor.domain``, ``monitor.errors``, this package and the stdlib (``tomllib``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from monitor.classify.cancer import CANCER_TYPES
from monitor.classify.rules import CELL_FREE_CLASSES
from monitor.domain import PHASES, PRODUCT_CLASSES, SOURCES, Classification, Evidence
from monitor.errors import ConfigError

NCT_ID_RE = re.compile(r"^NCT\d{8}$")
OVERRIDE_FIELDS = ("product_class", "cell_free", "engineered", "source", "phase", "cancer", "cancer_types")
_BOOL_FIELDS = frozenset({"cell_free", "engineered", "cancer"})
_NO_PHASE = frozenset({"", "none", "null"})  # TOML has no null: phase = "none" clears the phase
DEFAULT_NOTE = "set in overrides.toml"


def load_overrides(path: Path) -> dict[str, dict[str, Any]]:
    """Read ``overrides.toml``: ``[NCT01234567]`` tables of §3 fields plus an optional ``note``.

    A missing file means no overrides. Anything else that is wrong raises ``ConfigError`` naming the file, the
    NCT id and the field.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the overrides file ({exc.strerror or exc})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return {nct_id: _validated(path, nct_id, table) for nct_id, table in data.items()}


def _validated(path: Path, nct_id: str, table: Any) -> dict[str, Any]:
    if not NCT_ID_RE.match(nct_id):
        raise ConfigError(f"{path}: [{nct_id}]: not an NCT id (expected NCT followed by 8 digits)")
    if not isinstance(table, Mapping):
        raise ConfigError(f'{path}: [{nct_id}]: must be a table of fields, e.g. product_class = "other"')
    return {name: _validated_value(path, nct_id, name, value) for name, value in table.items()}


def _validated_value(path: Path, nct_id: str, name: str, value: Any) -> Any:
    try:
        return validate_field(name, value)
    except ValueError as exc:
        raise ConfigError(f"{path}: [{nct_id}] {name}: {exc}") from None


def validate_field(name: str, value: Any) -> Any:
    """The checked value of one override field; ``ValueError`` says what is wrong."""
    if name == "note":
        return _expect(isinstance(value, str), value, "a string")
    if name == "product_class":
        return _one_of(value, PRODUCT_CLASSES)
    if name == "source":
        return _one_of(value, SOURCES)
    if name in _BOOL_FIELDS:
        return _expect(isinstance(value, bool), value, "true or false")
    if name == "phase":
        return _phase(value)
    if name == "cancer_types":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f'{value!r} is not a list of strings, e.g. ["lung"]')
        return tuple(_one_of(v, CANCER_TYPES) for v in value)
    raise ValueError(f"unknown field (known: {', '.join(OVERRIDE_FIELDS)}, note)")


def _expect(ok: bool, value: Any, what: str) -> Any:
    if not ok:
        raise ValueError(f"{value!r} is not {what}")
    return value


def _one_of(value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _phase(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f'{value!r} is not a phase string such as "PHASE1/PHASE2" or "none"')
    if value.strip().lower() in _NO_PHASE:
        return None
    parts = value.split("/")
    if not all(part in PHASES for part in parts):
        raise ValueError(f'{value!r} is not a phase: use {", ".join(PHASES)}, joined with / (or "none")')
    return value


def apply_overrides(classification: Classification, override: Mapping[str, Any]) -> Classification:
    """The classification with the override's fields; ``overridden`` lists them and their evidence is the note."""
    checked: dict[str, Any] = {}
    for name, value in override.items():
        try:
            checked[name] = validate_field(name, value)
        except ValueError as exc:
            raise ConfigError(f"override {name}: {exc}") from None
    fields = {name: value for name, value in checked.items() if name != "note"}
    if not fields:
        return classification
    note = Evidence("override", checked.get("note") or DEFAULT_NOTE)
    evidence = dict(classification.evidence)
    evidence.update({name: (note,) for name in fields})
    if "product_class" in fields and "cell_free" not in fields:
        fields["cell_free"] = fields["product_class"] in CELL_FREE_CLASSES
        evidence["cell_free"] = (Evidence("product_class", f"{fields['product_class']} ({DEFAULT_NOTE})"),)
    return replace(
        classification,
        **fields,
        evidence=evidence,
        overridden=classification.overridden | frozenset(n for n in checked if n != "note"),
    )
