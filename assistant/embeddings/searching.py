"""The k nearest rows of a declared model to a query, within a user's scope.

Exact cosine search: the query is embedded, the vectors of the rows in the user's scope
are read (one query) and ranked with numpy, best first; with pgvector (``pgvector``)
the database ranks them instead. Then the rows found are read (one query), through the
scope again. Vectors of another embedding model or size are not compared."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import CharField
from django.db.models.functions import Cast

from .. import llm
from . import pgvector
from .declared import Embedded
from .indexing import _content_type, pack

MAX_K = 50


@dataclass(frozen=True)
class Hit:
    #: The row's ``show`` values.
    row: dict[str, Any]
    #: Cosine similarity of the row's text to the query, -1 to 1 (higher is nearer).
    score: float


def nearest(declaration: Embedded, *, user, query: str, k: int = 10) -> list[Hit]:
    """The ``k`` rows of ``declaration`` that ``user`` may find (its scope, asked now)
    nearest ``query``, nearest first. Raises ``LLMError`` when the embedding model fails.
    Two queries (and one embeddings request), however many rows."""
    from ..models import Embedding

    k = max(1, min(int(k), MAX_K))
    answer = llm.embed([query])
    wanted = pack(answer.vectors[0])
    scope = declaration.scope(user)
    keys = scope.order_by().annotate(_embedding_key=Cast("pk", CharField())).values("_embedding_key")
    content_type = _content_type(declaration)
    model = llm.embedding_model()
    if pgvector.enabled():
        sql, params = keys.query.sql_with_params()
        ranked = pgvector.nearest(
            content_type_id=content_type.pk,
            model=model,
            dimensions=answer.dimensions,
            query=wanted,
            scope_sql=sql,
            scope_params=params,
            k=k,
        )
    else:
        stored = Embedding.objects.filter(
            content_type=content_type, model=model, dimensions=answer.dimensions, object_id__in=keys
        ).values_list("object_id", "vector")
        ranked = _ranked(list(stored), wanted, answer.dimensions, k)
    if not ranked:
        return []
    pk = declaration.model._meta.pk
    by_key = {key: pk.to_python(key) for key, _ in ranked}
    rows = scope.filter(pk__in=list(by_key.values())).values("pk", *declaration.show)
    shown = {row["pk"]: row for row in rows}
    hits = []
    for key, score in ranked:
        row = shown.get(by_key[key])
        if row is not None:
            row = {name: value for name, value in row.items() if name != "pk" or name in declaration.show}
            hits.append(Hit(row={name: _plain(value) for name, value in row.items()}, score=round(score, 4)))
    return hits


def _ranked(
    stored: list[tuple[str, bytes]], query: bytes, dimensions: int, k: int
) -> list[tuple[str, float]]:
    if not stored:
        return []
    keys = [key for key, _ in stored]
    matrix = np.frombuffer(b"".join(bytes(vector) for _, vector in stored), dtype="<f4").reshape(
        len(keys), dimensions
    )
    scores = matrix @ np.frombuffer(query, dtype="<f4")
    top = np.argpartition(-scores, k - 1)[:k] if len(keys) > k else np.arange(len(keys))
    order = sorted(top.tolist(), key=lambda index: (-scores[index], keys[index]))
    return [(keys[index], float(scores[index])) for index in order]


def _plain(value: Any) -> Any:
    """A JSON-ready value."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
