"""Tools declared in a few lines: over a model (what the user may read of it) or over a
function (a write, with its input schema). The JSON schema the model sees is generated
from the declaration; every call runs as the user and asks for the user's rows anew.

    from assistant import tools

    tools.register(tools.model_tool(
        Book,
        name="find_books",
        description="Books on the user's shelf.",
        queryset=lambda user: Book.objects.filter(owner=user),
        fields=["id", "title", "author", "published"],
        filters={"title": ["icontains"], "published": ["gte", "lte"], "id": ["exact", "in"]},
        ordering=["title", "-published"],
        limit=20,
    ))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.db.models import QuerySet

from .running import Tool, ToolContext

#: The lookups a filter may offer, and how each one's argument is typed.
LOOKUPS = ("exact", "iexact", "contains", "icontains", "startswith", "gt", "gte", "lt", "lte", "in", "isnull")
#: The most values an ``in`` filter takes.
IN_MAX_ITEMS = 100

Scope = Callable[[Any], QuerySet]
Narrow = Callable[[ToolContext, QuerySet], QuerySet]


def field_at(model: type[models.Model], path: str) -> models.Field:
    """The model field at ``path`` (``name`` or ``relation__name``)."""
    current: Any = model
    field: Any = None
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except (FieldDoesNotExist, AttributeError):
            raise ImproperlyConfigured(f"{model.__name__} has no field {path!r}.") from None
        if field.is_relation and field.related_model is not None:
            current = field.related_model
    return field


def field_schema(field: models.Field) -> dict[str, Any]:
    """The JSON schema of one value of ``field``."""
    if field.is_relation:
        target = field.target_field if hasattr(field, "target_field") else field.related_model._meta.pk
        return field_schema(target)
    if isinstance(field, models.BooleanField):
        schema: dict[str, Any] = {"type": "boolean"}
    elif isinstance(field, models.IntegerField | models.AutoField | models.BigAutoField):
        schema = {"type": "integer"}
    elif isinstance(field, models.FloatField | models.DecimalField):
        schema = {"type": "number"}
    elif isinstance(field, models.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, models.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(field, models.UUIDField):
        schema = {"type": "string", "format": "uuid"}
    else:
        schema = {"type": "string"}
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
    if field.choices:
        schema["enum"] = [value for value, _ in field.flatchoices]
    if field.null and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema


def _lookup_schema(field: models.Field, lookup: str) -> dict[str, Any]:
    value = field_schema(field)
    if lookup == "isnull":
        return {"type": "boolean"}
    if lookup in ("contains", "icontains", "startswith", "iexact"):
        return {"type": "string", "maxLength": 200}
    if lookup == "in":
        return {"type": "array", "items": value, "maxItems": IN_MAX_ITEMS}
    return value


def _argument_name(path: str, lookup: str) -> str:
    return path if lookup == "exact" else f"{path}__{lookup}"


def model_tool(
    model: type[models.Model],
    *,
    name: str,
    description: str,
    queryset: Scope,
    fields: Sequence[str],
    filters: Mapping[str, Iterable[str]] | None = None,
    ordering: Sequence[str] = (),
    limit: int = 20,
    narrow: Narrow | None = None,
) -> Tool:
    """A read tool listing rows of ``model``: ``queryset(user)`` is what the user may
    see (called on every call, so a tool never reaches another user's rows, whatever
    filter the model passes); ``fields`` what it reads (``relation__field`` paths
    allowed); ``filters`` which lookups each field offers (``exact``, ``icontains``,
    ``gte``, ``in``...); ``ordering`` the orders the model may ask for (each also
    reversed); ``limit`` the most rows one call returns. ``narrow(context, rows)``, when
    given, narrows the rows to where the call is made (in a conversation about a job,
    that job's rows, say; ``context.session`` is None over MCP)."""
    filters = {path: list(lookups) for path, lookups in (filters or {}).items()}
    for path in fields:
        field_at(model, path)
    properties: dict[str, Any] = {}
    lookups_of: dict[str, tuple[str, str]] = {}
    for path, lookups in filters.items():
        field = field_at(model, path)
        for lookup in lookups:
            if lookup not in LOOKUPS:
                raise ImproperlyConfigured(f"{name}: {lookup!r} is not one of {', '.join(LOOKUPS)}.")
            argument = _argument_name(path, lookup)
            properties[argument] = {
                **_lookup_schema(field, lookup),
                "description": f"Only rows whose {path.replace('__', ' ')} "
                + {"exact": "is", "in": "is one of", "isnull": "is empty (true) or set (false)"}.get(
                    lookup, lookup
                )
                + " this.",
            }
            lookups_of[argument] = (path, lookup)
    orders = []
    for order in ordering:
        path = order.lstrip("-")
        field_at(model, path)
        orders += [path, f"-{path}"]
    if orders:
        properties["order_by"] = {"enum": orders, "description": "Sort by this field; '-' for descending."}
    properties["limit"] = {
        "type": "integer",
        "minimum": 1,
        "maximum": limit,
        "description": f"At most this many rows, 1 to {limit} (default {limit}).",
    }
    default_order = list(ordering) or [model._meta.pk.name]

    def run(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
        rows = queryset(context.user)
        if narrow is not None:
            rows = narrow(context, rows)
        lookup = {}
        for argument, value in arguments.items():
            if argument in lookups_of:
                path, kind = lookups_of[argument]
                lookup[f"{path}__{kind}"] = value
        rows = rows.filter(**lookup)
        order = arguments.get("order_by")
        rows = rows.order_by(*([order] if order else default_order), model._meta.pk.name)
        wanted = min(int(arguments.get("limit") or limit), limit)
        found = list(rows.values(*fields)[: wanted + 1])
        return {"results": found[:wanted], "count": len(found[:wanted]), "more": len(found) > wanted}

    return Tool(
        name=name,
        description=description,
        parameters={"type": "object", "properties": properties, "additionalProperties": False},
        function=run,
    )


def function_tool(
    *,
    name: str,
    description: str,
    parameters: dict[str, Any],
    writes: bool = False,
    needs_session: bool = False,
    preview: Callable[[ToolContext, dict[str, Any]], Any] | None = None,
) -> Callable[[Callable[[ToolContext, dict[str, Any]], Any]], Tool]:
    """A tool over a function of the context and the checked arguments, used as a
    decorator; ``writes`` for one that changes data: it waits for the user's approval,
    who is shown ``preview(context, arguments)``. The function decides access itself,
    from ``context.user``, on every call."""
    schema = {"type": "object", "additionalProperties": False, "properties": {}, **parameters}

    def declare(function: Callable[[ToolContext, dict[str, Any]], Any]) -> Tool:
        return Tool(
            name=name,
            description=description,
            parameters=schema,
            function=function,
            writes=writes,
            needs_session=needs_session,
            preview=preview,
        )

    return declare
