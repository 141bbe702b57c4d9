"""The offline demo model: what answers when no model endpoint is configured.

It is reached through the real ``openai`` SDK over the OpenAI protocol (an HTTP
transport of the SDK's own client, no network), streamed token by token, so the
embedded default takes exactly the production code path: request building,
streaming, usage from the last chunk, and saving. Every answer says plainly that it
comes from the demo model. Asked for workflow YAML, it answers with a valid workflow.
Asked for embeddings, it answers with deterministic vectors of the texts' words.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2

from .openai_protocol import (
    completion,
    embeddings_answer,
    models_list,
    split_into_chunks,
    stream_events,
    usage_for,
)

MODEL = "demo"
#: The size of the demo's embeddings when a request does not say.
EMBEDDING_DIMENSIONS = 384
DEMO_CHUNK_DELAY = 0.02
INTRO = "This is the offline demo model: no AI service is configured, so this answer is canned."

WORKFLOW_YAML = """\
name: {name}
jobs:
  Fetch-data:
    name: Fetch data
    adaptor: "@openfn/language-http@latest"
    body: |
      get('https://example.org/api/items');
  Send-data:
    name: Send data
    adaptor: "@openfn/language-common@latest"
    body: |
      fn(state => state);
triggers:
  webhook:
    type: webhook
    enabled: true
edges:
  webhook->Fetch-data:
    source_trigger: webhook
    target_job: Fetch-data
    condition_type: always
    enabled: true
  Fetch-data->Send-data:
    source_job: Fetch-data
    target_job: Send-data
    condition_type: on_job_success
    enabled: true
"""


def _workflow_name(question: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", question)[:4]
    return " ".join(w.capitalize() for w in words) or "Demo workflow"


def _demo_value(schema: dict[str, Any], name: str) -> Any:
    """A value that fits ``schema``, saying it is the demo's."""
    kind = schema.get("type")
    kind = next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: _demo_value(value, key) for key, value in properties.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    text = f"(demo model) {name.replace('_', ' ')}"
    return text[: schema.get("maxLength", len(text))]


def json_answer(schema: dict[str, Any]) -> str:
    """The demo's answer to a structured-output request: JSON that fits the schema."""
    return json.dumps(_demo_value(schema, "answer"))


def answer(messages: list[dict[str, Any]]) -> str:
    """The demo's deterministic answer to a conversation."""
    system = " ".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    question = users[-1] if users else ""
    first_line = question.strip().splitlines()[0] if question.strip() else ""
    if re.search(r"workflow", system, re.I) and re.search(r"yaml", system, re.I):
        yaml = WORKFLOW_YAML.format(name=_workflow_name(first_line))
        return (
            f"{INTRO} Here is a workflow for “{first_line[:80]}”:\n\n```yaml\n{yaml}```\n\n"
            "A webhook starts it; the first job fetches data and the second sends it on "
            "when the first succeeds. Connect a real model to get a workflow built for your request."
        )
    adaptor = re.search(r"uses the adaptor (\S+?)\.?(?:\s|$)", system)
    context = f" Your job uses {adaptor.group(1)}." if adaptor else ""
    return (
        f"{INTRO}\n\nYou asked: “{first_line[:200]}”.{context} A real model would now look at "
        "your job's code and its last run's log and suggest a fix. Set OPENAI_API_KEY (and "
        "OPENAI_BASE_URL for a local or hosted OpenAI-compatible server) to get real answers."
    )


class _SlowStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """The answer's frames, one every ``delay`` seconds, to the sync or the async client."""

    def __init__(self, frames: Iterator[bytes], delay: float) -> None:
        self.frames, self.delay = frames, delay

    def __iter__(self) -> Iterator[bytes]:
        for frame in self.frames:
            yield frame
            if self.delay:
                time.sleep(self.delay)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self.frames:
            yield frame
            if self.delay:
                await asyncio.sleep(self.delay)


def _handle(request: httpx2.Request) -> httpx2.Response:
    if request.method == "GET" and request.url.path.endswith("/models"):
        return httpx2.Response(200, json=models_list([MODEL]))
    if request.method == "POST" and request.url.path.endswith("/chat/completions"):
        body = json.loads(request.content or b"{}")
        messages = body.get("messages") or []
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            text = json_answer((response_format.get("json_schema") or {}).get("schema") or {})
        else:
            text = answer(messages)
        usage = usage_for(messages, text)
        if not body.get("stream"):
            return httpx2.Response(200, json=completion(text=text, model=MODEL, usage=usage))
        frames = stream_events(
            text_chunks=split_into_chunks(text),
            model=MODEL,
            usage=usage,
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        )
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=_SlowStream(frames, DEMO_CHUNK_DELAY),
        )
    if request.method == "POST" and request.url.path.endswith("/embeddings"):
        body = json.loads(request.content or b"{}")
        return httpx2.Response(
            200, json=embeddings_answer(body, model=MODEL, dimensions=EMBEDDING_DIMENSIONS)
        )
    return httpx2.Response(404, json={"error": {"message": "Not found", "type": "invalid_request_error"}})


def demo_transport() -> httpx2.BaseTransport:
    return httpx2.MockTransport(_handle)


def demo_http_client(*, asynchronous: bool = False) -> httpx2.Client | httpx2.AsyncClient:
    if asynchronous:
        return httpx2.AsyncClient(transport=demo_transport())
    return httpx2.Client(transport=demo_transport())
