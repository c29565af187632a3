"""PubMed efetch XML: pure ``parse_articles`` (PubmedArticleSet -> Publication) and NCT ids found in text.

Imports domain and sources.http only (plus defusedxml).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from typing import cast

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from monitor.domain import Publication
from monitor.sources.http import BodyError

NCT_IN_TEXT = re.compile(r"\bNCT\s?0?(\d{8})(?!\d)", re.IGNORECASE)
NCT_ID = re.compile(r"^NCT\s?0?(\d{8})$", re.IGNORECASE)
MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}  # not the locale's


def normalise_nct_id(value: str) -> str | None:
    """``nct 01234567`` / ``NCT001234567`` -> ``NCT01234567``; None when it is not an NCT number."""
    match = NCT_ID.match(value.strip())
    return f"NCT{match.group(1)}" if match else None


def find_nct_ids(text: str) -> tuple[str, ...]:
    """NCT numbers mentioned in free text, normalised, in order of first mention."""
    return tuple(dict.fromkeys(f"NCT{m.group(1)}" for m in NCT_IN_TEXT.finditer(text)))


def parse_articles(xml: bytes) -> tuple[list[Publication], list[str]]:
    """Parse an efetch ``PubmedArticleSet``: (publications, one-line errors for articles that could not be parsed).

    A body that is not a well-formed PubmedArticleSet (HTML page, truncated or malformed XML, entity tricks,
    an ``eFetchResult`` ERROR) raises BodyError, so that ``http.fetch`` retries it.
    """
    publications, failures = parse_article_set(xml)
    return publications, [message for _, message in failures]


def parse_article_set(xml: bytes) -> tuple[list[Publication], list[tuple[str, str]]]:
    """parse_articles, the errors as (PMID or "?", message)."""
    root = _parse_document(xml)
    publications: list[Publication] = []
    failures: list[tuple[str, str]] = []
    for element in root:
        if element.tag not in ("PubmedArticle", "PubmedBookArticle"):
            continue  # DeleteCitation and anything newer
        try:
            publications.append(_parse_article(element))
        except (ValueError, TypeError, AttributeError) as exc:
            doc = element.find("BookDocument" if element.tag == "PubmedBookArticle" else "MedlineCitation")
            pmid = _text(doc.find("PMID") if doc is not None else None) or "?"
            failures.append((pmid, f"PubMed record {pmid}: {exc}"))
    return publications, failures


def _parse_document(xml: bytes) -> ET.Element:
    if not xml.strip():
        raise BodyError("empty body where PubMed XML was expected")
    try:
        root = defused_fromstring(xml, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except ET.ParseError as exc:
        raise BodyError(f"malformed or truncated PubMed XML ({exc}): {_snippet(xml)}") from None
    except DefusedXmlException as exc:
        raise BodyError(f"PubMed XML refused ({type(exc).__name__})") from None
    if root.tag == "PubmedArticleSet":
        return cast(ET.Element, root)
    if root.tag == "eFetchResult":
        message = _text(root.find("ERROR")) or "no PubmedArticleSet"
        raise BodyError(f"efetch answered ERROR: {message}")
    raise BodyError(f"expected a PubmedArticleSet, got <{root.tag}>: {_snippet(xml)}")


def _snippet(xml: bytes, limit: int = 80) -> str:
    text = " ".join(xml[:400].decode("utf-8", "replace").split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _text(element: ET.Element | None) -> str:
    """All text below an element (inline <i>, <sup>, MathML included), whitespace collapsed."""
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def _parse_article(element: ET.Element) -> Publication:
    is_book = element.tag == "PubmedBookArticle"
    doc = element.find("BookDocument" if is_book else "MedlineCitation")
    if doc is None:
        raise ValueError(f"<{element.tag}> without {'BookDocument' if is_book else 'MedlineCitation'}")
    pmid = _text(doc.find("PMID"))
    if not pmid.isdigit():
        raise ValueError(f"PMID {pmid!r} is not a number" if pmid else "no PMID")
    article = doc if is_book else doc.find("Article")
    if article is None:
        raise ValueError("MedlineCitation without Article")
    title = _title(article, is_book=is_book)
    abstract = _abstract(article.find("Abstract"))
    ids = _article_ids(element, doc)
    return Publication(
        pmid=pmid,
        title=title,
        abstract=abstract,
        journal=_journal(article, is_book=is_book),
        published_on=_pub_date(article.find("Book/PubDate" if is_book else "Journal/JournalIssue/PubDate")),
        doi=ids.get("doi") or _elocation_doi(article),
        pmc_id=_pmc(ids.get("pmc")),
        publication_types=_publication_types(article, is_book=is_book),
        databank_nct_ids=_databank_nct_ids(article),
        text_nct_ids=find_nct_ids(f"{title}\n{abstract}"),
        is_book=is_book,
    )


def _title(article: ET.Element, *, is_book: bool) -> str:
    title = _text(article.find("ArticleTitle"))
    if not title and is_book:
        title = _text(article.find("Book/BookTitle"))
    return title or _text(article.find("VernacularTitle"))


def _abstract(abstract: ET.Element | None) -> str:
    if abstract is None:
        return ""
    sections = []
    for part in abstract.findall("AbstractText"):
        text = _text(part)
        label = (part.get("Label") or "").strip()
        if label and text:
            sections.append(f"{label}: {text}")
        elif text or label:
            sections.append(text or label)
    return "\n".join(sections)


def _journal(article: ET.Element, *, is_book: bool) -> str:
    if is_book:
        if article.find("ArticleTitle") is not None:  # a chapter: its "journal" is the book
            return _text(article.find("Book/BookTitle"))
        return _text(article.find("Book/Publisher/PublisherName"))
    journal = article.find("Journal")
    if journal is None:
        return ""
    return _text(journal.find("Title")) or _text(journal.find("ISOAbbreviation"))


def _pub_date(pub_date: ET.Element | None) -> str | None:
    """``yyyy``, ``yyyy-MM`` or ``yyyy-MM-dd`` from Year/Month/Day; a MedlineDate as is; Season -> year only."""
    if pub_date is None:
        return None
    medline = _text(pub_date.find("MedlineDate"))
    if medline:
        return medline
    year = _text(pub_date.find("Year"))
    if not (len(year) == 4 and year.isdigit()):
        return None
    month_text = _text(pub_date.find("Month")).lower()
    month = int(month_text) if month_text.isdigit() else MONTHS.get(month_text[:3], 0)
    if not 1 <= month <= 12:
        return year
    day_text = _text(pub_date.find("Day"))
    try:
        return date(int(year), month, int(day_text)).isoformat()
    except ValueError:
        return f"{year}-{month:02d}"


def _article_ids(element: ET.Element, doc: ET.Element) -> dict[str, str]:
    """The article's own ids (ArticleIdList directly under PubmedData / BookDocument, never the references')."""
    ids: dict[str, str] = {}
    for parent in (element.find("PubmedData"), element.find("PubmedBookData"), doc):
        if parent is None:
            continue
        for item in parent.findall("ArticleIdList/ArticleId"):
            kind, value = (item.get("IdType") or "pubmed").lower(), _text(item)
            if value:
                ids.setdefault(kind, value)
    return ids


def _elocation_doi(article: ET.Element) -> str | None:
    for location in (*article.findall("ELocationID"), *article.findall("Book/ELocationID")):
        if (location.get("EIdType") or "").lower() == "doi" and location.get("ValidYN", "Y") != "N":
            value = _text(location)
            if value:
                return value
    return None


def _pmc(value: str | None) -> str | None:
    if not value:
        return None
    return value if value.upper().startswith("PMC") else f"PMC{value}"


def _publication_types(article: ET.Element, *, is_book: bool) -> tuple[str, ...]:
    path = "PublicationType" if is_book else "PublicationTypeList/PublicationType"
    return tuple(dict.fromkeys(t for t in (_text(e) for e in article.findall(path)) if t))


def _databank_nct_ids(article: ET.Element) -> tuple[str, ...]:
    found = []
    for bank in article.findall("DataBankList/DataBank"):
        if _text(bank.find("DataBankName")).lower() != "clinicaltrials.gov":
            continue
        for number in bank.findall("AccessionNumberList/AccessionNumber"):
            nct_id = normalise_nct_id(_text(number))
            if nct_id:
                found.append(nct_id)
    return tuple(dict.fromkeys(found))

