"""A read-only view of a SQLite store through the standard library, for commands that must answer fast.

``monitor show`` answers in well under 0.3 s because it needs neither SQLAlchemy nor pydantic (together ~0.7 s to
import). It is used only for a migrated SQLite file; anything else goes through ``Store``. Imports domain only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.domain import Change, Event, EventKind, Publication, TrialRecord, as_utc

HEAD = "0002"  # must equal monitor.store.db.MIGRATIONS_HEAD (a test checks it)


def configured_database_url() -> str:
    """MONITOR_DATABASE_URL, else ``database_url`` of monitor.toml, else the default (as Settings resolves it)."""
    url = os.environ.get("MONITOR_DATABASE_URL")
    if url:
        return url
    toml = Path(os.environ.get("MONITOR_CONFIG", "monitor.toml"))
    try:
        value = tomllib.loads(toml.read_text(encoding="utf-8")).get("database_url")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        value = None
    return str(value) if value else "sqlite:///monitor.db"


def _when(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


class QuickReader:
    """Reads one trial, its changes, events and papers straight from a migrated SQLite file."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.row_factory = sqlite3.Row

    @classmethod
    def open(cls, url: str) -> QuickReader | None:
        """A reader when ``url`` is a SQLite file at the current migration, else None (use Store)."""
        if not url.startswith("sqlite:///") or "?" in url:
            return None
        path = Path(url[len("sqlite:///"):])
        if not path.is_file():
            return None
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return None
        if not row or row[0] != HEAD:
            conn.close()
            return None
        return cls(conn)

    def close(self) -> None:
        self.conn.close()

    def trial(self, nct_id: str) -> TrialRecord | None:
        r = self.conn.execute("SELECT * FROM trial WHERE nct_id = ?", (nct_id,)).fetchone()
        if r is None:
            return None
        return TrialRecord(
            nct_id=r["nct_id"], title=r["title"], overall_status=r["overall_status"], phase=r["phase"],
            product_class=r["product_class"], cell_free=bool(r["cell_free"]), cancer=bool(r["cancer"]),
            has_results=bool(r["has_results"]), lead_sponsor=r["lead_sponsor"],
            last_update_posted_on=r["last_update_posted_on"], state=json.loads(r["state"]),
            classification=json.loads(r["classification"]), classifier_version=r["classifier_version"],
            override=json.loads(r["override"]), queries=tuple(json.loads(r["queries"])),
            first_seen_at=_when(r["first_seen_at"]), updated_at=_when(r["updated_at"]),
        )

    def changes(self, nct_id: str) -> list[Change]:
        rows = self.conn.execute("SELECT * FROM change WHERE nct_id = ? ORDER BY seen_at, id", (nct_id,))
        return [Change(nct_id=r["nct_id"], field=r["field"], old=_json(r["old"]), new=_json(r["new"]),
                       seen_at=_when(r["seen_at"])) for r in rows]

    def events(self, *, nct_id: str) -> list[Event]:
        rows = self.conn.execute("SELECT * FROM event WHERE nct_id = ? ORDER BY created_at, id", (nct_id,))
        return [Event(kind=EventKind(r["kind"]), key=r["key"], created_at=_when(r["created_at"]), nct_id=r["nct_id"],
                      query=r["query"], payload=json.loads(r["payload"])) for r in rows]

    def publications_for(self, nct_id: str) -> list[tuple[Publication, bool, list[str]]]:
        hows: dict[str, list[str]] = {}
        for r in self.conn.execute(
                "SELECT pmid, how FROM trial_publication WHERE nct_id = ? ORDER BY linked_at, id", (nct_id,)):
            hows.setdefault(r["pmid"], []).append(r["how"])
        out = []
        for pmid, how in hows.items():
            r = self.conn.execute("SELECT * FROM publication WHERE pmid = ?", (pmid,)).fetchone()
            if r is not None:
                pub = Publication(pmid=r["pmid"], title=r["title"], abstract=r["abstract"], journal=r["journal"],
                                  published_on=r["published_on"], doi=r["doi"], pmc_id=r["pmc_id"],
                                  publication_types=tuple(json.loads(r["publication_types"])),
                                  databank_nct_ids=tuple(json.loads(r["databank_nct_ids"])),
                                  text_nct_ids=tuple(json.loads(r["text_nct_ids"])), is_book=bool(r["is_book"]))
                out.append((pub, bool(r["efficacy"]), how))
        return out


def _json(value: Any) -> Any:
    return None if value is None else json.loads(value)
