"""The OpenAI Chat Completions wire format, for the servers that speak it to the SDK:
the offline demo model and the tests' scripted model server."""

from __future__ import annotations

import json
import re
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
