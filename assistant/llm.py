"""The model client: the ``openai`` SDK against the configured endpoint.

``stream_chat`` streams one answer, hands every text delta to a callback, and turns
every failure into an ``LLMError`` with a text fit for the user and whether trying
again may help.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import openai
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection

logger = logging.getLogger(__name__)

TIMEOUT_TEXT = "Request timed out. Please try again."
UNREACHABLE_TEXT = "Unable to reach the AI server. Please try again later."
GENERIC_TEXT = "Oops! Something went wrong. Please try again."
DEMO_BASE_URL = "http://demo-model.invalid/v1"


def db_connection_release() -> None:
    """Give the database connection back (to the pool) while the model talks: a worker
    streams many answers at once on threads. Django reconnects on the next query."""
    if not connection.in_atomic_block:
        connection.close()


class LLMError(Exception):
    def __init__(self, message: str, *, transient: bool, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.status = status


class Cancelled(Exception):
    """The caller asked to stop while the answer streamed."""


@dataclass
class ChatResult:
    content: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: The tools run while answering: ``{"call_id", "name", "ok"}`` each.
    tool_runs: list[dict[str, Any]] = field(default_factory=list)


#: The model (and reasoning effort) the answer being made uses: set by ``choosing``.
_choice: ContextVar[tuple[str, str | None] | None] = ContextVar("model_choice", default=None)


@contextlib.contextmanager
def choosing(model: str, reasoning_effort: str | None = None) -> Iterator[None]:
    """Inside the block, model calls use ``model`` (and pass ``reasoning_effort``)."""
    token = _choice.set((model, reasoning_effort))
    try:
        yield
    finally:
        _choice.reset(token)


def _chosen(model: str | None, request: dict[str, Any]) -> str:
    """The model of a call, and its reasoning effort put in ``request``."""
    chosen = _choice.get()
    if model is None and chosen is not None:
        model, effort = chosen
        if effort:
            request["reasoning_effort"] = effort
    return model or settings.OPENAI_MODEL


def is_demo() -> bool:
    return settings.OPENAI_BASE_URL == "demo"


_clients: dict[tuple, openai.OpenAI] = {}
_clients_lock = threading.Lock()


def client(*, read_timeout: float | None = None) -> openai.OpenAI:
    """An SDK client for the configured endpoint (the offline demo model by default).

    Clients are kept per configuration, so that their connection pools are reused.
    """
    key = (
        settings.OPENAI_BASE_URL,
        settings.OPENAI_API_KEY,
        read_timeout or settings.OPENAI_READ_TIMEOUT,
        settings.OPENAI_CONNECT_TIMEOUT,
    )
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _new_client(read_timeout)
        return _clients[key]


def _new_client(read_timeout: float | None) -> openai.OpenAI:
    timeout = openai.Timeout(
        read_timeout or settings.OPENAI_READ_TIMEOUT, connect=settings.OPENAI_CONNECT_TIMEOUT
    )
    options: dict[str, Any] = {"timeout": timeout, "max_retries": 0}
    if is_demo():
        from .demo_model import demo_http_client

        options.update(base_url=DEMO_BASE_URL, api_key="demo", http_client=demo_http_client())
    else:
        options.update(api_key=settings.OPENAI_API_KEY or "unset", base_url=settings.OPENAI_BASE_URL)
    return openai.OpenAI(**options)


def endpoint_answers(*, timeout: float = 3.0) -> bool:
    """True when the model server answers a request for its model list."""
    try:
        client(read_timeout=timeout).models.list()
    except openai.OpenAIError:
        return False
    return True


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str) and inner["message"]:
            return inner["message"]
    return exc.message or GENERIC_TEXT


def as_llm_error(exc: Exception) -> LLMError:
    """Map an SDK (or transport) failure to a readable, classified error."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(TIMEOUT_TEXT, transient=True)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(UNREACHABLE_TEXT, transient=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        transient = status == 429 or status >= 500
        return LLMError(_api_message(exc), transient=transient, status=status)
    if type(exc).__module__.split(".")[0] in ("httpx2", "httpx", "httpcore", "h11"):
        # A transport failure mid-stream (a connection dropped half-way).
        return LLMError(UNREACHABLE_TEXT, transient=True)
    logger.exception("Unexpected model client failure", exc_info=exc)
    return LLMError(GENERIC_TEXT, transient=False)


def stream_chat(
    messages: list[dict[str, Any]],
    *,
    on_delta: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    model: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | None = None,
) -> ChatResult:
    """Stream one answer. Raises ``LLMError`` or ``Cancelled``."""
    parts: list[str] = []
    usage: dict[str, int] = {}
    finish_reason = None
    tool_calls: dict[int, dict[str, Any]] = {}
    request: dict[str, Any] = {"messages": messages, "stream": True}
    request["stream_options"] = {"include_usage": True}
    model = request["model"] = _chosen(model, request)
    if tools:
        request["tools"] = tools
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
    try:
        stream = client().chat.completions.create(**request)
        with stream:
            for chunk in stream:
                if chunk.usage is not None:
                    usage = {
                        "prompt_tokens": chunk.usage.prompt_tokens or 0,
                        "completion_tokens": chunk.usage.completion_tokens or 0,
                        "total_tokens": chunk.usage.total_tokens or 0,
                    }
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta is not None and delta.content:
                        parts.append(delta.content)
                        if on_delta is not None:
                            on_delta(delta.content)
                    for call in (delta.tool_calls or []) if delta is not None else []:
                        entry = tool_calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                        entry["id"] = call.id or entry["id"]
                        if call.function is not None:
                            entry["name"] += call.function.name or ""
                            entry["arguments"] += call.function.arguments or ""
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
                if should_stop is not None and should_stop():
                    raise Cancelled
    except (Cancelled, DatabaseError, InterfaceError):
        raise  # a callback's database trouble is not the model's failure
    except Exception as exc:  # noqa: BLE001  (every failure becomes an LLMError)
        raise as_llm_error(exc) from exc
    if finish_reason is None:
        # The stream ended without saying why: the connection dropped half-way.
        raise LLMError(UNREACHABLE_TEXT, transient=True)
    return ChatResult(
        content="".join(parts),
        model=model,
        usage=usage,
        finish_reason=finish_reason,
        tool_calls=[tool_calls[i] for i in sorted(tool_calls)],
    )


def complete(
    messages: list[dict[str, Any]], *, model: str | None = None, response_format: dict[str, Any] | None = None
) -> ChatResult:
    """One answer, not streamed (for prompt-backed actions); ``response_format`` as the
    OpenAI API takes it (``{"type": "json_schema", ...}``). Raises ``LLMError``."""
    request: dict[str, Any] = {"messages": messages}
    model = request["model"] = _chosen(model, request)
    if response_format is not None:
        request["response_format"] = response_format
    try:
        answer = client().chat.completions.create(**request)
    except Exception as exc:  # noqa: BLE001  (every failure becomes an LLMError)
        raise as_llm_error(exc) from exc
    usage = answer.usage
    choice = answer.choices[0] if answer.choices else None
    return ChatResult(
        content=(choice.message.content or "") if choice is not None else "",
        model=answer.model or model,
        usage={
            "prompt_tokens": usage.prompt_tokens or 0,
            "completion_tokens": usage.completion_tokens or 0,
            "total_tokens": usage.total_tokens or 0,
        }
        if usage is not None
        else {},
        finish_reason=choice.finish_reason if choice is not None else None,
    )
