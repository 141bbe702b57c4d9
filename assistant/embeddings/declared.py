"""What a site declares to be embedded: which text of which model, who may find which
rows, and how its vectors are kept current.

    from assistant import embeddings

    embeddings.register(embeddings.embedded(
        Book,
        fields=["title", "blurb"],                  # or text=lambda book: ...
        queryset=lambda user: Book.objects.filter(owner=user),
        show=["id", "title", "author__name"],
        update="background",
    ))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.db.models import QuerySet

from ..tools.declared import field_at

#: How a declaration's vectors are kept current: after each save, once the transaction
#: commits, in the saving process ("save"); after each save, on Celery or the embedded
#: default's threads ("background"); or only by ``manage.py embed`` ("command").
UPDATES = ("save", "background", "command")

Scope = Callable[[Any], QuerySet]
#: The most characters of a row's text that are embedded (embedding models take a few
#: thousand tokens at most).
MAX_TEXT_CHARS = 8_000


@dataclass(frozen=True, eq=False)
class Embedded:
    model: type[models.Model]
    queryset: Scope
    fields: tuple[str, ...] = ()
    text: Callable[[models.Model], str] | None = None
    show: tuple[str, ...] = ()
    update: str = "background"
    description: str = ""
    select_related: tuple[str, ...] = ()
    #: Whether saves (``post_save``) start an update; without, the code that writes the
    #: rows calls ``indexing.changed`` (deletes always remove the vector).
    track_saves: bool = True

    @property
    def label(self) -> str:
        """``app_label.model``: how the API, the tool and the command name it."""
        return self.model._meta.label_lower

    def text_of(self, row: models.Model) -> str:
        """The text of ``row`` that is embedded."""
        if self.text is not None:
            text = str(self.text(row) or "")
        else:
            parts = (getattr(row, name) for name in self.fields)
            text = "\n".join(str(part) for part in parts if part not in (None, ""))
        return text.strip()[:MAX_TEXT_CHARS]

    def rows(self) -> QuerySet:
        """Every row of the model, loaded as ``text_of`` needs it."""
        rows = self.model._default_manager.all()
        return rows.select_related(*self.select_related) if self.select_related else rows

    def scope(self, user) -> QuerySet:
        """The rows ``user`` may find: asked anew on every search."""
        if user is None or not getattr(user, "is_active", False):
            return self.model._default_manager.none()
        return self.queryset(user)


def embedded(
    model: type[models.Model],
    *,
    queryset: Scope,
    fields: Sequence[str] = (),
    text: Callable[[models.Model], str] | None = None,
    show: Sequence[str] = (),
    update: str = "background",
    description: str = "",
    select_related: Sequence[str] = (),
    track_saves: bool = True,
) -> Embedded:
    """Declare the embedded text of ``model``: its ``fields`` joined, or ``text(row)``;
    ``queryset(user)`` the rows a user may find (as a tool's, asked on every search);
    ``show`` the values (``relation__field`` paths allowed) a search returns of each row
    found (default: the primary key and ``fields``); ``update`` one of ``UPDATES``;
    ``select_related`` what ``text`` reads through relations; ``track_saves=False`` for
    rows written with ``update()``, whose writer calls ``changed`` itself."""
    if bool(fields) == (text is not None):
        raise ImproperlyConfigured(f"Embedding of {model.__name__}: give fields or text, not both.")
    if update not in UPDATES:
        raise ImproperlyConfigured(f"Embedding of {model.__name__}: update is one of {', '.join(UPDATES)}.")
    for name in fields:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            raise ImproperlyConfigured(f"{model.__name__} has no field {name!r}.") from None
        if field.is_relation:
            raise ImproperlyConfigured(f"Embedding of {model.__name__}: {name!r} is a relation; use text.")
    shown = tuple(show) or (model._meta.pk.name, *fields)
    for path in shown:
        field_at(model, path)
    return Embedded(
        model=model,
        queryset=queryset,
        fields=tuple(fields),
        text=text,
        show=shown,
        update=update,
        description=description or model._meta.verbose_name_plural.capitalize(),
        select_related=tuple(select_related),
        track_saves=track_saves,
    )
