"""A loopback SMTP server for tests: aiosmtpd ``Controller`` on 127.0.0.1 and a free port, collecting envelopes.

    from tests.smtp_server import smtp_server, smtp_login_server, free_port  # noqa: F401 (fixtures)

    def test_x(smtp_server):
        ... send to smtp_server.host / smtp_server.port ...
        [message] = smtp_server.messages          # parsed with policy=email.policy.default

``smtp_server`` speaks plain SMTP (no STARTTLS, no AUTH). ``smtp_login_server`` offers AUTH PLAIN/LOGIN and
accepts only ``LOGIN_USER`` / ``LOGIN_PASSWORD``. ``server.refuse_data = "554 5.7.1 ..."`` makes the server
refuse every message; ``server.refuse_rcpt = {"x@example.org"}`` refuses those recipients.
TLS variants are not provided: the ``cryptography`` package (to make a self-signed certificate) is not installed.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

LOGIN_USER = "digest-bot"
LOGIN_PASSWORD = "pa55-w0rd-SECRET"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picked it a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RecordingHandler:
    """aiosmtpd handler: keeps every accepted envelope; can refuse messages or recipients."""

    envelopes: list[Envelope] = field(default_factory=list)
    refuse_data: str | None = None
    refuse_rcpt: set[str] = field(default_factory=set)
    require_auth: bool = False

    async def handle_MAIL(self, server: Any, session: Any, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse_rcpt:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler

    @property
    def envelopes(self) -> list[Envelope]:
        return self.handler.envelopes

    @property
    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.original_content or b"", policy=email.policy.default)  # type: ignore[misc]
                for e in self.handler.envelopes]

    @property
    def refuse_data(self) -> str | None:
        return self.handler.refuse_data

    @refuse_data.setter
    def refuse_data(self, value: str | None) -> None:
        self.handler.refuse_data = value

    @property
    def refuse_rcpt(self) -> set[str]:
        return self.handler.refuse_rcpt


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == LOGIN_USER.encode()
          and auth_data.password == LOGIN_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def _serve(*, require_auth: bool = False, **options: Any) -> Iterator[SmtpServer]:
    # aiosmtpd warns (UserWarning, on every connection) when auth_required=True without TLS, and the test
    # suite turns warnings into errors; so AUTH is offered but the handler itself refuses anonymous mail.
    handler = RecordingHandler(require_auth=require_auth)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP on 127.0.0.1:<free port>; no AUTH, no STARTTLS."""
    yield from _serve()


@pytest.fixture
def smtp_login_server() -> Iterator[SmtpServer]:
    """SMTP with AUTH (PLAIN, LOGIN) over plain TCP; only LOGIN_USER / LOGIN_PASSWORD get in."""
    yield from _serve(require_auth=True, authenticator=_authenticator, auth_require_tls=False)
