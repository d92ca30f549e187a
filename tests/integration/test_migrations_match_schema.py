"""The migrations build exactly the tables ``copilot/store/schema.py`` describes, on SQLite
and PostgreSQL: a column or index added to one and not the other shows up here."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table

from copilot.store.db import open_store
from copilot.store.schema import metadata


def _differences(url: str, described: MetaData) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            return [d for d in compare_metadata(ctx, described) if "alembic_version" not in str(d)]
    finally:
        store.dispose()


def test_the_migrated_database_is_the_described_one(db_url: str) -> None:
    assert _differences(db_url, metadata) == []


def test_a_column_only_the_schema_has_is_found(db_url: str) -> None:
    other = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(other)
    Table("incidents", other, Column("extra", Integer), extend_existing=True)
    found = _differences(db_url, other)
    assert any("extra" in str(d) for d in found), found
