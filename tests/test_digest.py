"""The weekly digest: data grouping, landscape, rendering (golden files), sending through a loopback SMTP server,
the digest table (pending, retried, preview), and the ``monitor digest`` command.

Golden files live in tests/golden/digest/; refresh them with ``UPDATE_GOLDEN=1 pytest tests/test_digest.py`` and
review the diff.
"""

from __future__ import annotations

import email.policy
import os
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.digest import send_digest
from monitor.digest_data import build_digest_data
from monitor.domain import Change, Event, EventKind, Publication
from monitor.errors import ConfigError
from monitor.notify.email import EmailNotifier, render_digest, render_html, render_text
from monitor.store.db import Store
from monitor.store.models import TrialRow
from tests import smtp_server as smtp
from tests.smtp_server import free_port

smtp_server = smtp.smtp_server  # the loopback SMTP fixture

GOLDEN = Path(__file__).parent / "golden" / "digest"
NOW = datetime(2026, 1, 12, 7, 0, tzinfo=UTC)  # Monday 08:00 in Europe/Paris
WEEK_AGO = NOW - timedelta(days=7)
TZ = "Europe/Paris"
SENDER = "Secretome monitor <monitor@example.org>"
RECIPIENTS = ["onco-team@example.org", "founder@example.com"]
HOSTILE = "Exosomes <script>alert(\"x\")</script> & \"MSC\" <!channel> for 'oral' mucositis"


def trial_row(nct_id: str, title: str, product_class: str, phase: str | None, status: str, *,
              has_results: bool = False, cancer: bool = True) -> TrialRow:
    return TrialRow(
        nct_id=nct_id, title=title, overall_status=status, phase=phase, product_class=product_class,
        cell_free=product_class in ("extracellular_vesicle", "cell_free_secretome"), cancer=cancer,
        has_results=has_results, state={}, classification={"product_class": product_class}, classifier_version="t",
        raw="{}", first_seen_at=WEEK_AGO, updated_at=WEEK_AGO,
    )


def ev(kind: EventKind, nct_id: str | None, days_ago: float, key: str = "", **payload: object) -> Event:
    return Event(kind=kind, key=key or f"{kind.value}:{nct_id}", created_at=NOW - timedelta(days=days_ago),
                 nct_id=nct_id, query="secretome-cancer", payload=payload)


def paper(pmid: str, title: str) -> Publication:
    return Publication(pmid=pmid, title=title, journal="J Extracell Vesicles", published_on="2026-01")


def seed(store: Store) -> None:
    """A week with every kind of news, a baseline poll, and an event before the period."""
    trials = [
        trial_row("NCT90000001", HOSTILE, "extracellular_vesicle", "PHASE1", "RECRUITING"),
        trial_row("NCT90000002", "Umbilical cord MSC secretome in triple-negative breast cancer",
                  "cell_free_secretome", "PHASE2", "COMPLETED", has_results=True),
        trial_row("NCT90000003", "Plasma exosome liquid biopsy in lung cancer", "biomarker", None,
                  "ACTIVE_NOT_RECRUITING"),
        trial_row("NCT90000004", "CAR-T cells with EV monitoring in lymphoma", "cell_based", "PHASE1/PHASE2",
                  "RECRUITING"),
        trial_row("NCT90000005", "Dendritic cell-derived exosomes in melanoma", "extracellular_vesicle", "PHASE2",
                  "ACTIVE_NOT_RECRUITING"),
        trial_row("NCT90000006", "MSC exosomes for radiation-induced xerostomia", "extracellular_vesicle", "PHASE1",
                  "NOT_YET_RECRUITING"),
        trial_row("NCT90000007", "Serum exosome miRNA in glioma", "biomarker", None, "RECRUITING"),
        trial_row("NCT90000008", "Engineered siRNA exosomes (iExosomes) in pancreatic cancer",
                  "extracellular_vesicle", "EARLY_PHASE1", "RECRUITING"),
    ]
    with store.transaction() as tx:
        for row in trials:
            tx.session.add(row)
        tx.save_publication(paper("41000001", "Secretome therapy in TNBC: a phase 2 trial"), efficacy=True,
                            evidence=[], seen_at=NOW - timedelta(days=1))
        tx.save_publication(paper("41000002", "DEX vaccination & <b>tumour</b> response"), efficacy=True,
                            evidence=[], seen_at=NOW - timedelta(days=1))
        tx.add_events([ev(EventKind.STATUS_CHANGED, "NCT90000003", 10, changes=[
            {"field": "overall_status", "old": "RECRUITING", "new": "ACTIVE_NOT_RECRUITING"}])])
        tx.add_events([ev(EventKind.NEW_TRIAL, "NCT90000006", 6), ev(EventKind.NEW_TRIAL, "NCT90000007", 6),
                       ev(EventKind.PUBLICATION_LINKED, "NCT90000006", 6, key="pl:6", pmid="39000001",
                          title="An old paper", how="databank")], baseline=True)
        tx.add_events([
            ev(EventKind.NEW_TRIAL, "NCT90000001", 5),
            ev(EventKind.NEW_TRIAL, "NCT90000008", 5),
            ev(EventKind.NEW_TRIAL, "NCT90000004", 4),
            ev(EventKind.RESULTS_POSTED, "NCT90000002", 3, results_first_posted_on="2026-01-08",
               efficacy_outcomes=["Objective response rate (RECIST 1.1)"], outcomes=[]),
            ev(EventKind.EFFICACY_REPORTED, "NCT90000002", 3, source="ctgov",
               efficacy_outcomes=["Objective response rate (RECIST 1.1)"]),
            ev(EventKind.PUBLICATION_LINKED, "NCT90000002", 2, key="pl:2", pmid="41000001",
               title="Secretome therapy in TNBC: a phase 2 trial", how="databank"),
            ev(EventKind.EFFICACY_REPORTED, "NCT90000005", 1, source="pubmed", pmid="41000002",
               title="DEX vaccination & <b>tumour</b> response", how="text_mention"),
            ev(EventKind.STATUS_CHANGED, "NCT90000004", 2, changes=[
                {"field": "overall_status", "old": "NOT_YET_RECRUITING", "new": "RECRUITING"}]),
            ev(EventKind.DESIGN_CHANGED, "NCT90000005", 2, changes=[{
                "field": "classification", "old": {"product_class": "biomarker", "cell_free": False},
                "new": {"product_class": "extracellular_vesicle", "cell_free": True}}]),
            ev(EventKind.SOURCE_FAILING, None, 1, key="sf:1", source="pubmed", query="secretome-cancer",
               failures=3, error="HTTP 429 API rate limit exceeded"),
        ])
        tx.add_changes([Change(nct_id="NCT90000005", field="classification",
                               old={"product_class": "biomarker", "cell_free": False},
                               new={"product_class": "extracellular_vesicle", "cell_free": True},
                               seen_at=NOW - timedelta(days=2))])


def add_trial_with_event(store: Store, nct_id: str, title: str, *, at: datetime) -> None:
    with store.transaction() as tx:
        tx.session.add(trial_row(nct_id, title, "cell_free_secretome", "PHASE1", "RECRUITING"))
        tx.add_events([Event(kind=EventKind.NEW_TRIAL, key=f"new_trial:{nct_id}", created_at=at, nct_id=nct_id)])


def notifier_for(server) -> EmailNotifier:
    return EmailNotifier(server.host, server.port, security="none", timeout=5)


def send(store: Store, notifier: EmailNotifier | None, *, now: datetime = NOW, **kw):
    return send_digest(store, notifier, now=now, sender=SENDER, recipients=RECIPIENTS, timezone=TZ, **kw)


def parts(message: EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; UPDATE_GOLDEN=1 rewrites it"


# --- data ---------------------------------------------------------------------------------------------------------
def test_events_are_grouped_by_kind_then_cell_free_then_phase(store):
    seed(store)
    data = build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ)
    assert [s.kind for s in data.sections] == ["efficacy_reported", "results_posted", "publication_linked",
                                               "new_trial", "status_changed", "design_changed"]
    new = next(s for s in data.sections if s.kind == "new_trial")
    assert [(g.label, g.cell_free) for g in new.groups] == [("Cell-free (EV / secretome)", True),
                                                            ("Other trials", False)]
    cell_free = new.groups[0]
    assert [(p.phase, [i.nct_id for i in p.items]) for p in cell_free.phases] == [
        ("Early phase 1", ["NCT90000008"]), ("Phase 1", ["NCT90000001"])]
    assert [i.nct_id for p in new.groups[1].phases for i in p.items] == ["NCT90000004"]
    assert [n.kind for n in data.source_notes] == ["Source failing"]
    assert "pubmed / secretome-cancer: 3 failed polls in a row" in data.source_notes[0].text


def test_every_new_trial_result_and_efficacy_trial_is_named_with_links(store):
    seed(store)
    data = build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ)
    named = {i.nct_id: i for s in data.sections if s.kind in ("new_trial", "results_posted", "efficacy_reported")
             for g in s.groups for p in g.phases for i in p.items}
    assert sorted(named) == ["NCT90000001", "NCT90000002", "NCT90000004", "NCT90000005", "NCT90000008"]
    assert named["NCT90000005"].title == "Dendritic cell-derived exosomes in melanoma"
    assert named["NCT90000005"].url == "https://clinicaltrials.gov/study/NCT90000005"
    [pub] = named["NCT90000005"].papers
    assert (pub.pmid, pub.url, pub.journal) == ("41000002", "https://pubmed.ncbi.nlm.nih.gov/41000002/",
                                                "J Extracell Vesicles")


def test_baseline_events_are_the_starting_landscape_not_news(store):
    seed(store)
    data = build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ)
    in_news = {i.nct_id for s in data.sections for g in s.groups for p in g.phases for i in p.items}
    assert {"NCT90000006", "NCT90000007"}.isdisjoint(in_news)
    assert data.starting is not None
    assert (data.starting.trials, data.starting.cell_free, data.starting.papers) == (2, 1, 1)
    assert [i.nct_id for i in data.starting.cell_free_trials] == ["NCT90000006"]
    assert "1 new trial" not in data.summary and "3 new trials" in data.summary


def test_landscape_counts_class_by_phase_status_results_and_changes(store):
    seed(store)
    land = build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ).landscape
    assert (land.total, land.cell_free, land.cancer) == (8, 5, 8)
    assert land.phases == ("Early 1", "Ph 1", "Ph 1/2", "Ph 2", "None")
    rows = {r.label: r.counts for r in land.rows}
    assert rows["Extracellular vesicles / exosomes"] == (1, 2, 0, 1, 0)
    assert rows["Secretome (cell-free)"] == (0, 0, 0, 1, 0)
    assert rows["Biomarker only"] == (0, 0, 0, 0, 2)
    assert land.phase_totals == (1, 2, 1, 2, 2)
    assert dict(land.statuses) == {"Recruiting": 4, "Active, not recruiting": 2, "Completed": 1,
                                   "Not yet recruiting": 1}
    assert [i.nct_id for i in land.with_results] == ["NCT90000002"]
    assert land.changes == ("+3 trials (2 cell-free)", "newly cell-free: NCT90000005",
                            "+1 with results: NCT90000002", "+2 with efficacy evidence: NCT90000002, NCT90000005",
                            "1 status change")
    bars = {b.label: (b.count, b.percent) for b in land.bars}
    assert bars["Extracellular vesicles / exosomes"] == (4, 100) and bars["Other"] == (0, 0)


def test_events_outside_the_period_are_left_out(store):
    seed(store)
    data = build_digest_data(store, since=NOW - timedelta(days=1, hours=12), until=NOW, timezone=TZ)
    assert [s.kind for s in data.sections] == ["efficacy_reported"]
    assert data.starting is None


# --- rendering ------------------------------------------------------------------------------------------------
def test_golden_text_and_html(store):
    seed(store)
    data = build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ)
    check_golden("week.txt", render_text(data))
    check_golden("week.html", render_html(data))


def test_golden_empty_week(store):
    with store.transaction() as tx:
        tx.session.add(trial_row("NCT90000002", "Umbilical cord MSC secretome in breast cancer",
                                "cell_free_secretome", "PHASE2", "COMPLETED", has_results=True))
    data = build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ)
    assert data.is_empty and data.summary == "nothing new"
    check_golden("empty.txt", render_text(data))


def test_hostile_registry_text_is_escaped_in_html(store):
    seed(store)
    html = render_html(build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ))
    assert "<script" not in html.lower() and "<!channel>" not in html and "<b>tumour" not in html
    assert ("Exosomes &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;MSC&#34; &lt;!channel&gt; "
            "for &#39;oral&#39; mucositis") in html
    assert "DEX vaccination &amp; &lt;b&gt;tumour&lt;/b&gt; response" in html
    assert not re.search(r"\son\w+=", html), "no event-handler attributes"


def test_html_is_mail_safe(store):
    seed(store)
    html = render_html(build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ))
    assert "<style" not in html and "<img" not in html and "<link" not in html and "class=" not in html
    assert 'role="presentation"' in html and "max-width:640px" in html
    assert re.search(r'<table role="presentation" width="100%"[^>]*><tr><td height="16" bgcolor="#0f766e"', html)


def test_render_digest_is_multipart_with_headers(store):
    seed(store)
    data = build_digest_data(store, since=WEEK_AGO, until=NOW, timezone=TZ)
    message = render_digest(data, sender=SENDER, recipients=RECIPIENTS)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == "<digest.20260105T070000Z.20260112T070000Z@example.org>"


# --- sending and recording ------------------------------------------------------------------------------------
def test_send_digest_delivers_one_message_with_headers_parts_and_links(store, smtp_server):
    seed(store)
    report = send(store, notifier_for(smtp_server))
    assert report.sent and report.ok and report.period_start == WEEK_AGO and report.period_end == NOW
    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "monitor@example.org" and envelope.rcpt_tos == RECIPIENTS
    [message] = smtp_server.messages
    assert message["From"] == SENDER
    assert [a.addr_spec for a in message["To"].addresses] == RECIPIENTS
    assert message["Subject"] == ("Secretome/EV trial digest, week of 5 Jan 2026: 2 efficacy reported, "
                                  "1 results posted, 3 new trials, 1 paper linked, 2 other changes, 1 source notice")
    assert message["Date"].datetime == NOW
    assert re.fullmatch(r"<digest\.\S+@example\.org>", message["Message-ID"])
    text, html = parts(message)
    assert text.index("== EFFICACY REPORTED") < text.index("== RESULTS POSTED") < text.index("== PAPERS LINKED") \
        < text.index("== NEW TRIALS") < text.index("== STATUS CHANGES") < text.index("== STARTING LANDSCAPE") \
        < text.index("== LANDSCAPE NOW")
    assert HOSTILE in text  # plain text carries it verbatim; only HTML needs escaping
    assert "<script" not in html.lower()
    for url in ("https://clinicaltrials.gov/study/NCT90000001", "https://clinicaltrials.gov/study/NCT90000002",
                "https://pubmed.ncbi.nlm.nih.gov/41000001/", "https://pubmed.ncbi.nlm.nih.gov/41000002/"):
        assert url in text and f'href="{url}"' in html
    last = store.last_sent_digest()
    assert last is not None and last.recipients == RECIPIENTS and store.pending_digests() == []


def test_next_digest_starts_where_the_last_one_stopped(store, smtp_server):
    seed(store)
    send(store, notifier_for(smtp_server))
    add_trial_with_event(store, "NCT90000020", "Placental secretome gel for oral mucositis",
                         at=NOW + timedelta(days=2))
    report = send(store, notifier_for(smtp_server), now=NOW + timedelta(days=7))
    assert report.period_start == NOW and report.events == 1
    text, _ = parts(smtp_server.messages[1])
    assert "Placental secretome gel" in text and "== RESULTS POSTED" not in text
    assert "week of 12 Jan 2026: 1 new trial" in smtp_server.messages[1]["Subject"]


def test_empty_week_still_sends_a_short_nothing_new_digest_with_the_landscape(store, smtp_server):
    seed(store)
    send(store, notifier_for(smtp_server))
    report = send(store, notifier_for(smtp_server), now=NOW + timedelta(days=7))
    assert report.sent and report.events == 0
    message = smtp_server.messages[1]
    assert message["Subject"].endswith(": nothing new")
    text, html = parts(message)
    assert "Nothing new this week" in text and "Nothing new this week" in html
    assert "8 trials tracked: 5 cell-free" in text and "Class x phase" in text


def test_failed_send_stays_pending_and_the_retry_covers_the_whole_period(store, smtp_server):
    seed(store)
    closed = EmailNotifier("127.0.0.1", free_port(), security="none", timeout=5)
    failed = send(store, closed)
    assert not failed.sent and not failed.ok and "127.0.0.1" in (failed.error or "")
    [pending] = store.pending_digests()
    assert pending.status == "failed" and pending.last_error == failed.error
    assert (pending.period_start.replace(tzinfo=UTC), pending.period_end.replace(tzinfo=UTC)) == (WEEK_AGO, NOW)
    assert store.last_sent_digest() is None

    add_trial_with_event(store, "NCT90000020", "Placental secretome gel for oral mucositis",
                         at=NOW + timedelta(days=3))
    retry = send(store, notifier_for(smtp_server), now=NOW + timedelta(days=7))
    assert retry.sent and retry.period_start == WEEK_AGO and retry.digest_id == pending.id
    text, _ = parts(smtp_server.messages[0])
    assert "Placental secretome gel" in text and HOSTILE in text and "== EFFICACY REPORTED" in text
    assert store.pending_digests() == []
    last = store.last_sent_digest()
    assert last is not None and last.id == pending.id and last.period_end.replace(tzinfo=UTC) == NOW + timedelta(7)


def test_server_refusing_the_message_keeps_the_digest_pending(store, smtp_server):
    seed(store)
    smtp_server.refuse_data = "554 5.7.1 Message rejected"
    report = send(store, notifier_for(smtp_server))
    assert not report.sent and "554 5.7.1 Message rejected" in (report.error or "")
    assert [d.status for d in store.pending_digests()] == ["failed"]
    smtp_server.refuse_data = None
    assert send(store, notifier_for(smtp_server), now=NOW + timedelta(hours=1)).period_start == WEEK_AGO


def test_preview_writes_nothing_and_returns_the_html(store, smtp_server):
    seed(store)
    report = send(store, None, preview=True)
    assert report.preview and report.ok and not report.sent
    assert report.html is not None and report.html.startswith("<!DOCTYPE html>") and "NCT90000001" in report.html
    assert store.pending_digests() == [] and store.last_sent_digest() is None
    assert smtp_server.envelopes == []


def test_since_overrides_the_start_and_a_first_digest_covers_seven_days(store):
    seed(store)
    assert send(store, None, preview=True).period_start == WEEK_AGO
    report = send(store, None, preview=True, since=NOW - timedelta(days=2))
    assert report.period_start == NOW - timedelta(days=2) and "NCT90000001" not in (report.html or "")


def test_sending_without_server_or_recipients_is_a_config_error(store, smtp_server):
    with pytest.raises(ConfigError, match="MONITOR_SMTP_HOST"):
        send(store, None)
    with pytest.raises(ConfigError, match="MONITOR_DIGEST_TO"):
        send_digest(store, notifier_for(smtp_server), now=NOW, sender=SENDER, recipients=[], timezone=TZ)
    with pytest.raises(ConfigError, match="MONITOR_TIMEZONE"):
        send_digest(store, None, now=NOW, preview=True, sender=SENDER, recipients=RECIPIENTS, timezone="Mars/Base")
    assert store.pending_digests() == []


# --- the command ------------------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"MONITOR_DATABASE_URL": db_url, "MONITOR_QUERIES_DIR": str(tmp_path / "queries"),
            "MONITOR_DIGEST_TO": ",".join(RECIPIENTS), "MONITOR_DIGEST_FROM": SENDER, "MONITOR_TIMEZONE": TZ}


def invoke(args: list[str], env: dict[str, str]):
    from monitor.cli import cli

    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_cli_digest_preview_to_stdout_and_file_sends_nothing(store, cli_env, tmp_path):
    seed(store)
    result = invoke(["digest", "--preview", "--since", "2026-01-05"], cli_env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>") and "NCT90000001" in result.stdout
    target = tmp_path / "preview.html"
    result = invoke(["digest", "--preview", str(target)], cli_env)
    assert result.exit_code == 0 and target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert store.pending_digests() == [] and store.last_sent_digest() is None


def test_cli_digest_sends_and_exit_codes(store, cli_env, smtp_server):
    seed(store)
    assert invoke(["digest"], cli_env).exit_code == 2  # no MONITOR_SMTP_HOST
    smtp_env = {"MONITOR_SMTP_HOST": "127.0.0.1", "MONITOR_SMTP_SECURITY": "none"}
    result = invoke(["digest"], {**cli_env, **smtp_env, "MONITOR_SMTP_PORT": str(free_port())})
    assert result.exit_code == 1 and "NOT sent" in result.output and "\n" not in result.output.strip()
    assert len(store.pending_digests()) == 1
    result = invoke(["digest", "--since", "2026-01-05"],
                    {**cli_env, **smtp_env, "MONITOR_SMTP_PORT": str(smtp_server.port)})
    assert result.exit_code == 0, result.output
    assert "sent to 2 recipients" in result.output
    assert store.pending_digests() == [] and len(smtp_server.messages) == 1
    assert "Dendritic cell-derived exosomes" in parts(smtp_server.messages[0])[0]
    assert smtp_server.messages[0]["To"].addresses[1].addr_spec == RECIPIENTS[1]
    assert email.policy.default  # parsed with the modern policy (EmailMessage, header objects)
