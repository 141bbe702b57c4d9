"""The registry of embedded models: any installed app registers its declarations in its
``ai_embeddings`` module, discovered when the app registry is ready; one declaration per
model, under the model's label (``projects.job``)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from .. import dispatch
from ..registry import NotRegistered, Registry
from . import indexing
from .declared import Embedded


class EmbeddingRegistry(Registry[Embedded]):
    kind = "embedded model"
    module = "ai_embeddings"

    def describe(self, entry: Embedded) -> str:
        return entry.label

    def register(self, declaration: Embedded) -> Embedded:
        if not isinstance(declaration, Embedded):
            raise ImproperlyConfigured(f"{declaration!r} is not an embedding declaration (see embedded).")
        self.add(declaration.label, declaration)
        if self is site:
            indexing.connect(declaration)
        return declaration

    def unregister(self, key: str) -> None:
        declaration = self.get(key)
        super().unregister(key)
        if self is site:
            indexing.disconnect(declaration)

    def get(self, label: str) -> Embedded:
        try:
            return self._registry[label]
        except KeyError:
            raise NotRegistered(self.missing(label)) from None

    def for_model(self, model: type[models.Model]) -> Embedded | None:
        return self._registry.get(model._meta.label_lower)

    def all(self) -> list[Embedded]:
        return list(self._registry.values())

    def labels(self) -> list[str]:
        return list(self._registry)


#: The project's registry.
site = EmbeddingRegistry()


def register(declaration: Embedded, *, registry: EmbeddingRegistry | None = None) -> Embedded:
    return (registry or site).register(declaration)


@dispatch.runs_here(indexing.EMBED_ROWS)
def embed_step(label: str, pks: list[str], *, retries_done: int = 0) -> dispatch.Outcome:
    """The background work of ``indexing.changed``: embed the rows of the declaration
    registered under ``label`` (skipped when there is none any more)."""
    if label not in site:
        return dispatch.Outcome("skipped")
    return indexing.embed_attempt(site.get(label), pks, retries_done=retries_done)
