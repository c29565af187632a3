"""Alembic migrations of the monitor store (shipped with the package so `monitor db upgrade` finds them)."""
