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


def _register() -> None:
    from monitor.cli.admin import db_group, queries_cmd, settings_cmd
    from monitor.cli.alerts import alerts_cmd
    from monitor.cli.check import check_cmd
    from monitor.cli.classify import classify_cmd
    from monitor.cli.digest import digest_cmd
    from monitor.cli.run import run_cmd
    from monitor.cli.trials import show_cmd, trials_cmd

    for command in (check_cmd, trials_cmd, show_cmd, classify_cmd, alerts_cmd, digest_cmd, run_cmd, db_group,
                    queries_cmd, settings_cmd):
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="monitor")
