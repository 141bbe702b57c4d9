"""Fixtures of the event tests: captured hand-offs to workers, fresh handler
registries, and a local NOTIFY_URL receiver."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from events.registry import HandlerRegistry


@pytest.fixture
def registry(monkeypatch) -> HandlerRegistry:
    """A fresh registry that the router uses instead of the project's."""
    fresh = HandlerRegistry()
    monkeypatch.setattr("events.services.site", fresh)
    return fresh


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    #: Status codes to answer, in order; 204 once they run out.
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def notify_receiver(settings):
    """A tiny HTTP server on a local port that records what is POSTed to it, set as
    NOTIFY_URL with its own signing secret."""
    receiver = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 204
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/notify"
    settings.NOTIFY_URL = receiver.url
    settings.NOTIFY_SECRET = "receiver-secret"
    yield receiver
    server.shutdown()
    server.server_close()
