"""Sources: the registries monitor reads. Imports domain and errors only (and httpx, feedparser, defusedxml).

A source is a class with a ``kind`` that names it in query files, the database and logs.
"""

from __future__ import annotations

SOURCE_KINDS = ("ctgov", "pubmed")
