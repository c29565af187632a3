"""The weekly digest by e-mail: the digest's data model, pure ``render_digest()`` and ``EmailNotifier``.

Imports domain and errors only (plus jinja2, lazily); the only module of monitor that imports smtplib.
"""

from __future__ import annotations

import base64
import functools
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from monitor.errors import ConfigError, NotifyError

if TYPE_CHECKING:
    import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
SECURITY_MODES = ("none", "starttls", "ssl")


# --- the digest's data model (built by monitor.digest, rendered here) ------------------------------------------
@dataclass(frozen=True)
class PaperLine:
    """A PubMed article in the digest."""

    pmid: str
    title: str
    url: str
    journal: str = ""
    published_on: str = ""


@dataclass(frozen=True)
class TrialItem:
    """One trial in one section: what happened to it (``details``) and the papers involved."""

    nct_id: str
    title: str
    url: str
    phase: str
    status: str
    product_class: str
    cell_free: bool
    details: tuple[str, ...] = ()
    papers: tuple[PaperLine, ...] = ()


@dataclass(frozen=True)
class PhaseGroup:
    phase: str
    items: tuple[TrialItem, ...]


@dataclass(frozen=True)
class ClassGroup:
    """Cell-free (EV / secretome) trials or the others, each split by phase."""

    label: str
    cell_free: bool
    phases: tuple[PhaseGroup, ...]

    @property
    def count(self) -> int:
        return sum(len(p.items) for p in self.phases)


@dataclass(frozen=True)
class KindSection:
    """The period's events of one kind, one item per trial."""

    kind: str
    title: str
    note: str
    groups: tuple[ClassGroup, ...]

    @property
    def count(self) -> int:
        return sum(g.count for g in self.groups)


@dataclass(frozen=True)
class SourceNote:
    """A source_failing / source_recovered event (not about a trial)."""

    kind: str
    text: str
    at: str


@dataclass(frozen=True)
class Bar:
    """One bar of the landscape chart; ``percent`` of the widest bar (0-100)."""

    label: str
    count: int
    percent: int
    cell_free: bool


@dataclass(frozen=True)
class LandscapeRow:
    label: str
    cell_free: bool
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True)
class Landscape:
    """Every tracked trial now: class x phase, status, results, and what changed in the period."""

    total: int
    cell_free: int
    cancer: int
    phases: tuple[str, ...]
    rows: tuple[LandscapeRow, ...]
    phase_totals: tuple[int, ...]
    statuses: tuple[tuple[str, int], ...]
    bars: tuple[Bar, ...]
    with_results: tuple[TrialItem, ...]
    changes: tuple[str, ...]


@dataclass(frozen=True)
class StartingLandscape:
    """What the first (baseline) poll of a query found in the period: context, not news."""

    trials: int
    cell_free: int
    papers: int
    cell_free_trials: tuple[TrialItem, ...]


@dataclass(frozen=True)
class DigestData:
    """Everything the digest shows; dates are already in the configured timezone."""

    period_start: datetime
    period_end: datetime
    timezone: str
    period_label: str
    week_label: str
    summary: str
    sections: tuple[KindSection, ...]
    source_notes: tuple[SourceNote, ...]
    starting: StartingLandscape | None
    landscape: Landscape

    @property
    def is_empty(self) -> bool:
        return not self.sections and not self.source_notes

    @property
    def subject(self) -> str:
        return f"Secretome/EV trial digest, week of {self.week_label}: {self.summary}"


# --- rendering ----------------------------------------------------------------------------------------------------
@functools.cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    import jinja2

    loader = jinja2.FileSystemLoader(TEMPLATES_DIR)
    common: dict[str, Any] = {"loader": loader, "undefined": jinja2.StrictUndefined, "keep_trailing_newline": True}
    html = jinja2.Environment(autoescape=True, **common)
    text = jinja2.Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True, **common)
    return html, text


def render_html(data: DigestData) -> str:
    """The HTML body (all registry text escaped by Jinja2's autoescape)."""
    return _environments()[0].get_template("digest.html.j2").render(d=data)


def render_text(data: DigestData) -> str:
    """The plain-text body."""
    return _environments()[1].get_template("digest.txt.j2").render(d=data)


def render_digest(data: DigestData, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A multipart/alternative message (text, then HTML); pure: the same data gives the same message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = data.subject
    message["Date"] = format_datetime(data.period_end)
    start, end = (dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") for dt in (data.period_start, data.period_end))
    message["Message-ID"] = f"<digest.{start}.{end}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_text(data))
    message.add_alternative(render_html(data), subtype="html")
    return message


# --- delivery -----------------------------------------------------------------------------------------------------
class EmailNotifier:
    """Sends a message through an SMTP server.

    ``security`` is ``none`` (plain SMTP, e.g. port 25 or a local relay), ``starttls`` (port 587: the session is
    upgraded to TLS before login; a server that does not offer STARTTLS is an error, never a silent downgrade) or
    ``ssl`` (port 465: TLS from the first byte). Login happens only when ``user`` is set. Failures raise one
    ``NotifyError`` line that names the server and never contains the password.
    """

    def __init__(self, host: str, port: int, *, security: str = "starttls", user: str | None = None,
                 password: str | None = None, timeout: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if security not in SECURITY_MODES:
            raise ConfigError(f"setting MONITOR_SMTP_SECURITY is invalid: {security!r} (use none, starttls or ssl)")
        self.host = host
        self.port = port
        self.security = security
        self.user = user or None
        self._password = password or ""
        self.timeout = timeout
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"EmailNotifier({self.host!r}, {self.port}, security={self.security!r}, user={self.user!r})"

    def send(self, message: EmailMessage) -> list[str]:
        """Deliver ``message`` to its To/Cc recipients; returns the addresses the server refused (some, not all)."""
        try:
            with self._connect() as smtp:
                if self.security == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        raise NotifyError(f"SMTP server {self.host}:{self.port} does not offer STARTTLS "
                                          "(set MONITOR_SMTP_SECURITY=ssl or none if that is intended)")
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self._password)
                refused = smtp.send_message(message)
        except NotifyError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(f"SMTP server {self.host}:{self.port} refused the login of {self.user!r}: "
                              f"{self._describe(exc)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"cannot send e-mail through {self.host}:{self.port} ({self.security}): "
                              f"{self._describe(exc)}") from None
        return sorted(refused)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _describe(self, exc: BaseException) -> str:
        """One line about ``exc`` with the password (and its AUTH encodings) removed."""
        if isinstance(exc, smtplib.SMTPResponseException):
            reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            text = f"{exc.smtp_code} {reply}"
        elif isinstance(exc, smtplib.SMTPRecipientsRefused):
            text = "every recipient was refused: " + ", ".join(sorted(exc.recipients))
        else:
            text = str(exc) or type(exc).__name__
        text = " ".join(text.split())
        for secret in self._secret_forms():
            text = text.replace(secret, "***")
        return text[:300]

    def _secret_forms(self) -> list[str]:
        if not self._password:
            return []
        raw = self._password.encode()
        plain = f"\0{self.user or ''}\0{self._password}".encode()
        forms = [self._password, base64.b64encode(raw).decode(), base64.b64encode(plain).decode()]
        return [f for f in forms if f]


class SmtpSettings(Protocol):
    """The settings ``make_email_notifier`` reads (``monitor.config.Settings`` has them)."""

    @property
    def smtp_host(self) -> str | None: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_security(self) -> str: ...
    @property
    def smtp_user(self) -> str | None: ...
    @property
    def smtp_password(self) -> Any: ...
    @property
    def smtp_timeout(self) -> float: ...


def make_email_notifier(settings: SmtpSettings) -> EmailNotifier | None:
    """The notifier for the configured SMTP server; None when ``MONITOR_SMTP_HOST`` is not set."""
    if not settings.smtp_host:
        return None
    secret = settings.smtp_password
    password = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
    return EmailNotifier(settings.smtp_host, settings.smtp_port, security=settings.smtp_security,
                         user=settings.smtp_user, password=password, timeout=settings.smtp_timeout)
