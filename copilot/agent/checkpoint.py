"""Where conversations are checkpointed: SQLite in the data dir, or PostgreSQL by URL.

A pending approval lives in a checkpoint, so a restarted process (or another replica)
resumes the same conversation. The PostgreSQL saver uses the store's database
(``COPILOT_DATABASE_URL``) in its own tables, created on first use.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from copilot.settings import Settings


def _libpq_url(url: str) -> str:
    """SQLAlchemy's ``postgresql+psycopg://`` spelling, as psycopg wants it."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def open_checkpointer(settings: Settings) -> tuple[Any, Callable[[], None]]:
    """(saver, close) for this settings' database."""
    url = settings.database_url or ""
    if url.startswith("postgres"):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row

        conn: Any = Connection.connect(
            _libpq_url(url), autocommit=True, prepare_threshold=0, row_factory=dict_row
        )
        saver: Any = PostgresSaver(conn)
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver

        from copilot.store.files import secure_data_dir

        secure_data_dir(settings.data_dir)  # 0700, and the files SQLite makes 0600
        path = settings.data_dir / "checkpoints.db"
        # one connection shared by the saver's own lock; WAL lets a CLI read while a
        # server writes
        conn = sqlite3.connect(str(path), check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        saver = SqliteSaver(conn)
    saver.setup()
    return saver, conn.close
