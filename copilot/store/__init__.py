"""State: SQLAlchemy Core tables, engine set-up and Alembic migrations."""

from copilot.store.db import Store, open_store

__all__ = ["Store", "open_store"]
