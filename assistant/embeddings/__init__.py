"""Embeddings and semantic search over a site's objects: declared per model
(``embedded``, registered from each app's ``ai_embeddings`` module), kept current
after saves, in the background or by ``manage.py embed`` (``indexing``), and searched
within a user's scope (``nearest``), as the API, the ``semantic_search`` tool and MCP do."""

from .declared import UPDATES, Embedded, embedded
from .indexing import Counts, changed, embed_rows, remove_orphans
from .registry import EmbeddingRegistry, register, site
from .searching import Hit, nearest

__all__ = [
    "UPDATES",
    "Counts",
    "Embedded",
    "EmbeddingRegistry",
    "Hit",
    "changed",
    "embed_rows",
    "embedded",
    "nearest",
    "register",
    "remove_orphans",
    "site",
]
