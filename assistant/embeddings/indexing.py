"""Keeping vectors current: embedding rows (only those whose text changed), removing
the vectors of deleted rows, and the three ways of doing it (``declared.UPDATES``).

A row's vector records the hash of the text it was made from and the embedding model
and size: a row whose text, model and size are unchanged is never sent again. Saves
and deletes inside one transaction are gathered, so that a transaction that saves a
hundred rows makes one task and one embeddings request per batch, after it commits.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, models, transaction
from django.db.models.signals import post_delete, post_save

from .. import dispatch, llm
from ..conf import assistant_settings
from .declared import Embedded

logger = logging.getLogger(__name__)

EMBED_ROWS = "assistant.tasks.embed_rows"
#: Rows read from the database at a time when embedding a whole model.
READ_CHUNK = 500


def object_key(model: type[models.Model], pk: Any) -> str:
    """``pk`` as the database casts the primary key to text (how searches match vectors
    to the rows in a user's scope): ``str`` of the value the database stores."""
    field = model._meta.pk
    value = field.get_db_prep_value(field.to_python(pk), connections["default"], prepared=False)
    return str(value)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pack(vector: list[float]) -> bytes:
    """``vector`` scaled to unit length, as little-endian float32 bytes."""
    norm = sum(value * value for value in vector) ** 0.5 or 1.0
    return struct.pack(f"<{len(vector)}f", *(value / norm for value in vector))


@dataclass
class Counts:
    embedded: int = 0
    unchanged: int = 0
    removed: int = 0
    requests: int = 0
    tokens: int = 0

    def add(self, other: Counts) -> None:
        for name in ("embedded", "unchanged", "removed", "requests", "tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _content_type(declaration: Embedded) -> ContentType:
    return ContentType.objects.get_for_model(declaration.model, for_concrete_model=False)


def embed_rows(declaration: Embedded, pks: Iterable[Any] | None = None, *, stale_only: bool = True) -> Counts:
    """Embed the rows ``pks`` of ``declaration`` (every row when None): those without a
    vector, or whose text (or the embedding model) changed since theirs was made, or all
    of them without ``stale_only``. Rows of ``pks`` that no longer exist, and rows whose
    text is empty, lose their vector. Raises ``LLMError`` when the model fails (what was
    embedded before the failure is kept)."""
    from ..models import Embedding

    content_type = _content_type(declaration)
    counts = Counts()
    wanted = None if pks is None else {object_key(declaration.model, pk): pk for pk in pks}
    rows = declaration.rows()
    if wanted is not None:
        rows = rows.filter(pk__in=list(wanted.values()))
    seen: set[str] = set()
    for batch in _batches(rows.order_by("pk"), assistant_settings.EMBEDDING_BATCH):
        texts = {object_key(declaration.model, row.pk): declaration.text_of(row) for row in batch}
        seen.update(texts)
        counts.add(_embed_batch(content_type, texts, stale_only=stale_only))
    gone = set(wanted) - seen if wanted is not None else set()
    if gone:
        counts.removed += Embedding.objects.filter(content_type=content_type, object_id__in=gone).delete()[0]
    return counts


def remove_orphans(declaration: Embedded) -> int:
    """Remove the vectors of rows that no longer exist (deleted without signals, by a
    bulk delete or raw SQL)."""
    from django.db.models import CharField
    from django.db.models.functions import Cast

    from ..models import Embedding

    keys = declaration.model._default_manager.annotate(_key=Cast("pk", CharField())).values("_key")
    orphans = Embedding.objects.filter(content_type=_content_type(declaration)).exclude(object_id__in=keys)
    return orphans.delete()[0]


def _batches(rows, size: int) -> Iterator[list[models.Model]]:
    batch: list[models.Model] = []
    for row in rows.iterator(chunk_size=READ_CHUNK):
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _embed_batch(content_type: ContentType, texts: dict[str, str], *, stale_only: bool) -> Counts:
    from ..models import Embedding

    counts = Counts()
    model = llm.embedding_model()
    size = assistant_settings.EMBEDDING_DIMENSIONS
    stored = {
        key: (digest, name, dimensions)
        for key, digest, name, dimensions in Embedding.objects.filter(
            content_type=content_type, object_id__in=list(texts)
        ).values_list("object_id", "text_hash", "model", "dimensions")
    }
    empty = [key for key, text in texts.items() if not text]
    if empty:
        counts.removed += Embedding.objects.filter(content_type=content_type, object_id__in=empty).delete()[0]
    todo = {}
    for key, text in texts.items():
        if not text:
            continue
        digest = text_hash(text)
        mine = stored.get(key)
        if (
            stale_only
            and mine is not None
            and mine[0] == digest
            and mine[1] == model
            and (size is None or mine[2] == size)
        ):
            counts.unchanged += 1
            continue
        todo[key] = (text, digest)
    if not todo:
        return counts
    answer = llm.embed([text for text, _ in todo.values()])
    counts.requests += 1
    counts.tokens += answer.tokens
    vectors = [
        Embedding(
            content_type=content_type,
            object_id=key,
            model=model,
            dimensions=answer.dimensions,
            text_hash=digest,
            vector=pack(vector),
        )
        for (key, (_, digest)), vector in zip(todo.items(), answer.vectors, strict=True)
    ]
    Embedding.objects.bulk_create(
        vectors,
        update_conflicts=True,
        unique_fields=["content_type", "object_id"],
        update_fields=["model", "dimensions", "text_hash", "vector", "updated_at"],
    )
    from . import pgvector

    pgvector.store(content_type.pk, [(row.object_id, row.vector) for row in vectors])
    counts.embedded += len(vectors)
    return counts


# After saves and deletes ---------------------------------------------------------


@dataclass
class _Changes:
    """What one transaction saved and deleted of each declaration."""

    saved: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, set[str]] = field(default_factory=dict)
    declarations: dict[str, Embedded] = field(default_factory=dict)


_local = threading.local()


def _record(using: str, note) -> None:
    """Note a change (``note(changes)``) in what the atomic block open on ``using``
    changed, flushed once the transaction commits; outside a transaction, flushed at once.

    Changes are gathered per atomic block (savepoint): one rolled back drops its
    on-commit callback, and with it its changes; the next one starts afresh (the
    callback is looked for among the connection's)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        changes = _Changes()
        note(changes)
        _flush(changes)
        return
    pending = _local.__dict__.setdefault("changes", {})
    block = (using, tuple(connection.savepoint_ids))
    current = pending.get(block)
    if current is not None and _queued(connection, current[1]):
        note(current[0])
        return
    for stale in [
        key for key, (_, flush) in pending.items() if key[0] == using and not _queued(connection, flush)
    ]:
        del pending[stale]  # a rolled-back block's
    changes = _Changes()

    def flush() -> None:
        pending.pop(block, None)
        _flush(changes)

    pending[block] = (changes, flush)
    note(changes)
    transaction.on_commit(flush, using=using, robust=True)


def _queued(connection, flush) -> bool:
    return any(entry[1] is flush for entry in connection.run_on_commit)


def _saved(declaration: Embedded, sender, instance, using, raw=False, **kwargs) -> None:
    if raw or declaration.update == "command" or not declaration.track_saves:
        return
    key, pk = object_key(sender, instance.pk), instance.pk

    def note(changes: _Changes) -> None:
        changes.declarations[declaration.label] = declaration
        changes.saved.setdefault(declaration.label, {})[key] = pk

    _record(using, note)


def _deleted(declaration: Embedded, sender, instance, using, **kwargs) -> None:
    key = object_key(sender, instance.pk)

    def note(changes: _Changes) -> None:
        changes.declarations[declaration.label] = declaration
        changes.deleted.setdefault(declaration.label, set()).add(key)
        changes.saved.get(declaration.label, {}).pop(key, None)

    _record(using, note)


def _flush(changes: _Changes) -> None:
    from ..models import Embedding

    for label, keys in changes.deleted.items():
        declaration = changes.declarations[label]
        try:
            Embedding.objects.filter(content_type=_content_type(declaration), object_id__in=keys).delete()
        except Exception:  # noqa: BLE001  (``embed --stale`` removes what is left)
            logger.warning("Could not remove the vectors of deleted %s rows", label, exc_info=True)
    for label, saved in changes.saved.items():
        if saved:
            changed(changes.declarations[label], list(saved.values()))


def changed(declaration: Embedded, pks: list[Any]) -> None:
    """The rows ``pks`` of ``declaration`` changed (or were made): embed them as its
    ``update`` says. Call it after the commit (``save`` and ``delete`` call it
    themselves; code that writes with ``update()`` or ``bulk_create`` calls it)."""
    pks = [str(pk) for pk in pks]
    if declaration.update == "save":
        try:
            embed_rows(declaration, pks)
            return
        except llm.LLMError as exc:
            if not exc.transient:
                logger.warning("Could not embed %s %s: %s", declaration.label, pks, exc.message)
                return
        # A transient failure: tried again in the background, as background work is.
        _enqueue(declaration, pks, countdown=dispatch.backoff(0), retries_done=1)
        return
    if declaration.update == "background":
        _enqueue(declaration, pks)


def _enqueue(declaration: Embedded, pks: list[str], *, countdown: float = 0, retries_done: int = 0) -> None:
    try:
        dispatch.enqueue(EMBED_ROWS, declaration.label, pks, countdown=countdown, retries_done=retries_done)
    except Exception:  # noqa: BLE001  (``embed --stale`` catches up)
        logger.warning(
            "The broker did not take the embedding of %s %s", declaration.label, pks, exc_info=True
        )


def embed_attempt(declaration: Embedded, pks: list[str], *, retries_done: int = 0) -> dispatch.Outcome:
    """One try of the background work (``registry.embed_step``, the task, finds the
    declaration): embed the rows; a transient model failure is tried again after the
    chat calls' backoff, at most MAX_RETRIES times."""
    try:
        counts = embed_rows(declaration, pks)
    except llm.LLMError as exc:
        if exc.transient and retries_done < assistant_settings.MAX_RETRIES:
            return dispatch.Outcome("retry", retry_in=dispatch.backoff(retries_done))
        logger.warning("Could not embed %s %s: %s", declaration.label, pks, exc.message)
        return dispatch.Outcome("error")
    return dispatch.Outcome("success" if counts.embedded or counts.removed else "unchanged")


def connect(declaration: Embedded) -> None:
    """Record the declared model's saves and deletes (the handlers hold the declaration)."""
    uid = f"assistant-embeddings-{declaration.label}"
    saved, deleted = functools.partial(_saved, declaration), functools.partial(_deleted, declaration)
    post_save.connect(saved, sender=declaration.model, dispatch_uid=uid, weak=False)
    post_delete.connect(deleted, sender=declaration.model, dispatch_uid=uid, weak=False)


def disconnect(declaration: Embedded) -> None:
    uid = f"assistant-embeddings-{declaration.label}"
    post_save.disconnect(sender=declaration.model, dispatch_uid=uid)
    post_delete.disconnect(sender=declaration.model, dispatch_uid=uid)
