"""The OpenAPI document as clients read it: drf-spectacular's postprocessing hook that
tags each operation with its area, adds the error shape (``Error``, see
``assistant.errors``) and documents the statuses every operation may answer.

By rule, from the document itself: 429 on every operation (every view is throttled), 401
on every one that needs a login, 404 on every path with a ``{parameter}``, 400 on every
operation that takes a body or query or header parameters, 413 and 415 on every one that
takes a body. What only some views answer (403, 409, 503, ...) is in their
``extend_schema(responses=...)``, with :func:`errors`; every error response without a
body of its own gets ``Error``'s.
"""

from __future__ import annotations

import copy
import re
from typing import Any

#: The areas, in the order the docs show them. An operation's tag is the area of its path
#: (``AREAS``), unless its view gave it one of these itself.
AREA_DESCRIPTIONS = {
    "sessions": "Conversations: list, start, read, rename, delete, export, apply.",
    "messages": "Questions and answers: send, retry, cancel, regenerate, edit, show a version, rate.",
    "tools": "Writing tools' calls waiting for your decision: in an answer, or an outside agent's over MCP.",
    "modes": "The assistant's modes, and whether you can ask in them now.",
    "actions": "Prompt-backed actions: their input in, a typed result out.",
    "search": "Your conversations that said some words.",
    "sharing": "Read-only links to a conversation, and what they show.",
    "models": "The models you may pick for an answer.",
    "usage": "Your tokens this period, against your limit.",
    "disclaimer": "The disclaimer to accept before asking.",
    "auth": "Register, exchange credentials for JWTs, refresh, log out; your profile.",
    "keys": "Your personal API keys, for outside agents (/mcp/).",
    "events": "Store events, routed by type to their handlers; read yours.",
    "schedules": "Events published later: once at a time, or on a cron.",
    "agents": "Worker tasks that agents run, with their log lines.",
    "projects": "The site's own objects: projects, workflows, jobs and runs.",
    "health": "Whether the assistant is configured and its model endpoint answers.",
}
#: ``SPECTACULAR_SETTINGS["TAGS"]``.
TAGS = [{"name": name, "description": text} for name, text in AREA_DESCRIPTIONS.items()]

#: The area of a path after ``api/`` (a site may mount the API under a prefix): the
#: first pattern that matches its start.
AREAS = [
    (re.compile(r"sessions/\{[^/]+\}/share/|shared/"), "sharing"),
    (re.compile(r"sessions/\{[^/]+\}/messages/"), "messages"),
    (re.compile(r"messages/\{[^/]+\}/tools/|tool-calls/"), "tools"),
    (re.compile(r"sessions/"), "sessions"),
    (re.compile(r"messages/"), "messages"),
    (re.compile(r"(register|token|refresh|me)(/|$)"), "auth"),
    (re.compile(r"schedule(/|$)"), "schedules"),
    (re.compile(r"tasks(/|$)"), "agents"),
    (re.compile(r"(projects|workflows|jobs|runs)/"), "projects"),
    (re.compile(r"(modes|actions|search|models|usage|disclaimer|keys|events|health)(/|$)"), None),
]

ERROR = {
    "type": "object",
    "description": "Every error's answer: a code and a text, or the fields' errors.",
    "properties": {
        "error": {
            "type": "string",
            "description": "What went wrong, as a code: invalid, not_authenticated, permission_denied, "
            "not_found, conflict, throttled, usage_limit, not_configured, queue_unavailable, ...",
        },
        "detail": {
            "description": 'A text, or the fields\' errors as {"field": ["text"]}.',
            "anyOf": [
                {"type": "string"},
                {"type": "object", "additionalProperties": True},
                {"type": "array", "items": {}},
            ],
        },
        "result": {
            "type": "object",
            "additionalProperties": True,
            "description": "What the request saved even so (queue_unavailable: the message is answered "
            "once the work queue is back).",
        },
    },
    "required": ["error", "detail"],
}
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

#: What each error status means when its view says nothing more.
DESCRIPTIONS = {
    400: "The request does not match this document: the fields' errors are in detail.",
    401: "Not authenticated: no credentials, or an invalid or ended token.",
    403: "Authenticated, but not allowed to do this.",
    404: "Nothing you may see has this id.",
    409: "The request conflicts with the current state.",
    413: "The request body is too large.",
    415: "The request body is not JSON (Content-Type: application/json).",
    422: "The Idempotency-Key was already used for a different request.",
    429: "Too many requests: throttled (per user, or per client address without a login); "
    "Retry-After says when to try again.",
    502: "The model's answer was not what was asked for.",
    503: "The assistant is not configured, or its model or work queue is unavailable.",
}

#: The reasons several views share.
READ_ONLY = (
    "You may read this session but not change it (a viewer of its project, or someone else's public one)."
)
DISCLAIMER = "Or the current disclaimer is not accepted (POST /api/disclaimer/)."
ASK_LIMITS = "Over your usage limit, too many answers in progress, or throttled (Retry-After)."
ASK_UNAVAILABLE = (
    "The assistant is not configured; or the work queue is down: the message is saved (result) and "
    "answered once it is back."
)

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def errors(descriptions: dict[int, str]) -> dict:
    """Error responses for ``extend_schema(responses=...)``, by status: each with the
    ``Error`` body and its description."""
    from drf_spectacular.utils import OpenApiResponse  # the settings import this module

    return {status: OpenApiResponse(description=text) for status, text in descriptions.items()}


def area_of(path: str) -> str | None:
    tail = path.split("/api/", 1)[1] if "/api/" in path else path.lstrip("/")
    for pattern, area in AREAS:
        found = pattern.match(tail)
        if found:
            return area or found.group(1)
    return None


def _needs_login(operation: dict[str, Any]) -> bool:
    security = operation.get("security")
    return bool(security) and {} not in security


def _common_statuses(path: str, operation: dict[str, Any]) -> list[int]:
    statuses = [429]
    body = "requestBody" in operation
    if body or any(parameter["in"] != "path" for parameter in operation.get("parameters", [])):
        statuses.append(400)
    if _needs_login(operation):
        statuses.append(401)
    if "{" in path:
        statuses.append(404)
    if body:
        statuses += [413, 415]
    return statuses


def _open_objects(value: Any) -> None:
    """``additionalProperties: {}`` (drf-spectacular's free object) spelt ``true``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "additionalProperties" and item == {}:
                value[key] = True
            else:
                _open_objects(item)
    elif isinstance(value, list):
        for item in value:
            _open_objects(item)


def postprocess(
    result: dict[str, Any], generator=None, request=None, public=None, **kwargs
) -> dict[str, Any]:
    """Tags, the ``Error`` component and the common error responses (the module docstring).
    Runs after drf-spectacular's enum hook, which rebuilds the components."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", copy.deepcopy(ERROR))
    for path, operations in result.get("paths", {}).items():
        area = area_of(path)
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            if area and not set(operation.get("tags", [])) & AREA_DESCRIPTIONS.keys():
                operation["tags"] = [area]
            responses = operation.setdefault("responses", {})
            for status in _common_statuses(path, operation):
                responses.setdefault(str(status), {"description": ""})
            for status, response in responses.items():
                if not status.isdigit() or int(status) < 400:
                    continue
                if not response.get("description"):
                    response["description"] = DESCRIPTIONS.get(int(status), "An error.")
                response.setdefault("content", copy.deepcopy(ERROR_CONTENT))
            operation["responses"] = dict(sorted(responses.items()))
    _open_objects(result)
    return result
