"""The README keeps its promises: every setting, command and source kind is documented; --help is fast."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import cli
from monitor.config import describe_settings
from monitor.sources import SOURCE_KINDS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("name", [row[0] for row in describe_settings()])
def test_every_setting_is_in_the_readme(name):
    assert f"`{name}`" in README


def _commands():
    for name, command in cli.commands.items():
        yield name
        for sub in getattr(command, "commands", {}):
            yield f"{name} {sub}"


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_command_has_help_an_example_and_is_in_the_readme(command):
    assert f"monitor {command}" in README
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert result.exit_code == 0
    if " " not in command and command != "db":
        assert "Example:" in result.output


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_every_source_kind_is_documented(kind):
    assert re.search(rf"\b{kind}\b", README)


def test_readme_setup_and_test_commands_match_ci():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "pip install -e '.[dev]'" in README and "pip install -e '.[dev]'" in ci
    assert "python -m pytest" in README and "python -m pytest" in ci


HEAVY = {
    "sqlalchemy",
    "sqlmodel",
    "httpx",
    "rich",
    "slack_sdk",
    "apscheduler",
    "alembic",
    "jinja2",
    "feedparser",
    "pydantic",
    "pydantic_settings",
    "defusedxml",
}


def test_the_cli_imports_no_heavy_library_before_a_command_runs():
    """`monitor --help` stays fast because heavy libraries load lazily (timing: bench/bench_cli.py)."""
    code = "import sys, monitor.cli; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    )
    assert loaded & HEAVY == set()
