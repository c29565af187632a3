"""EmailNotifier against a loopback aiosmtpd server: plain, login, refusals, closed port, security options."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import load_settings
from monitor.errors import ConfigError, NotifyError
from monitor.notify.email import EmailNotifier, make_email_notifier
from tests import smtp_server as smtp
from tests.smtp_server import LOGIN_PASSWORD, LOGIN_USER, free_port

smtp_server, smtp_login_server = smtp.smtp_server, smtp.smtp_login_server  # the loopback SMTP fixtures


def message(*recipients: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "monitor@example.org"
    msg["To"] = ", ".join(recipients or ("team@example.org",))
    msg["Subject"] = "test"
    msg.set_content("hello")
    return msg


def test_send_plain_smtp_delivers_to_every_recipient(smtp_server):
    notifier = EmailNotifier(smtp_server.host, smtp_server.port, security="none", timeout=5)
    refused = notifier.send(message("a@example.org", "b@example.org"))
    assert refused == []
    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "monitor@example.org"
    assert envelope.rcpt_tos == ["a@example.org", "b@example.org"]
    assert smtp_server.messages[0]["Subject"] == "test"


def test_send_with_login(smtp_login_server):
    notifier = EmailNotifier(smtp_login_server.host, smtp_login_server.port, security="none", user=LOGIN_USER,
                             password=LOGIN_PASSWORD, timeout=5)
    notifier.send(message())
    assert len(smtp_login_server.envelopes) == 1


def test_wrong_password_is_one_line_without_the_password(smtp_login_server):
    secret = "hunter2-wrong-SECRET"
    notifier = EmailNotifier(smtp_login_server.host, smtp_login_server.port, security="none", user=LOGIN_USER,
                             password=secret, timeout=5)
    with pytest.raises(NotifyError) as info:
        notifier.send(message())
    text = str(info.value)
    assert "\n" not in text and secret not in text and "refused the login" in text and LOGIN_USER in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert secret not in repr(notifier)
    assert smtp_login_server.envelopes == []


def test_server_requiring_login_refuses_anonymous_mail(smtp_login_server):
    notifier = EmailNotifier(smtp_login_server.host, smtp_login_server.port, security="none", timeout=5)
    with pytest.raises(NotifyError, match="530"):
        notifier.send(message())


def test_refused_message_raises_notify_error(smtp_server):
    smtp_server.refuse_data = "554 5.7.1 Message rejected as spam"
    notifier = EmailNotifier(smtp_server.host, smtp_server.port, security="none", timeout=5)
    with pytest.raises(NotifyError, match=r"554 5\.7\.1 Message rejected as spam"):
        notifier.send(message())


def test_some_recipients_refused_is_reported_not_raised(smtp_server):
    smtp_server.refuse_rcpt.add("gone@example.org")
    notifier = EmailNotifier(smtp_server.host, smtp_server.port, security="none", timeout=5)
    assert notifier.send(message("gone@example.org", "ok@example.org")) == ["gone@example.org"]
    assert smtp_server.envelopes[0].rcpt_tos == ["ok@example.org"]


def test_every_recipient_refused_raises(smtp_server):
    smtp_server.refuse_rcpt.add("gone@example.org")
    notifier = EmailNotifier(smtp_server.host, smtp_server.port, security="none", timeout=5)
    with pytest.raises(NotifyError, match="every recipient was refused: gone@example.org"):
        notifier.send(message("gone@example.org"))


def test_closed_port_is_one_line_naming_the_server():
    port = free_port()
    notifier = EmailNotifier("127.0.0.1", port, security="none", user="u", password="p4ssw0rd-x", timeout=5)
    with pytest.raises(NotifyError) as info:
        notifier.send(message())
    assert f"127.0.0.1:{port}" in str(info.value) and "\n" not in str(info.value)
    assert "p4ssw0rd-x" not in str(info.value)


# TLS: the `cryptography` package is not installed, so no certificate can be made for a TLS test server. These
# tests check the option handling up to the connection: starttls never silently downgrades, ssl speaks TLS first.
def test_starttls_against_a_server_without_starttls_fails_instead_of_sending_in_clear(smtp_server):
    notifier = EmailNotifier(smtp_server.host, smtp_server.port, security="starttls", user="u", password="p",
                             timeout=5)
    with pytest.raises(NotifyError, match="does not offer STARTTLS"):
        notifier.send(message())
    assert smtp_server.envelopes == []


def test_ssl_against_a_plain_server_fails_in_the_handshake(smtp_server):
    notifier = EmailNotifier(smtp_server.host, smtp_server.port, security="ssl", timeout=5)
    with pytest.raises(NotifyError, match=rf"127\.0\.0\.1:{smtp_server.port} \(ssl\)"):
        notifier.send(message())
    assert smtp_server.envelopes == []


def test_unknown_security_is_a_config_error():
    with pytest.raises(ConfigError, match="MONITOR_SMTP_SECURITY"):
        EmailNotifier("127.0.0.1", 25, security="tls")


def test_make_email_notifier_from_settings():
    assert make_email_notifier(load_settings()) is None
    settings = load_settings(smtp_host="127.0.0.1", smtp_port=2525, smtp_security="none", smtp_user="bot",
                             smtp_password="s3cret-value", smtp_timeout=7)
    notifier = make_email_notifier(settings)
    assert notifier is not None
    assert (notifier.host, notifier.port, notifier.security, notifier.user, notifier.timeout) == (
        "127.0.0.1", 2525, "none", "bot", 7)
    assert "s3cret-value" not in repr(notifier)


# --- rendering: escaping is a property of the template, for any registry text ----------------------------------
def digest_with_title(title: str):
    from datetime import UTC, datetime

    from monitor.notify.email import (
        ClassGroup,
        DigestData,
        KindSection,
        Landscape,
        PhaseGroup,
        TrialItem,
    )

    item = TrialItem(nct_id="NCT90000001", title=title, url="https://clinicaltrials.gov/study/NCT90000001",
                     phase="Phase 1", status="Recruiting", product_class=title, cell_free=True, details=(title,))
    section = KindSection("new_trial", "New trials", "", (ClassGroup("Cell-free", True, (PhaseGroup("Phase 1",
                                                                                                     (item,)),)),))
    landscape = Landscape(total=1, cell_free=1, cancer=1, phases=("Ph 1",), rows=(), phase_totals=(1,), statuses=(),
                          bars=(), with_results=(item,), changes=(title,))
    at = datetime(2026, 1, 5, tzinfo=UTC)
    return DigestData(period_start=at, period_end=at, timezone="UTC", period_label="p", week_label="w",
                      summary="1 new trial", sections=(section,), source_notes=(), starting=None, landscape=landscape)


@given(st.text(max_size=60))
@settings(max_examples=60, deadline=None)
def test_any_registry_text_is_escaped_in_the_html(text):
    from markupsafe import escape

    from monitor.notify.email import render_html, render_text

    title = f"<zq{text}\"'&"
    html = render_html(digest_with_title(title))
    assert "<zq" not in html
    assert html.count(str(escape(title))) >= 4
    assert title in render_text(digest_with_title(title))
