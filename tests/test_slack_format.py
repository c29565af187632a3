"""format_message / escape_text: golden Block Kit output per alert kind, escaping of hostile text, Slack limits.

Golden files live in tests/golden/slack/; rewrite them with ``UPDATE_GOLDEN=1 pytest tests/test_slack_format.py``
and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from monitor.domain import Alert, Event, EventKind
from monitor.notify.slack_blocks import format_message
from monitor.notify.slack_mrkdwn import escape_text

GOLDEN = Path(__file__).parent / "golden" / "slack"
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
NCT = "NCT05000000"
HOSTILE = "<!channel> <@U123> <https://evil.example|click> &amp; *bold* `code` ~strike~ _it_ <!here>"
OUR_LINK = re.compile(r"<https://(clinicaltrials\.gov/study/|pubmed\.ncbi\.nlm\.nih\.gov/)[^<>|\s]*\|[^<>]*>")


def trial_card(**changes: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "nct_id": NCT,
        "title": "Engineered exosomes with KRAS G12D siRNA (iExosomes) in metastatic pancreatic cancer",
        "url": f"https://clinicaltrials.gov/study/{NCT}",
        "product_class": "extracellular_vesicle", "cell_free": True, "engineered": True, "source": "msc_perinatal",
        "phase": "PHASE1/PHASE2", "status": "ACTIVE_NOT_RECRUITING", "sponsor": "M.D. Anderson Cancer Center",
        "cancer": True, "cancer_types": ["pancreatic"],
        "evidence": {
            "product_class": [{"field": "interventions[0].name", "words": "iExosomes"}],
            "cell_free": [{"field": "interventions[0].description", "words": "exosomes derived from MSC"}],
            "engineered": [{"field": "interventions[0].description", "words": "loaded with KRAS G12D siRNA"}],
            "source": [{"field": "interventions[0].description", "words": "umbilical cord"}],
        },
        "overridden": [],
        "publications": [{"pmid": "39000001", "title": "iExosomes phase I",
                          "url": "https://pubmed.ncbi.nlm.nih.gov/39000001/"}],
    }
    card.update(changes)
    return card


def event(kind: EventKind, payload: Mapping[str, Any] | None = None, *, nct_id: str | None = NCT,
          key: str | None = None) -> Event:
    return Event(kind=kind, key=key or f"{kind.value}:{nct_id}", created_at=NOW, nct_id=nct_id,
                 query="secretome-cancer", payload=dict(payload or {}))


def alert(*events: Event, trial: Mapping[str, Any] | None = None, nct_id: str | None = NCT, key: str | None = None,
          baseline: bool = False, alert_id: int = 1) -> Alert:
    return Alert(id=alert_id, key=key or "|".join(e.key for e in events) or "baseline:secretome-cancer",
                 nct_id=nct_id, query="secretome-cancer", events=tuple(events),
                 trial=dict(trial_card() if trial is None else trial), status="pending", created_at=NOW,
                 baseline_summary=baseline)


RESULTS = {"results_first_posted_on": "2026-11-20", "efficacy_outcomes": ["Objective response rate (RECIST 1.1)"],
           "outcomes": [{"measure": "Maximum tolerated dose", "kind": "safety", "type": "PRIMARY"},
                        {"measure": "Objective response rate (RECIST 1.1)", "kind": "efficacy", "type": "SECONDARY"},
                        {"measure": "Exosome uptake in tumour biopsies", "kind": "pharmacokinetic",
                         "type": "SECONDARY"}]}
PUBMED_EFFICACY = {"source": "pubmed", "pmid": "39000002", "title": "Exosome therapy shrinks pancreatic tumours",
                   "url": "https://pubmed.ncbi.nlm.nih.gov/39000002/",
                   "evidence": ["partial response in 3 of 12 patients", "disease control rate"]}


def sample_alerts() -> dict[str, Alert]:
    """One alert of each kind (shared with the notifier and delivery tests)."""
    return {
        "efficacy_pubmed": alert(event(EventKind.EFFICACY_REPORTED, PUBMED_EFFICACY)),
        "efficacy_with_results": alert(
            event(EventKind.RESULTS_POSTED, RESULTS),
            event(EventKind.EFFICACY_REPORTED, {"source": "ctgov", "efficacy_outcomes": RESULTS["efficacy_outcomes"]}),
        ),
        "efficacy_ctgov": alert(event(EventKind.EFFICACY_REPORTED,
                                      {"source": "ctgov", "efficacy_outcomes": ["Overall survival at 12 months"]})),
        "results_posted": alert(event(EventKind.RESULTS_POSTED, {**RESULTS, "efficacy_outcomes": [], "outcomes": [
            {"measure": "Incidence of treatment-emergent adverse events", "kind": "safety", "type": "PRIMARY"}]})),
        "results_submitted": alert(event(EventKind.RESULTS_SUBMITTED,
                                         {"results_submission": "submitted 2026-11-02, in QC review"})),
        "publication_linked": alert(event(EventKind.PUBLICATION_LINKED, {
            "pmid": "39000003", "title": "Design of a phase I/II trial of MSC secretome", "how": "databank",
            "url": "https://pubmed.ncbi.nlm.nih.gov/39000003/"})),
        "new_trial_cell_free": alert(event(EventKind.NEW_TRIAL)),
        "new_trial_other": alert(event(EventKind.NEW_TRIAL), trial=trial_card(
            product_class="biomarker", cell_free=False, engineered=False, source="unknown", phase=None,
            status="RECRUITING", evidence={"product_class": [{"field": "primaryPurpose", "words": "DIAGNOSTIC"}]},
            overridden=["cancer"], publications=[])),
        "status_changed": alert(event(EventKind.STATUS_CHANGED, {"changes": [
            {"field": "overall_status", "old": "RECRUITING", "new": "TERMINATED"},
            {"field": "why_stopped", "old": None, "new": "Sponsor decision"}]})),
        "source_failing": alert(event(EventKind.SOURCE_FAILING, {
            "source": "ctgov", "query": "secretome-cancer", "failures": 3,
            "error": "ClinicalTrials.gov answered HTTP 503 three times"}, nct_id=None, key="source_failing:ctgov"),
            trial={}, nct_id=None),
        "source_recovered": alert(event(EventKind.SOURCE_RECOVERED, {
            "source": "pubmed", "query": "secretome-cancer", "failed_for": 7800}, nct_id=None,
            key="source_recovered:pubmed"), trial={}, nct_id=None),
        "baseline_summary": alert(trial={"query": "secretome-cancer", "tracked": 42, "cell_free": 17,
                                         "cell_free_cancer": 11}, nct_id=None, baseline=True),
    }


def assert_golden(name: str, data: Any) -> None:
    """Compare with tests/golden/slack/<name>.json; UPDATE_GOLDEN=1 rewrites the file instead."""
    path = GOLDEN / f"{name}.json"
    rendered = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert json.loads(rendered) == json.loads(path.read_text(encoding="utf-8"))


def all_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text string of the blocks."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return out


def check_limits(text: str, blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 50
    assert len(text) <= 3000
    assert len(json.dumps(blocks, ensure_ascii=False)) < 13_000
    for block in blocks:
        Block.parse(block).validate_json()  # slack-sdk's validators: section 3000, header 150, fields 10
        for item in block.get("fields", []):
            assert len(item["text"]) <= 2000
        assert len(block.get("elements", [])) <= 10


SAMPLES = sample_alerts()


@pytest.mark.parametrize("name", list(SAMPLES), ids=list(SAMPLES))
def test_format_message_matches_golden(name: str) -> None:
    text, blocks = format_message(SAMPLES[name])
    check_limits(text, blocks)
    assert_golden(name, {"text": text, "blocks": blocks})


def test_efficacy_comes_first_in_header_and_list() -> None:
    a = alert(event(EventKind.NEW_TRIAL), event(EventKind.RESULTS_POSTED, RESULTS),
              event(EventKind.EFFICACY_REPORTED, PUBMED_EFFICACY))
    text, blocks = format_message(a)
    assert blocks[0]["text"]["text"].startswith(":rotating_light: Efficacy results first reported")
    assert text.startswith("Efficacy results first reported (PubMed, PMID 39000002): NCT05000000")
    happened = next(t for t in all_texts(blocks) if t.startswith("*What happened*"))
    assert happened.index("Efficacy reported") < happened.index("Results first posted") < happened.index("New trial")


def test_results_submitted_is_never_worded_as_final() -> None:
    text, blocks = format_message(SAMPLES["results_submitted"])
    body = " ".join([text, *all_texts(blocks)])
    assert "quality control" in body and "may be returned" in body
    assert "Results posted" not in body and "Efficacy" not in body


def test_results_message_lists_efficacy_outcomes_before_others() -> None:
    _, blocks = format_message(SAMPLES["efficacy_with_results"])
    happened = next(t for t in all_texts(blocks) if t.startswith("*What happened*"))
    assert happened.index("Objective response rate") < happened.index("Maximum tolerated dose")
    assert "(primary)" in happened


def test_message_links_registry_record_and_papers() -> None:
    _, blocks = format_message(SAMPLES["efficacy_pubmed"])
    links = blocks[-1]["elements"][0]["text"]
    assert f"<https://clinicaltrials.gov/study/{NCT}|ClinicalTrials.gov record>" in links
    assert "<https://pubmed.ncbi.nlm.nih.gov/39000002/|PMID 39000002>" in links
    assert "<https://pubmed.ncbi.nlm.nih.gov/39000001/|PMID 39000001>" in links


def test_why_cell_free_shows_classifier_evidence() -> None:
    _, blocks = format_message(SAMPLES["new_trial_cell_free"])
    why = next(t for t in all_texts(blocks) if t.startswith("*Why it counts as cell-free*"))
    assert "“iExosomes” in interventions[0].name" in why
    _, other = format_message(SAMPLES["new_trial_other"])
    why_other = next(t for t in all_texts(other) if t.startswith("*Why it is classified this way*"))
    assert "set by an override" in why_other


def test_baseline_summary_says_how_many_are_tracked() -> None:
    text, blocks = format_message(SAMPLES["baseline_summary"])
    assert text == "Now tracking 42 trials for query secretome-cancer, 17 cell-free (11 cell-free and cancer-related)."
    assert len(blocks) == 2


# ---------------------------------------------------------------------------------------------------- escaping

@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil|click>", "&lt;https://evil|click&gt;"),
        ("&amp;", "&amp;amp;"),
        ("R&D <b>", "R&amp;D &lt;b&gt;"),
        ("*bold*", "\u2217bold\u2217"),
        ("`code`", "\u02cbcode\u02cb"),
        ("~strike~", "\u223cstrike\u223c"),
        ("_italic_", "\u02cditalic\u02cd"),
        ("IL_6 and hsa_miR_21", "IL_6 and hsa_miR_21"),
        ("two\nlines\t  here", "two lines here"),
    ],
    ids=["channel", "user", "link", "entity", "html", "bold", "code", "strike", "italic", "snake_case", "space"],
)
def test_escape_text(raw: str, escaped: str) -> None:
    assert escape_text(raw) == escaped


UNESCAPE = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
LOOKALIKES = {"\u2217": "*", "\u223c": "~", "\u02cb": "`", "\u02cd": "_"}


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\u2217\u223c\u02cb\u02cd", blacklist_categories=("Cs",))))
def test_escape_text_leaves_no_control_characters_and_loses_nothing(raw: str) -> None:
    out = escape_text(raw)
    assert "<" not in out and ">" not in out and "*" not in out and "`" not in out and "~" not in out
    assert re.fullmatch(r"([^&]|&amp;|&lt;|&gt;)*", out)
    back = re.sub(r"&(lt|gt|amp);", lambda m: UNESCAPE[m.group(0)], out)
    assert back.translate(str.maketrans(LOOKALIKES)) == " ".join(raw.split())


def test_hostile_registry_text_cannot_ping_link_or_format() -> None:
    card = trial_card(title=HOSTILE, sponsor=HOSTILE, cancer_types=[HOSTILE], url="javascript:alert(1)|x",
                      evidence={"product_class": [{"field": HOSTILE, "words": HOSTILE}]})
    events = [
        event(EventKind.EFFICACY_REPORTED, {**PUBMED_EFFICACY, "title": HOSTILE, "evidence": [HOSTILE],
                                            "url": "https://evil.example/x|<!channel>"}),
        event(EventKind.RESULTS_POSTED, {"results_first_posted_on": HOSTILE, "efficacy_outcomes": [HOSTILE],
                                         "outcomes": [{"measure": HOSTILE, "kind": "efficacy", "type": "PRIMARY"}]}),
        event(EventKind.STATUS_CHANGED, {"changes": [{"field": HOSTILE, "old": HOSTILE, "new": [HOSTILE]}]}),
    ]
    text, blocks = format_message(alert(*events, trial=card))
    for s in [text, *all_texts(blocks)]:
        without_ours = OUR_LINK.sub("", s)
        assert "<" not in without_ours and ">" not in without_ours, s
        assert "*bold*" not in s and "`code`" not in s and "~strike~" not in s and "_it_" not in s
    assert not any("<https://evil" in s or "<javascript" in s for s in [text, *all_texts(blocks)])
    check_limits(text, blocks)


def test_source_failing_escapes_error_text() -> None:
    a = alert(event(EventKind.SOURCE_FAILING, {"source": "ctgov", "query": "q", "failures": 3, "error": HOSTILE},
                    nct_id=None), trial={}, nct_id=None)
    text, blocks = format_message(a)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert all("<!" not in s for s in all_texts(blocks))


# ---------------------------------------------------------------------------------------------------- limits

def test_very_long_texts_and_many_outcomes_stay_within_block_kit_limits() -> None:
    long = "Exosome " * 2000
    outcomes = [{"measure": f"{long[:900]} #{i}", "kind": "efficacy" if i % 2 else "safety", "type": "PRIMARY"}
                for i in range(400)]
    card = trial_card(title=long, sponsor=long, cancer_types=[long] * 30,
                      evidence={f: [{"field": long, "words": long}] * 20 for f in ("product_class", "cell_free")},
                      publications=[{"pmid": str(i), "title": long, "url": f"https://pubmed.ncbi.nlm.nih.gov/{i}/"}
                                    for i in range(200)])
    changes = [{"field": f"f{i}", "old": long, "new": long} for i in range(300)]
    events = [event(EventKind.RESULTS_POSTED, {"results_first_posted_on": "2026-11-20",
                                               "efficacy_outcomes": [o["measure"] for o in outcomes],
                                               "outcomes": outcomes}),
              *[event(EventKind.PUBLICATION_LINKED, {"pmid": str(i), "title": long, "how": "databank",
                                                     "url": f"https://pubmed.ncbi.nlm.nih.gov/{i}/"}, key=f"p{i}")
                for i in range(80)],
              event(EventKind.STATUS_CHANGED, {"changes": changes})]
    text, blocks = format_message(alert(*events, trial=card))
    check_limits(text, blocks)
    assert blocks[0]["type"] == "header" and blocks[-1]["type"] == "context"
    assert any("more part(s) not shown" in t or "… and" in t for t in all_texts(blocks))
    header = blocks[0]["text"]["text"]
    assert len(header) <= 150


def test_truncation_never_splits_an_entity() -> None:
    text, blocks = format_message(alert(event(EventKind.NEW_TRIAL), trial=trial_card(title="&" * 2000)))
    title = blocks[1]["text"]["text"]
    assert title.endswith("&amp;…>*")
    assert re.fullmatch(r"([^&]|&amp;|&lt;|&gt;)*", text)


@settings(max_examples=40, deadline=None)
@given(title=st.text(max_size=5000), measures=st.lists(st.text(max_size=600), max_size=120),
       words=st.lists(st.text(max_size=400), max_size=30))
def test_any_registry_text_fits_block_kit(title: str, measures: list[str], words: list[str]) -> None:
    outcomes = [{"measure": m, "kind": "efficacy", "type": "PRIMARY"} for m in measures]
    card = trial_card(title=title, evidence={"product_class": [{"field": w, "words": w} for w in words]})
    a = alert(event(EventKind.RESULTS_POSTED, {"results_first_posted_on": "2026-11-20",
                                               "efficacy_outcomes": measures, "outcomes": outcomes}),
              event(EventKind.EFFICACY_REPORTED, {**PUBMED_EFFICACY, "title": title, "evidence": words}), trial=card)
    text, blocks = format_message(a)
    check_limits(text, blocks)
