"""Conversion between the store's SQLModel rows and domain objects (trial records, publications).

Imports domain and store.models only; the rows never leave ``store/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table
from sqlmodel import SQLModel

from monitor.domain import Publication, TrialRecord
from monitor.store.models import PublicationRow, TrialRow

TRIAL_COLUMNS = (
    "nct_id",
    "title",
    "overall_status",
    "phase",
    "product_class",
    "cell_free",
    "cancer",
    "has_results",
    "lead_sponsor",
    "last_update_posted_on",
    "state",
    "classification",
    "classifier_version",
    "override",
    "queries",
    "first_seen_at",
    "updated_at",
)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a model (SQLModel does not type ``__table__``)."""
    table: Table = getattr(model, "__table__")  # noqa: B009
    return table


def record_from_mapping(row: Mapping[str, Any]) -> TrialRecord:
    return TrialRecord(
        nct_id=row["nct_id"],
        title=row["title"],
        overall_status=row["overall_status"],
        phase=row["phase"],
        product_class=row["product_class"],
        cell_free=bool(row["cell_free"]),
        cancer=bool(row["cancer"]),
        has_results=bool(row["has_results"]),
        lead_sponsor=row["lead_sponsor"],
        last_update_posted_on=row["last_update_posted_on"],
        state=dict(row["state"]),
        classification=dict(row["classification"]),
        classifier_version=row["classifier_version"],
        override=dict(row["override"] or {}),
        queries=tuple(row["queries"] or ()),
        first_seen_at=row["first_seen_at"],
        updated_at=row["updated_at"],
    )


def record_from_row(row: TrialRow) -> TrialRecord:
    return record_from_mapping({c: getattr(row, c) for c in TRIAL_COLUMNS})


def record_values(record: TrialRecord) -> dict[str, Any]:
    """Column values of a trial row (raw excluded)."""
    return {
        "nct_id": record.nct_id,
        "title": record.title,
        "overall_status": record.overall_status,
        "phase": record.phase,
        "product_class": record.product_class,
        "cell_free": record.cell_free,
        "cancer": record.cancer,
        "has_results": record.has_results,
        "lead_sponsor": record.lead_sponsor,
        "last_update_posted_on": record.last_update_posted_on,
        "state": dict(record.state),
        "classification": dict(record.classification),
        "classifier_version": record.classifier_version,
        "override": dict(record.override),
        "queries": list(record.queries),
        "first_seen_at": record.first_seen_at,
        "updated_at": record.updated_at,
    }


def publication_from_row(row: PublicationRow) -> tuple[Publication, bool, list[dict[str, str]]]:
    pub = Publication(
        pmid=row.pmid,
        title=row.title,
        abstract=row.abstract,
        journal=row.journal,
        published_on=row.published_on,
        doi=row.doi,
        pmc_id=row.pmc_id,
        publication_types=tuple(row.publication_types),
        databank_nct_ids=tuple(row.databank_nct_ids),
        text_nct_ids=tuple(row.text_nct_ids),
        is_book=row.is_book,
    )
    return pub, row.efficacy, list(row.efficacy_evidence)
