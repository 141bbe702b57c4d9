"""Full-text search of what was said: the index each database keeps of message text,
and the one query that reads it.

PostgreSQL keeps a stored ``tsvector`` column of each message's text (English
stemming) with a GIN index; SQLite keeps an FTS5 table (Porter stemming) that triggers
fill and empty with every insert and delete of a message. Either way the database keeps
the index in step with every write, including bulk inserts and cascading deletes, and
``matches`` asks it the same question: the best-matching message of each session of
``sessions``, best first, with a snippet.

Snippets are HTML: the message's text escaped, the matched words in ``<mark>``.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

#: What the snippets' matched words are wrapped in before the text is escaped.
START, STOP = "\x02", "\x03"
WORD = re.compile(r"\w+", re.UNICODE)
#: Words of a query that are read; the rest are ignored.
MAX_WORDS = 12
SNIPPET_WORDS = 16

TABLE = "assistant_chatmessage"
FTS = "assistant_message_search"

POSTGRES_INDEX = [
    f"ALTER TABLE {TABLE} ADD COLUMN search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED",
    f"CREATE INDEX assistant_message_search_gin ON {TABLE} USING gin (search_vector)",
]
POSTGRES_DROP = [f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS search_vector"]

# The FTS5 row of a message is found through its id, which is indexed as a word of its
# own column (searches read only the content column): deleting one never scans.
SQLITE_INDEX = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(content, message_id, session_id UNINDEXED,"
    " tokenize = 'porter unicode61')",
    f"INSERT INTO {FTS} (content, message_id, session_id) SELECT content, id, session_id FROM {TABLE}",
    f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON {TABLE} BEGIN"
    f" INSERT INTO {FTS} (content, message_id, session_id) VALUES (new.content, new.id, new.session_id); END",
    f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON {TABLE} BEGIN"
    f" DELETE FROM {FTS} WHERE rowid IN (SELECT rowid FROM {FTS} WHERE {FTS} MATCH 'message_id:' || old.id);"
    " END",
    f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF content ON {TABLE} BEGIN"
    f" UPDATE {FTS} SET content = new.content WHERE rowid IN"
    f" (SELECT rowid FROM {FTS} WHERE {FTS} MATCH 'message_id:' || old.id); END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {FTS}_insert",
    f"DROP TRIGGER IF EXISTS {FTS}_delete",
    f"DROP TRIGGER IF EXISTS {FTS}_update",
    f"DROP TABLE IF EXISTS {FTS}",
]


def ensure_index(using: str = "default") -> bool:
    """Put SQLite's triggers back, and fill the index again, when a later migration
    rebuilt the message table (SQLite's way of altering one drops its triggers). Run
    after every ``migrate``; True when it had to."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    conn = connections[using]
    if conn.vendor != "sqlite":
        return False
    applied = MigrationRecorder(conn).applied_migrations()
    if ("assistant", "0014_message_search") not in applied:
        return False
    with conn.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        if {row[0] for row in cursor.fetchall()} >= {f"{FTS}_insert", f"{FTS}_delete", f"{FTS}_update"}:
            return False
        for statement in SQLITE_DROP + SQLITE_INDEX:
            cursor.execute(statement)
    return True


def index_statements(vendor: str) -> list[str]:
    return {"postgresql": POSTGRES_INDEX, "sqlite": SQLITE_INDEX}.get(vendor, [])


def drop_statements(vendor: str) -> list[str]:
    return {"postgresql": POSTGRES_DROP, "sqlite": SQLITE_DROP}.get(vendor, [])


@dataclass(frozen=True)
class Match:
    session_id: str
    message_id: str
    role: str
    snippet: str


def words(query: str) -> list[str]:
    """The words of a user's query, as the index reads them (no operators)."""
    return WORD.findall(query or "")[:MAX_WORDS]


def matches(*, sessions: QuerySet, query: str, offset: int, limit: int) -> tuple[list[Match], int]:
    """A page of the sessions among ``sessions`` that said every word of ``query`` (the
    last one as a prefix), each with its best message, best first; and how many there
    are. Two queries, however many sessions and messages."""
    found = words(query)
    if not found:
        return [], 0
    scope_sql, scope_params = sessions.order_by().values("pk").query.sql_with_params()
    if connection.vendor == "postgresql":
        return _postgres(found, scope_sql, scope_params, offset, limit)
    if connection.vendor == "sqlite":
        return _sqlite(found, scope_sql, scope_params, offset, limit)
    raise NotImplementedError(f"Full-text search is not built for {connection.vendor}.")


def _page(best_sql: str, params: list, offset: int, limit: int) -> tuple[list[tuple], int]:
    """Run ``best_sql`` (one row per matching session: session, message, role, snippet
    source, score, lower is better) for a page, and count its rows."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({best_sql}) counted", params)
        total = cursor.fetchone()[0]
        if offset >= total:
            return [], total
        cursor.execute(f"{best_sql} ORDER BY score, session_id LIMIT %s OFFSET %s", [*params, limit, offset])
        return cursor.fetchall(), total


def _postgres(found, scope_sql, scope_params, offset, limit):
    tsquery = " & ".join(f"'{word}'" for word in found[:-1]) + (" & " if len(found) > 1 else "")
    tsquery += f"'{found[-1]}':*"
    best = (
        "SELECT session_id, id, role, content, score FROM ("
        " SELECT m.session_id, m.id, m.role, m.content, -ts_rank(m.search_vector, q.query) AS score,"
        " row_number() OVER (PARTITION BY m.session_id ORDER BY ts_rank(m.search_vector, q.query) DESC,"
        " m.created_at) AS n"
        f" FROM {TABLE} m, to_tsquery('english', %s) AS q(query)"
        f" WHERE m.search_vector @@ q.query AND m.status <> 'cancelled' AND m.session_id IN ({scope_sql})"
        ") ranked WHERE n = 1"
    )
    rows, total = _page(best, [tsquery, *scope_params], offset, limit)
    if not rows:
        return [], total
    options = f"StartSel={START}, StopSel={STOP}, MaxFragments=1, MaxWords={SNIPPET_WORDS}, MinWords=6"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ts_headline('english', text, to_tsquery('english', %s), %s)"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS t(text, n) ORDER BY n",
            [tsquery, options, [row[3] for row in rows]],
        )
        snippets = [row[0] for row in cursor.fetchall()]
    return [_match(row, snippet) for row, snippet in zip(rows, snippets, strict=True)], total


def _sqlite(found, scope_sql, scope_params, offset, limit):
    fts_query = "content : (" + " ".join(f'"{word}"' for word in found[:-1]) + f' "{found[-1]}"*)'
    # bm25() and snippet() only where MATCH is: one level down from the window.
    best = (
        "SELECT session_id, id, role, snippet, score FROM ("
        " SELECT *, row_number() OVER (PARTITION BY session_id ORDER BY score, created_at) AS n FROM ("
        f"  SELECT s.session_id, s.message_id AS id, m.role, m.created_at, bm25({FTS}) AS score,"
        f"  snippet({FTS}, 0, char(2), char(3), '…', {SNIPPET_WORDS}) AS snippet"
        f"  FROM {FTS} s JOIN {TABLE} m ON m.id = s.message_id"
        f"  WHERE {FTS} MATCH %s AND m.status <> 'cancelled' AND s.session_id IN ({scope_sql})"
        "  LIMIT -1) scored"
        ") ranked WHERE n = 1"
    )
    rows, total = _page(best, [fts_query, *scope_params], offset, limit)
    return [_match(row, row[3]) for row in rows], total


def _match(row, snippet: str) -> Match:
    session_id, message_id, role = row[0], row[1], row[2]
    return Match(
        session_id=str(uuid.UUID(str(session_id))),
        message_id=str(uuid.UUID(str(message_id))),
        role=role,
        snippet=highlighted(snippet),
    )


def highlighted(text: str) -> str:
    """``text`` escaped for HTML, its marked words in ``<mark>``."""
    return html.escape(text or "").replace(START, "<mark>").replace(STOP, "</mark>")
