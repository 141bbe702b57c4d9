"""The model client: the ``openai`` SDK against the configured endpoint.

``stream_chat`` streams one answer, hands every text delta to a callback, and turns
every failure into an ``LLMError`` with a text fit for the user and whether trying
again may help.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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

from . import background

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


_async_clients: dict[tuple, openai.AsyncOpenAI] = {}


def async_client() -> openai.AsyncOpenAI:
    """The async SDK client of the background loop, kept per configuration (and loop):
    one connection pool for every stream of the process."""
    key = (
        id(background.loop()),
        settings.OPENAI_BASE_URL,
        settings.OPENAI_API_KEY,
        settings.OPENAI_READ_TIMEOUT,
        settings.OPENAI_CONNECT_TIMEOUT,
    )
    with _clients_lock:
        if key not in _async_clients:
            _async_clients[key] = _new_client(None, asynchronous=True)
        return _async_clients[key]


def _new_client(read_timeout: float | None, *, asynchronous: bool = False):
    timeout = openai.Timeout(
        read_timeout or settings.OPENAI_READ_TIMEOUT, connect=settings.OPENAI_CONNECT_TIMEOUT
    )
    options: dict[str, Any] = {"timeout": timeout, "max_retries": 0}
    if is_demo():
        from .demo_model import demo_http_client

        http_client = demo_http_client(asynchronous=asynchronous)
        options.update(base_url=DEMO_BASE_URL, api_key="demo", http_client=http_client)
    else:
        options.update(api_key=settings.OPENAI_API_KEY or "unset", base_url=settings.OPENAI_BASE_URL)
    return openai.AsyncOpenAI(**options) if asynchronous else openai.OpenAI(**options)


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


class _Answer:
    """An answer put together from its stream's chunks, each delta handed on."""

    def __init__(self, model: str, on_delta: Callable[[str], None] | None) -> None:
        self.model = model
        self.on_delta = on_delta
        self.parts: list[str] = []
        self.usage: dict[str, int] = {}
        self.finish_reason: str | None = None
        self.tool_calls: dict[int, dict[str, Any]] = {}

    def take(self, chunk: dict[str, Any]) -> None:
        """Add a chunk, as JSON reads it."""
        usage = chunk.get("usage")
        if usage:
            self.usage = {
                "prompt_tokens": usage.get("prompt_tokens") or 0,
                "completion_tokens": usage.get("completion_tokens") or 0,
                "total_tokens": usage.get("total_tokens") or 0,
            }
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                self.parts.append(content)
                if self.on_delta is not None:
                    self.on_delta(content)
            for call in delta.get("tool_calls") or ():
                blank = {"id": None, "name": "", "arguments": ""}
                entry = self.tool_calls.setdefault(call.get("index", 0), blank)
                entry["id"] = call.get("id") or entry["id"]
                function = call.get("function") or {}
                entry["name"] += function.get("name") or ""
                entry["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def result(self) -> ChatResult:
        if self.finish_reason is None:
            # The stream ended without saying why: the connection dropped half-way.
            raise LLMError(UNREACHABLE_TEXT, transient=True)
        return ChatResult(
            content="".join(self.parts),
            model=self.model,
            usage=self.usage,
            finish_reason=self.finish_reason,
            tool_calls=[self.tool_calls[i] for i in sorted(self.tool_calls)],
        )


# Streams are requested with the client's ``post`` and read as JSON: the request is
# already the API's JSON, and the SDK's request transform and response models were most
# of its cost per answer while doing nothing here.


def _read_stream(request: dict[str, Any], answer: _Answer, should_stop) -> None:
    """The stream read on this thread (a thread of its own per stream)."""
    stream = client().post(
        "/chat/completions", body=request, cast_to=object, stream=True, stream_cls=openai.Stream[object]
    )
    with stream:
        for chunk in stream:
            answer.take(chunk)
            if should_stop is not None and should_stop():
                raise Cancelled


async def _read_stream_async(request: dict[str, Any], answer: _Answer) -> None:
    """The stream read on the process's background loop, with the async client."""
    stream = await async_client().post(
        "/chat/completions", body=request, cast_to=object, stream=True, stream_cls=openai.AsyncStream[object]
    )
    async with stream:
        async for chunk in stream:
            answer.take(chunk)


def _read_stream_on_loop(request: dict[str, Any], answer: _Answer, should_stop) -> None:
    """Read the stream on the process's background loop while this thread waits for it,
    asking ``should_stop`` every CANCEL_CHECK_INTERVAL (here, where it may block); a
    stop cancels the stream on the loop at once."""
    from .conf import assistant_settings

    future = asyncio.run_coroutine_threadsafe(_read_stream_async(request, answer), background.loop())
    while True:
        concurrent.futures.wait([future], timeout=assistant_settings.CANCEL_CHECK_INTERVAL)
        if future.done():
            future.result()  # its exception, if it failed
            return
        if should_stop is not None and should_stop():
            future.cancel()
            raise Cancelled


def stream_chat(
    messages: list[dict[str, Any]],
    *,
    on_delta: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    model: str | None = None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | None = None,
) -> ChatResult:
    """Stream one answer. Raises ``LLMError`` or ``Cancelled``.

    The stream is read on the process's background event loop (``STREAM_ON_LOOP``)
    while this thread waits, so ``on_delta`` is called on that loop, once per chunk: it
    must not block (note the delta, publish it). ``should_stop`` is called on this
    thread, every CANCEL_CHECK_INTERVAL (or after every chunk without the loop)."""
    request: dict[str, Any] = {"messages": messages, "stream": True}
    request["stream_options"] = {"include_usage": True}
    model = request["model"] = _chosen(model, request)
    if tools:
        request["tools"] = tools
        if tool_choice is not None:
            request["tool_choice"] = tool_choice
    answer = _Answer(model, on_delta)
    try:
        if _streams_on_loop():
            _read_stream_on_loop(request, answer, should_stop)
        else:
            _read_stream(request, answer, should_stop)
    except (Cancelled, DatabaseError, InterfaceError):
        raise  # a callback's database trouble is not the model's failure
    except Exception as exc:  # noqa: BLE001  (every failure becomes an LLMError)
        raise as_llm_error(exc) from exc
    return answer.result()


def _streams_on_loop() -> bool:
    from .conf import assistant_settings

    return assistant_settings.STREAM_ON_LOOP and not background.on_a_loop()


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


def embedding_model() -> str:
    """The embedding model's name: ``EMBEDDING_MODEL``, else the demo's or OpenAI's."""
    from .conf import assistant_settings

    return assistant_settings.EMBEDDING_MODEL or ("demo" if is_demo() else "text-embedding-3-small")


@dataclass
class Embeddings:
    vectors: list[list[float]]
    model: str
    #: Each vector's size.
    dimensions: int
    tokens: int = 0


def embed(texts: list[str]) -> Embeddings:
    """The embedding model's vectors of ``texts``, in their order (``/v1/embeddings``,
    with ``dimensions`` when EMBEDDING_DIMENSIONS is set). Raises ``LLMError``."""
    from .conf import assistant_settings

    model = embedding_model()
    options: dict[str, Any] = {}
    if assistant_settings.EMBEDDING_DIMENSIONS:
        options["dimensions"] = assistant_settings.EMBEDDING_DIMENSIONS
    try:
        answer = client().embeddings.create(model=model, input=texts, **options)
    except Exception as exc:  # noqa: BLE001  (every failure becomes an LLMError)
        raise as_llm_error(exc) from exc
    vectors = [row.embedding for row in sorted(answer.data, key=lambda row: row.index)]
    if len(vectors) != len(texts) or len({len(vector) for vector in vectors}) > 1:
        raise LLMError(GENERIC_TEXT, transient=False)
    tokens = answer.usage.total_tokens if answer.usage is not None else 0
    return Embeddings(vectors, model, len(vectors[0]) if vectors else 0, tokens or 0)
