"""The OpenAI Chat Completions (and embeddings) wire format, for the servers that speak it to the SDK:
the offline demo model and the tests' scripted model server."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

SSE_DONE = b"data: [DONE]\n\n"
_WORDS = re.compile(r"\S+\s*|\s+")
_TOKENS = re.compile(r"\w+|[^\w\s]")


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def split_into_chunks(text: str) -> list[str]:
    """Word-sized pieces that join back to exactly ``text``."""
    return _WORDS.findall(text)


def count_tokens(text: str) -> int:
    return len(_TOKENS.findall(text)) if text else 0


def usage_for(messages: list[dict[str, Any]], answer: str) -> dict[str, int]:
    prompt = sum(count_tokens(str(m.get("content") or "")) + 4 for m in messages)
    completion = max(1, count_tokens(answer)) if answer else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chunk(
    *, id: str, model: str, created: int, delta: dict | None = None, finish_reason=None, usage=None,
    choices: bool = True,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}]
        if choices
        else [],
        "usage": usage,
    }


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def stream_events(
    *,
    text_chunks: list[str],
    model: str,
    usage: dict[str, int] | None,
    include_usage: bool,
    tool_calls: list[dict[str, Any]] | None = None,
) -> Iterator[bytes]:
    """Every SSE frame of one streamed answer, as OpenAI sends them."""
    base = {"id": completion_id(), "model": model, "created": int(time.time())}
    yield sse(chunk(**base, delta={"role": "assistant", "content": ""}))
    for piece in text_chunks:
        yield sse(chunk(**base, delta={"content": piece}))
    for index, call in enumerate(tool_calls or []):
        delta = {
            "tool_calls": [
                {
                    "index": index,
                    "id": call.get("id") or f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call.get("arguments", "{}")},
                }
            ]
        }
        yield sse(chunk(**base, delta=delta))
    yield sse(chunk(**base, finish_reason="tool_calls" if tool_calls else "stop"))
    if include_usage:
        yield sse(chunk(**base, usage=usage, choices=False))
    yield SSE_DONE


def completion(*, text: str, model: str, usage: dict[str, int], tool_calls=None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": call.get("id") or f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": call["name"], "arguments": call.get("arguments", "{}")},
            }
            for call in tool_calls
        ]
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": usage,
    }


def error_body(message: str, *, type: str = "server_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


def models_list(models: list[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 0, "owned_by": "local"} for m in models],
    }


_EMBED_WORDS = re.compile(r"[^\W_]+", re.UNICODE)


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def hashed_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector of ``text`` (the hashing trick over its stemmed
    words): texts that share words score higher against each other than texts that
    don't. What the offline demo model and the tests' model server answer."""
    vector = [0.0] * dimensions
    for word in _EMBED_WORDS.findall(text or ""):
        digest = hashlib.blake2b(_stem(word).encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    if not norm:
        vector[0], norm = 1.0, 1.0
    return [value / norm for value in vector]


def embeddings_list(vectors: list[list[float]], *, model: str, encoding_format: str | None, tokens: int):
    """An embeddings response, each vector as floats or (``base64``, the SDK's default)
    as base64 of little-endian float32."""

    def encoded(vector: list[float]):
        if encoding_format == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return vector

    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encoded(vector)}
            for index, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    """The texts of an embeddings request (a string or a list of them)."""
    given = body.get("input")
    return [given] if isinstance(given, str) else [str(text) for text in given or []]


def embeddings_answer(body: dict[str, Any], *, model: str, dimensions: int) -> dict[str, Any]:
    """The answer to an embeddings request: each input's hashed vector (of the request's
    ``dimensions``, else ``dimensions``), encoded as it asked."""
    texts = embedding_inputs(body)
    size = int(body.get("dimensions") or dimensions)
    return embeddings_list(
        [hashed_embedding(text, size) for text in texts],
        model=model,
        encoding_format=body.get("encoding_format"),
        tokens=sum(count_tokens(text) for text in texts),
    )
