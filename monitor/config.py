"""Settings: ``MONITOR_*`` environment variables, optionally a ``monitor.toml``; imports errors only.

Every field has a default and a description; ``monitor settings`` and the README list them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from monitor.errors import ConfigError

TOML_FILE_ENV = "MONITOR_CONFIG"


class Settings(BaseSettings):
    """All settings of monitor. Environment variables win over ``monitor.toml``."""

    model_config = SettingsConfigDict(env_prefix="MONITOR_", frozen=True, extra="ignore")

    database_url: str = Field(
        "sqlite:///monitor.db",
        description="SQLAlchemy URL of the store; a SQLite file in the working directory by default, "
        "or postgresql+psycopg://user@host/db.",
    )
    queries_dir: Path = Field(Path("queries"), description="Folder of query files (*.toml), one topic per file.")
    overrides_file: Path = Field(
        Path("overrides.toml"), description="Per-trial classification overrides; a missing file means none."
    )
    ctgov_url: str = Field("https://clinicaltrials.gov/api/v2", description="ClinicalTrials.gov API v2 base URL.")
    ctgov_overlap_days: int = Field(
        2, ge=0, description="Days re-read behind the CT.gov watermark (LastUpdatePostDate) on each poll."
    )
    ctgov_page_size: int = Field(1000, ge=1, le=1000, description="Studies per CT.gov page (1000 is the API maximum).")
    ctgov_min_interval: float = Field(
        1.0, ge=0, description="Seconds between two CT.gov requests (client-side pacing; robots Crawl-delay is 1)."
    )
    eutils_url: str = Field(
        "https://eutils.ncbi.nlm.nih.gov/entrez/eutils", description="NCBI E-utilities base URL."
    )
    ncbi_api_key: SecretStr | None = Field(None, description="NCBI API key: 10 requests/s instead of 3.")
    ncbi_email: str = Field(
        "", description="Contact e-mail sent to NCBI with every E-utilities request (NCBI asks for one)."
    )
    ncbi_tool: str = Field("secretome-monitor", description="Tool name sent to NCBI (no spaces).")
    pubmed_overlap_days: int = Field(3, ge=0, description="Days re-read behind the PubMed creation-date watermark.")
    pubmed_backfill_days: int = Field(
        3650, ge=1, description="How far back the first PubMed poll of a query searches, in days."
    )
    http_timeout: float = Field(60.0, gt=0, description="Seconds before an HTTP request times out.")
    http_retries: int = Field(4, ge=0, description="Retries of a failed HTTP request (timeouts, 403, 429, 5xx).")
    http_backoff: float = Field(2.0, ge=0, description="Base of the exponential backoff between retries, seconds.")
    user_agent: str = Field(
        "secretome-monitor/0.1 (+https://github.com/; registry monitor)",
        description="User-Agent sent to every registry.",
    )
    slack_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-...) for chat.postMessage.")
    slack_channel: str | None = Field(None, description="Slack channel id or name for alerts (with a bot token).")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL (slack-sdk base_url).")
    slack_webhook_url: SecretStr | None = Field(
        None, description="Slack incoming-webhook URL; used when no bot token is set (at-least-once delivery)."
    )
    slack_retries: int = Field(3, ge=0, description="Retries of a Slack request on 429, 5xx and connection errors.")
    failing_after: int = Field(3, ge=1, description="Failed polls in a row before a source_failing alert.")
    smtp_host: str | None = Field(None, description="SMTP server for the weekly digest; no digest is sent without it.")
    smtp_port: int = Field(587, description="SMTP port (587 starttls, 465 ssl, 25 none).")
    smtp_user: str | None = Field(None, description="SMTP login user; no login when empty.")
    smtp_password: SecretStr | None = Field(None, description="SMTP login password.")
    smtp_security: Literal["none", "starttls", "ssl"] = Field("starttls", description="none, starttls or ssl.")
    smtp_timeout: float = Field(30.0, gt=0, description="Seconds before an SMTP operation times out.")
    digest_from: str = Field("monitor@localhost", description="From address of the digest.")
    digest_to: str = Field("", description="Comma-separated recipients of the digest.")
    poll_cron: str = Field(
        "*/15 * * * *",
        description="When to check CT.gov (crontab: minute hour day month day-of-week); a check that finds "
        "dataTimestamp unchanged costs one request.",
    )
    pubmed_cron: str = Field("7 * * * *", description="When to poll PubMed (crontab).")
    digest_cron: str = Field("0 8 * * mon", description="When to send the weekly digest (crontab; use day names).")
    timezone: str = Field("UTC", description="Timezone of the cron schedules and of dates in the digest.")
    lock_timeout: float = Field(
        0.0, ge=0, description="Seconds a run waits for another run's lock before saying the store is locked."
    )

    @field_validator("user_agent", "ncbi_tool")
    @classmethod
    def _no_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @property
    def digest_recipients(self) -> list[str]:
        return [a.strip() for a in self.digest_to.split(",") if a.strip()]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(TOML_FILE_ENV, "monitor.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))


def zone(name: str) -> ZoneInfo:
    """The timezone of the schedules and the digest; ConfigError naming MONITOR_TIMEZONE if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"setting MONITOR_TIMEZONE is invalid: unknown timezone {name!r} "
                          "(use an IANA name such as UTC or Europe/Paris)") from None


def load_settings(**overrides: Any) -> Settings:
    """Load settings; a bad value becomes one ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"setting MONITOR_{name.upper()} is invalid: {first['msg']} (fix the environment or monitor.toml)"
        ) from None
    except (OSError, ValueError) as exc:  # unreadable or malformed monitor.toml
        raise ConfigError(f"cannot read monitor.toml: {exc}") from None


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, in declaration order."""
    rows = []
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = "" if default is None else str(default)
        rows.append((f"MONITOR_{name.upper()}", shown, info.description or ""))
    return rows
