"""SQLModel tables only; rows never leave ``monitor.store`` (``db.py`` converts them to domain objects).

JSON columns hold lists and dicts; ``*_at`` columns are UTC datetimes, ``*_on`` ISO date strings.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, MetaData, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


class TrialRow(SQLModel, table=True):
    __tablename__ = "trial"

    nct_id: str = Field(primary_key=True, max_length=16)
    title: str = Field(sa_column=Column(Text, nullable=False))
    overall_status: str | None = Field(default=None, max_length=40, index=True)
    phase: str | None = Field(default=None, max_length=40, index=True)
    product_class: str = Field(max_length=40, index=True)
    cell_free: bool = Field(index=True)
    cancer: bool = Field(index=True)
    has_results: bool = False
    lead_sponsor: str | None = Field(default=None, sa_column=Column(Text))
    last_update_posted_on: str | None = Field(default=None, max_length=10)
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    classification: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    classifier_version: str = Field(max_length=40)
    override: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    queries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    raw: str = Field(sa_column=Column(Text, nullable=False))
    first_seen_at: datetime
    updated_at: datetime


class ChangeRow(SQLModel, table=True):
    __tablename__ = "change"
    __table_args__ = (Index("ix_change_nct_id_seen_at", "nct_id", "seen_at"),)

    id: int | None = Field(default=None, primary_key=True)
    nct_id: str = Field(max_length=16)
    field: str = Field(max_length=64)
    old: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    new: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    seen_at: datetime = Field(index=True)


class EventRow(SQLModel, table=True):
    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    kind: str = Field(max_length=40, index=True)
    nct_id: str | None = Field(default=None, max_length=16, index=True)
    query: str | None = Field(default=None, max_length=200)
    baseline: bool = False
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(index=True)


class AlertRow(SQLModel, table=True):
    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    nct_id: str | None = Field(default=None, max_length=16)
    query: str | None = Field(default=None, max_length=200)
    event_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    trial: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    baseline_summary: bool = False
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    created_at: datetime
    last_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    message_ts: str | None = Field(default=None, max_length=64)


class PublicationRow(SQLModel, table=True):
    __tablename__ = "publication"

    pmid: str = Field(primary_key=True, max_length=16)
    title: str = Field(sa_column=Column(Text, nullable=False))
    abstract: str = Field(default="", sa_column=Column(Text, nullable=False))
    journal: str = Field(default="", sa_column=Column(Text, nullable=False))
    published_on: str | None = Field(default=None, max_length=40)
    doi: str | None = Field(default=None, sa_column=Column(Text))
    pmc_id: str | None = Field(default=None, max_length=20)
    publication_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    databank_nct_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # DataBankList
    text_nct_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # title/abstract
    is_book: bool = False
    efficacy: bool = False
    efficacy_evidence: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    first_seen_at: datetime


class TrialPublicationRow(SQLModel, table=True):
    __tablename__ = "trial_publication"
    __table_args__ = (UniqueConstraint("nct_id", "pmid", "how", name="uq_trial_publication_link"),)

    id: int | None = Field(default=None, primary_key=True)
    nct_id: str = Field(max_length=16, index=True)
    pmid: str = Field(max_length=16, index=True)
    how: str = Field(max_length=32)
    linked_at: datetime


class SyncStateRow(SQLModel, table=True):
    __tablename__ = "sync_state"

    source: str = Field(primary_key=True, max_length=32)
    query: str = Field(primary_key=True, max_length=200)
    watermark: date | None = None
    data_timestamp: str | None = Field(default=None, max_length=40)
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    consecutive_failures: int = 0
    failing: bool = False
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class DigestRow(SQLModel, table=True):
    __tablename__ = "digest"

    id: int | None = Field(default=None, primary_key=True)
    period_start: datetime
    period_end: datetime
    created_at: datetime
    sent_at: datetime | None = None
    status: str = Field(default="pending", max_length=16)
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
