"""Slack delivery: ``SlackNotifier`` posts alerts (Web API with a bot token, or a webhook) exactly once by lookup.

Imports domain, errors, monitor.notify and its Block Kit renderer; the only module of monitor that imports slack_sdk.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import random
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.webhook import WebhookClient

from monitor.domain import Alert
from monitor.errors import ConfigError
from monitor.notify import DeliveryError
from monitor.notify.slack_blocks import Block, format_message

EVENT_TYPE = "monitor_alert"  # Slack message metadata event_type of every alert

_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
                "missing_scope", "not_allowed_token_type", "ekm_access_denied", "team_access_not_granted",
                "invalid_token", "no_service", "no_service_id", "no_team", "team_disabled"}
_CHANNEL_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived",
                   "restricted_action", "action_prohibited", "posting_to_general_channel_denied"}
_BLOCKS_REFUSED = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long"}
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


def metadata_key(alert_key: str) -> str:
    """The ``alert_key`` put in Slack message metadata: the key itself, or ``sha256:<hex>`` when long."""
    if len(alert_key) <= 128:
        return alert_key
    return "sha256:" + hashlib.sha256(alert_key.encode("utf-8")).hexdigest()


class _ProportionalJitter(Jitter):
    """Up to 100 % of the backoff on top of it (the SDK's RandomJitter adds up to a whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random())


def _sdk_logger() -> logging.Logger:
    """slack_sdk logs request URLs at DEBUG (a webhook URL is a secret) and each failed attempt at ERROR (our
    DeliveryError already says it in one line): give it a logger that stays quiet."""
    logger = logging.getLogger("monitor.notify.slack_sdk")
    logger.setLevel(logging.CRITICAL)
    return logger


class SlackNotifier:
    """Posts alerts to Slack: a bot token and a channel (``chat.postMessage``), or an incoming webhook.

    With a bot token every message carries the metadata ``{"event_type": "monitor_alert", "event_payload":
    {"alert_key": ...}}`` and ``find_sent`` finds it again in ``conversations.history``: delivery is exactly
    once. ``chat.postMessage`` is retried only where that cannot post twice (429, a connection that failed before
    the request was written); after a 5xx the message is looked up before it is posted again. Timeouts and
    connections lost after the request went out raise a ``DeliveryError`` with ``definitely_not_sent=False``.

    A webhook returns no message id and offers no lookup (``can_lookup`` is False): delivery is at least once.
    """

    def __init__(self, *, token: str | None = None, channel: str | None = None,
                 api_url: str = "https://slack.com/api/", webhook_url: str | None = None, retries: int = 3,
                 timeout: float = 30.0, backoff: float = 0.5, page_size: int = 200) -> None:
        if not token and not webhook_url:
            raise ConfigError("Slack needs MONITOR_SLACK_TOKEN and MONITOR_SLACK_CHANNEL, or MONITOR_SLACK_WEBHOOK_URL")
        if token and not channel:
            raise ConfigError("MONITOR_SLACK_TOKEN is set but MONITOR_SLACK_CHANNEL is not: set the channel id "
                              "(C...) the bot posts alerts to")
        self._secrets = [s for s in (token, webhook_url) if s]
        self.channel = (channel or "").lstrip("#") if token else None
        self.can_lookup = bool(token)
        self.name = f"slack #{self.channel}" if token else "slack webhook"
        self.retries = retries
        self.backoff = backoff
        self.page_size = page_size
        self._channel_id = self.channel if self.channel and _CHANNEL_ID.fullmatch(self.channel) else None
        wait = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=_ProportionalJitter())
        logger = _sdk_logger()
        self._post_client: WebClient | None = None
        self._read_client: WebClient | None = None
        self._webhook: WebhookClient | None = None
        if token:
            # posting: only retries that cannot duplicate (429 was refused; URLError = request never written)
            post_handlers: list[RetryHandler] = [
                RateLimitErrorRetryHandler(max_retry_count=retries),
                ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=wait, error_types=[URLError]),
            ]
            # the SDK's hint says int, urllib takes a float timeout
            self._post_client = WebClient(token=token, base_url=api_url, timeout=timeout,  # type: ignore[arg-type]
                                          logger=logger, retry_handlers=post_handlers)
            self._read_client = WebClient(token=token, base_url=api_url, timeout=timeout,  # type: ignore[arg-type]
                                          logger=logger, retry_handlers=self._read_handlers(retries, wait))
        else:
            self._webhook = WebhookClient(str(webhook_url), timeout=timeout,  # type: ignore[arg-type]
                                          logger=logger, retry_handlers=self._read_handlers(retries, wait))

    @staticmethod
    def _read_handlers(retries: int, wait: BackoffRetryIntervalCalculator) -> list[RetryHandler]:
        return [
            RateLimitErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=wait),
            ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=wait,
                                        error_types=[URLError, ConnectionResetError, http.client.RemoteDisconnected]),
        ]

    # sending -------------------------------------------------------------------------------------------
    def send(self, alert: Alert) -> str | None:
        """Post one alert; returns the message ``ts`` (None with a webhook). Raises DeliveryError."""
        text, blocks = format_message(alert)
        if self._webhook is not None:
            self._send_webhook(text, blocks)
            return None
        return self._post(alert, text, blocks)

    def _post(self, alert: Alert, text: str, blocks: list[Block]) -> str | None:
        assert self._post_client is not None
        args: dict[str, Any] = {
            "channel": self.channel, "text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False,
            "metadata": {"event_type": EVENT_TYPE, "event_payload": {"alert_key": metadata_key(alert.key)}},
        }
        started = datetime.now(UTC)
        attempt = 0
        while True:
            try:
                response = self._post_client.chat_postMessage(**args)
            except SlackApiError as exc:
                status, error = _status_and_error(exc)
                if error in _BLOCKS_REFUSED and args["blocks"]:
                    args["blocks"] = None  # Slack refused the layout: the text alone still informs
                    continue
                if status < 500 or attempt >= self.retries:
                    raise self._api_error("chat.postMessage", exc, may_have_posted=status >= 500) from None
                found = self._find_after_error(alert, started, exc)
                if found:
                    return found
                attempt += 1
                time.sleep(self.backoff * 2**attempt)
                continue
            except Exception as exc:  # noqa: BLE001 - every transport error becomes one DeliveryError line
                raise self._network_error("chat.postMessage", exc) from None
            self._channel_id = str(response.get("channel") or self._channel_id or "") or None
            ts = response.get("ts")
            return str(ts) if ts else None

    def _find_after_error(self, alert: Alert, started: datetime, exc: SlackApiError) -> str | None:
        """After a 5xx the message may exist: look before posting again (a failed lookup ends the send)."""
        try:
            return self._lookup(alert, started.timestamp() - 60)
        except DeliveryError:
            raise self._api_error("chat.postMessage", exc, may_have_posted=True) from None

    def _send_webhook(self, text: str, blocks: list[Block]) -> None:
        assert self._webhook is not None
        try:
            response = self._webhook.send(text=text, blocks=blocks, unfurl_links=False, unfurl_media=False)
        except Exception as exc:  # noqa: BLE001
            raise self._network_error("webhook", exc) from None
        status, body = response.status_code, str(response.body or "").strip()
        if status == 200 and body == "ok":
            return
        code = body if re.fullmatch(r"[a-z_]{1,60}", body) else ""
        if status == 200 or status >= 500:
            raise self._error(f"Slack webhook failed: HTTP {status} {code}".rstrip() + " (after retries); the "
                              "message may have been posted", definitely_not_sent=False, channel_down=True)
        raise self._refusal("webhook", status, code)

    # lookup --------------------------------------------------------------------------------------------
    def find_sent(self, alert: Alert, *, oldest: datetime) -> str | None:
        """The ``ts`` of this alert's message posted at or after ``oldest`` (naive means UTC), else None."""
        if not self.can_lookup:
            return None
        when = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        return self._lookup(alert, when.timestamp())

    def _lookup(self, alert: Alert, oldest: float) -> str | None:
        key = metadata_key(alert.key)
        channel = self._resolve_channel()
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"channel": channel, "oldest": f"{max(oldest, 0):.6f}", "limit": self.page_size,
                                    "include_all_metadata": True}
            if cursor:
                args["cursor"] = cursor
            page = self._read("conversations.history", args)
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                if meta.get("event_type") == EVENT_TYPE and (meta.get("event_payload") or {}).get("alert_key") == key:
                    return str(message.get("ts"))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    def _resolve_channel(self) -> str:
        """conversations.history takes a channel id: use the configured one, or look the name up once."""
        if self._channel_id:
            return self._channel_id
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"types": "public_channel,private_channel", "exclude_archived": True,
                                    "limit": 1000}
            if cursor:
                args["cursor"] = cursor
            page = self._read("conversations.list", args)
            for ch in page.get("channels") or []:
                if ch.get("name") == self.channel:
                    self._channel_id = str(ch["id"])
                    return self._channel_id
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                raise self._error(f"Slack channel #{self.channel} not found by conversations.list; set "
                                  "MONITOR_SLACK_CHANNEL to the channel id (C...)", definitely_not_sent=False,
                                  channel_down=True)

    def _read(self, method: str, args: Mapping[str, Any]) -> Mapping[str, Any]:
        assert self._read_client is not None
        try:
            response = self._read_client.api_call(method, http_verb="GET", params=dict(args))
        except SlackApiError as exc:
            raise self._api_error(method, exc, may_have_posted=False) from None
        except Exception as exc:  # noqa: BLE001
            raise self._network_error(method, exc) from None
        return response.data if isinstance(response.data, dict) else {}

    # errors --------------------------------------------------------------------------------------------
    def _error(self, message: str, *, definitely_not_sent: bool, channel_down: bool) -> DeliveryError:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return DeliveryError(message, definitely_not_sent=definitely_not_sent, channel_down=channel_down)

    def _api_error(self, method: str, exc: SlackApiError, *, may_have_posted: bool) -> DeliveryError:
        status, error = _status_and_error(exc)
        if status >= 500:
            tail = "; the message may have been posted" if may_have_posted else ""
            return self._error(f"Slack {method} failed: HTTP {status} after {self.retries} retries{tail}",
                               definitely_not_sent=not may_have_posted, channel_down=True)
        return self._refusal(method, status, error, needed=_needed(exc))

    def _refusal(self, method: str, status: int, error: str, *, needed: str = "") -> DeliveryError:
        """A 4xx or ``ok: false``: Slack did not post the message."""
        code = (f"{error} (HTTP {status})" if status != 200 else error) if error else f"HTTP {status}"
        if status == 429:
            hint = f"rate limited after {self.retries} retries; the next run retries"
        elif error == "missing_scope":
            hint = f"add the scope {needed or 'it names'} to the Slack app and reinstall it"
        elif error in _AUTH_ERRORS:
            hint = "check MONITOR_SLACK_TOKEN / MONITOR_SLACK_WEBHOOK_URL"
        elif error in _CHANNEL_ERRORS:
            hint = "check MONITOR_SLACK_CHANNEL and invite the app to the channel (/invite @app)"
        else:
            hint = "Slack refused this message"
        down = status == 429 or error in _AUTH_ERRORS or error in _CHANNEL_ERRORS or status in (401, 403, 404, 410)
        return self._error(f"Slack {method} failed: {code}: {hint}", definitely_not_sent=True, channel_down=down)

    def _network_error(self, method: str, exc: BaseException) -> DeliveryError:
        posting = method in ("chat.postMessage", "webhook")
        if isinstance(exc, URLError) and not hasattr(exc, "code"):  # raised before the request was written
            reason = exc.reason
            what = type(reason).__name__ if isinstance(reason, BaseException) else "URLError"
            detail = getattr(reason, "strerror", None) or what
            tail = "; nothing was sent" if posting else ""
            return self._error(f"Slack {method} failed: cannot connect ({detail}) after {self.retries} retries{tail}",
                               definitely_not_sent=True, channel_down=True)
        if isinstance(exc, TimeoutError):
            what = "timed out waiting for the answer"
        elif isinstance(exc, ConnectionError | http.client.HTTPException):
            what = f"connection lost after the request was sent ({type(exc).__name__})"
        else:
            what = f"unexpected {type(exc).__name__}"
        tail = "; the message may have been posted" if posting else ""
        return self._error(f"Slack {method} failed: {what}{tail}", definitely_not_sent=False, channel_down=True)


def _status_and_error(exc: SlackApiError) -> tuple[int, str]:
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or "")
    return int(response.status_code or 0), error if re.fullmatch(r"[a-z_]{1,60}", error) else ""


def _needed(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    needed = str(data.get("needed") or "")
    return needed if re.fullmatch(r"[a-z:._,]{1,80}", needed) else ""


def make_slack_notifier(*, token: str | None, channel: str | None, api_url: str, webhook_url: str | None,
                        retries: int, timeout: float = 30) -> SlackNotifier | None:
    """The Slack channel of the settings: bot token + channel, else webhook, else None (Slack not configured)."""
    if not re.match(r"https?://", api_url or ""):
        raise ConfigError("MONITOR_SLACK_API_URL must be an http(s) URL such as https://slack.com/api/")
    if webhook_url and not token and not re.match(r"https?://", webhook_url):
        raise ConfigError("MONITOR_SLACK_WEBHOOK_URL must be an https:// URL (from the app's Incoming Webhooks page)")
    if not token and not webhook_url:
        return None
    return SlackNotifier(token=token or None, channel=channel, api_url=api_url, webhook_url=webhook_url or None,
                         retries=retries, timeout=timeout)


__all__ = ["EVENT_TYPE", "SlackNotifier", "make_slack_notifier", "metadata_key"]
