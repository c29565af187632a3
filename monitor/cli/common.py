"""Helpers shared by the command modules: settings, one-line errors, exit codes, output. Imports click only
at module level."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
EXIT_FAILED = 1
EXIT_CONFIG = 2


class ConfigFailure(click.ClickException):
    exit_code = EXIT_CONFIG


def one_line_errors(func: F) -> F:
    """Turn MonitorError into a one-line message: exit 2 for configuration, 1 for everything else."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from monitor.errors import ConfigError, MonitorError

        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            raise ConfigFailure(str(exc)) from None
        except MonitorError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def open_app(*, migrate: bool = True) -> Iterator[Any]:
    """Settings from the environment and monitor.toml, then the app; closed on exit."""
    from monitor.app import build_app
    from monitor.config import load_settings

    app = build_app(load_settings(), migrate=migrate)
    try:
        yield app
    finally:
        app.close()


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)
