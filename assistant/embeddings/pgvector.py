"""pgvector, where the PostgreSQL extension is installed: every vector is also kept in
a ``vector`` column, and searches rank in the database (its exact ``<=>`` cosine
distance) instead of reading the vectors out.

``enable()`` (run by the migration, and by ``manage.py embed --pgvector`` once the
extension is installed later) creates the extension and the column and fills it."""

from __future__ import annotations

import struct

from django.db import connection

TABLE = "assistant_embedding"
COLUMN = "pgvector"
_enabled: dict[str, bool] = {}


def _database() -> str:
    return str(connection.settings_dict.get("NAME"))


def available() -> bool:
    """Whether the database could enable the extension."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        return cursor.fetchone() is not None


def enabled() -> bool:
    """Whether the vectors are kept in a pgvector column (looked up once per process)."""
    if connection.vendor != "postgresql":
        return False
    name = _database()
    if name not in _enabled:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
                [TABLE, COLUMN],
            )
            _enabled[name] = cursor.fetchone() is not None
    return _enabled[name]


def forget() -> None:
    _enabled.clear()


def enable() -> bool:
    """Create the extension and the column, and fill it from the stored vectors; False
    when the extension is not installed on the database server."""
    if not available():
        return False
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cursor.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {COLUMN} vector")
    forget()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT content_type_id, object_id, vector FROM {TABLE} WHERE {COLUMN} IS NULL")
        rows = cursor.fetchall()
    by_type: dict[int, list] = {}
    for content_type_id, object_id, vector in rows:
        by_type.setdefault(content_type_id, []).append((object_id, bytes(vector)))
    for content_type_id, vectors in by_type.items():
        store(content_type_id, vectors)
    return True


def literal(vector: bytes) -> str:
    """Stored float32 bytes as pgvector's text form."""
    values = struct.unpack(f"<{len(vector) // 4}f", vector)
    return "[" + ",".join(repr(value) for value in values) + "]"


def store(content_type_id: int, vectors: list[tuple[str, bytes]]) -> None:
    """Copy stored vectors (``(object_id, bytes)``) to the pgvector column, when there is one."""
    if not vectors or not enabled():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} AS e SET {COLUMN} = v.vec::vector"
            " FROM unnest(%s::text[], %s::text[]) AS v(key, vec)"
            " WHERE e.content_type_id = %s AND e.object_id = v.key",
            [[key for key, _ in vectors], [literal(vector) for _, vector in vectors], content_type_id],
        )


def nearest(
    *, content_type_id: int, model: str, dimensions: int, query: bytes, scope_sql: str, scope_params, k: int
) -> list[tuple[str, float]]:
    """The ``k`` stored vectors nearest ``query`` among the rows of ``scope_sql``, by
    exact cosine distance in the database: ``(object_id, cosine similarity)``."""
    vector = literal(query)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT object_id, 1 - ({COLUMN} <=> %s::vector) FROM {TABLE}"
            " WHERE content_type_id = %s AND model = %s AND dimensions = %s"
            f" AND object_id IN ({scope_sql}) ORDER BY {COLUMN} <=> %s::vector, object_id LIMIT %s",
            [vector, content_type_id, model, dimensions, *scope_params, vector, k],
        )
        return [(key, float(score)) for key, score in cursor.fetchall()]
