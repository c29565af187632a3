"""The ``monitor`` command line (click). Command modules import heavy libraries lazily, inside commands."""

from __future__ import annotations

import click

from monitor import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="monitor")
def cli() -> None:
    """Watch ClinicalTrials.gov and PubMed for secretome / exosome / EV cancer trials.

    Settings come from MONITOR_* environment variables or monitor.toml; see `monitor settings`.
    """


def main() -> None:
    cli(prog_name="monitor")
