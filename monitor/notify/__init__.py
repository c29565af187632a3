"""Alert channels: the ``Notifier`` protocol that ``deliver_alerts`` drives, and ``DeliveryError``.

Imports domain and errors only (``slack.py`` alone imports slack_sdk, so importing this package stays cheap).

A channel is one class with ``can_lookup``, ``send(alert)`` and ``find_sent(alert, oldest=...)``:

- ``send`` posts one message for one outbox alert and returns the channel's message id (Slack's ``ts``) or
  None when the channel gives none (an incoming webhook). It raises ``DeliveryError`` (a ``NotifyError``),
  whose ``definitely_not_sent`` says whether the message can be assumed absent (a 4xx refusal, a connection
  that never carried the request) or may exist (a timeout or a reset after the request went out).
- ``find_sent`` looks for the message of an alert posted at or after ``oldest``, so that an alert whose send
  may have happened before a crash is found instead of posted twice. Channels without ``can_lookup`` return
  None and are delivered at least once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from monitor.domain import Alert
from monitor.errors import NotifyError


class DeliveryError(NotifyError):
    """One send or lookup failed. The message is one line and never holds a token or a webhook URL.

    ``definitely_not_sent``: the channel cannot hold the message (refused with a 4xx, or the connection failed
    before the request was written), so the alert may be sent again without a lookup.
    ``channel_down``: the next alert would most likely fail the same way (connection failure, 5xx, rate limit
    still in force, bad token, unknown channel); ``deliver_alerts`` stops after a few of these in a row.
    """

    def __init__(self, message: str, *, definitely_not_sent: bool, channel_down: bool = False) -> None:
        super().__init__(message)
        self.definitely_not_sent = definitely_not_sent
        self.channel_down = channel_down


@runtime_checkable
class Notifier(Protocol):
    """An alert channel (Slack today). ``name`` appears in reports, e.g. ``"slack #alerts"``."""

    name: str
    can_lookup: bool

    def send(self, alert: Alert) -> str | None: ...

    def find_sent(self, alert: Alert, *, oldest: datetime) -> str | None: ...


__all__ = ["DeliveryError", "Notifier"]
