"""A scripted OpenAI-compatible HTTP server for tests, on a free local port.

Each chat request takes the next scripted ``Reply`` (then ``default``): streamed
text in chunks, usage, tool calls, error statuses, delays, or a stream cut off
half-way. Embeddings requests answer with the demo model's hashed vectors, or take
the next of ``script_embeddings`` (an error status, a delay). The real ``openai`` SDK
talks to it over a socket.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from assistant.openai_protocol import (
    completion,
    embeddings_answer,
    error_body,
    models_list,
    split_into_chunks,
    stream_events,
    usage_for,
)

EMBEDDING_DIMENSIONS = 384


@dataclass
class Reply:
    text: str = "Hello from the test model."
    chunks: list[str] | None = None
    usage: dict[str, int] | None = None
    status: int = 200
    error: str = "The model failed."
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None
    tool_calls: list[dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: The text from the request's body, instead of ``text`` (an answer that reads what
    #: it was sent, such as a tool's result).
    respond: Any = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.owner._lock:
            self.server.owner.connections += 1

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self._connection_header()
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = not self.server.owner.keep_alive

    def _connection_header(self) -> None:
        if not self.server.owner.keep_alive:
            self.send_header("connection", "close")

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, models_list(["test-model"]))
        else:
            self._json(404, error_body("Not found", type="invalid_request_error"))

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(self.server.owner._take_embedding(body), body)
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, error_body("Not found", type="invalid_request_error"))
            return
        reply = self.server.owner._take(body)
        try:
            self._answer(reply, body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.server.owner._finished()

    def _embeddings(self, reply: Reply, body: dict) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self._json(
                reply.status, error_body(reply.error), {"retry-after": "0"} if reply.status == 429 else {}
            )
            return
        model = body.get("model", "test-embedding")
        self._json(200, embeddings_answer(body, model=model, dimensions=EMBEDDING_DIMENSIONS))

    def _answer(self, reply: Reply, body: dict) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            headers = {"retry-after": "0"} if reply.status == 429 else {}
            headers.update(reply.headers)
            self._json(reply.status, error_body(reply.error), headers)
            return
        messages = body.get("messages") or []
        text = reply.respond(body) if reply.respond is not None else reply.text
        chunks = reply.chunks if reply.chunks is not None else split_into_chunks(text)
        text = "".join(chunks)
        usage = reply.usage or usage_for(messages, text)
        if not body.get("stream"):
            self._json(200, completion(text=text, model=body.get("model", "test-model"), usage=usage,
                                       tool_calls=reply.tool_calls), reply.headers)  # fmt: skip
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self._connection_header()
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        frames = stream_events(
            text_chunks=chunks,
            model=body.get("model", "test-model"),
            usage=usage,
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            tool_calls=reply.tool_calls,
        )
        for index, frame in enumerate(frames):
            if reply.cut_after is not None and index > reply.cut_after:
                # Drop the connection mid-answer: no final chunk, no [DONE].
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
            if reply.chunk_delay and index > 0:
                time.sleep(reply.chunk_delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = not self.server.owner.keep_alive


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # bursts of hundreds of streams must not wait on SYN retries
    owner: ModelServer

    def handle_error(self, request, client_address) -> None:
        # A client that closes a kept-alive connection between requests is no error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ModelServer:
    def __init__(self, default: Reply | None = None, *, keep_alive: bool = False) -> None:
        """``keep_alive``: answer many requests on one connection, as hosted models do
        (the benchmarks); by default each connection is closed after its answer."""
        self.default = default or Reply()
        self.keep_alive = keep_alive
        #: Connections accepted so far.
        self.connections = 0
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[Reply] = deque()
        self._embedding_queue: deque[Reply] = deque()
        self.embedding_requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: _Server | None = None
        self.url = ""

    def start(self) -> ModelServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        threading.Thread(target=self._server.serve_forever, name="model-server", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def script_embeddings(self, *replies: Reply) -> None:
        with self._lock:
            self._embedding_queue.extend(replies)

    def _take_embedding(self, body: dict) -> Reply:
        with self._lock:
            self.embedding_requests.append(body)
            return self._embedding_queue.popleft() if self._embedding_queue else Reply()

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._embedding_queue.clear()
            self.embedding_requests.clear()
            self.requests.clear()
            self.max_in_flight = 0

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _take(self, body: dict) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self._queue.popleft() if self._queue else self.default

    def _finished(self) -> None:
        with self._lock:
            self.in_flight -= 1
