"""``semantic_search``: the tool over every declared model, for chats and MCP."""

from __future__ import annotations

from typing import Any

from ..tools import ToolContext, ToolError, function_tool
from .registry import EmbeddingRegistry
from .searching import nearest

NAME = "semantic_search"
DEFAULT_K = 5
MAX_K = 20


def semantic_search_tool(registry: EmbeddingRegistry):
    """The tool over the models declared in ``registry`` now (its ``model`` argument is
    one of their labels)."""
    labels = registry.labels()
    described = "; ".join(f"{d.label}: {d.description}" for d in registry.all())

    @function_tool(
        name=NAME,
        description=(
            "Find rows by meaning rather than exact words: the rows of one model nearest a "
            f"query, nearest first, with a score from -1 to 1. Models: {described}."
        ),
        parameters={
            "properties": {
                "query": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                    "description": "What to look for.",
                },
                "model": {"enum": labels, "description": "Which model's rows to search."},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_K,
                    "description": f"At most this many rows (default {DEFAULT_K}).",
                },
            },
            "required": ["query", "model"],
        },
    )
    def semantic_search(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
        from ..llm import LLMError

        if arguments["model"] not in registry:
            raise ToolError(f"No model {arguments['model']!r} is searched.")
        try:
            hits = nearest(
                registry.get(arguments["model"]),
                user=context.user,
                query=arguments["query"],
                k=arguments.get("limit") or DEFAULT_K,
            )
        except LLMError as exc:
            raise ToolError(f"The search failed: {exc.message}") from exc
        return {"results": [{**hit.row, "score": hit.score} for hit in hits], "count": len(hits)}

    return semantic_search
