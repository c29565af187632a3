"""The exceptions of monitor; imports nothing from monitor.

MonitorError                 every expected failure; the CLI prints its message in one line
 +-- ConfigError             bad settings, query file or overrides file (exit 2)
 +-- SourceError             a registry could not be read completely (retries exhausted, bad body)
 |    +-- RecordError        one record could not be parsed (the rest of the page still counts)
 +-- StoreError              the database is locked, unreachable or not migrated
 +-- NotifyError             Slack or SMTP refused or could not be reached
"""


class MonitorError(Exception):
    """Base class of every failure the user is told about in one line."""


class ConfigError(MonitorError):
    """Settings, a query file or the overrides file are invalid."""


class SourceError(MonitorError):
    """A source failed after its retries; the run does not move the watermark."""


class RecordError(SourceError):
    """One record in an otherwise readable response could not be parsed."""


class StoreError(MonitorError):
    """The store is locked by another run, unreachable or not migrated."""


class NotifyError(MonitorError):
    """A notifier could not deliver; the alert or digest stays pending."""
