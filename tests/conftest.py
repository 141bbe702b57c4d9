"""Shared fixtures: users, API clients, tokens, and the real server processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-enough-password"


def services_configured() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and bool(
        os.environ.get("REDIS_URL")
    )


def pytest_collection_modifyitems(config, items):
    if services_configured():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL and Redis: runs in `make test-services` and in CI")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _test_database_released(django_db_setup, django_db_blocker):
    """At the end of the run, close what still holds the PostgreSQL test database:
    connections that worker threads of this process (sync_to_async, the in-process
    pool) opened and never gave back, so that it can be dropped."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    """Tests hit the auth endpoints often; the throttling tests set their own rates.

    Each test counts requests in a cache of its own, so that neither another test nor
    a server process started by a test (which shares Redis) sees its requests.
    """
    rates = {"auth": "10000/minute", "user": "100000/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    # LocMemCache instances of one name share their store: a new name per test.
    monkeypatch.setattr(SimpleRateThrottle, "cache", LocMemCache(f"throttle-{uuid.uuid4()}", {}))


@pytest.fixture(autouse=True)
def _no_model_titles(request, monkeypatch):
    """Scripted model servers answer what each test asks: a title request after the
    first answer would take a reply meant for something else. ``model_titles`` keeps
    the product's default. (Served processes: ``tests/settings.py``.)"""
    if "model_titles" not in request.fixturenames:
        monkeypatch.setattr("assistant.titles.titles_on", lambda: False)


@pytest.fixture
def model_titles(settings):
    """Titles as the product writes them by default (on with a real model)."""
    settings.ASSISTANT = {**settings.ASSISTANT, "MODEL_TITLES": None}


@pytest.fixture(autouse=True)
def _generous_lockouts(settings):
    """Tests fail logins on purpose; the lockout tests set their own limit. (The
    failures themselves are rows that each test's transaction or flush removes.)"""
    settings.AXES_FAILURE_LIMIT = 10_000


@pytest.fixture
def model_server(settings):
    """A scripted OpenAI-compatible server on a local port, and the settings that
    point the product at it."""
    from tests.llm_server import ModelServer

    server = ModelServer().start()
    settings.OPENAI_BASE_URL = server.url
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_MODEL = "test-model"
    yield server
    server.stop()


@pytest.fixture
def fast_retries(settings):
    """Backoff in milliseconds instead of seconds."""
    settings.ASSISTANT = {**getattr(settings, "ASSISTANT", {}), "BACKOFF": 0.01, "BACKOFF_MAX": 0.05}


@pytest.fixture
def enqueued(monkeypatch) -> list[str]:
    """Message ids handed to the workers (instead of processing them)."""
    calls: list[str] = []

    def record(message_id, **kwargs):
        calls.append(str(message_id))

    monkeypatch.setattr("assistant.services.enqueue_message", record)
    return calls


@pytest.fixture
def events():
    """Every realtime event published during the test."""
    from assistant.realtime import capture_events

    with capture_events() as captured:
        yield captured


@pytest.fixture
def make_user(django_user_model):
    counter = iter(range(1, 10**6))

    def make(username: str | None = None, **fields):
        username = username or f"user{next(counter)}"
        return django_user_model.objects.create_user(
            username=username, password=fields.pop("password", PASSWORD), **fields
        )

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def routed(monkeypatch) -> list[str]:
    """Event ids handed to the workers (instead of routing them)."""
    calls: list[str] = []

    def record(*, event_id, **kwargs):
        calls.append(str(event_id))

    monkeypatch.setattr("events.services.event_enqueue", record)
    return calls


def client_for(user) -> APIClient:
    """A client of its own with the user's access token, as API users send it."""
    from accounts.services import tokens_for_user

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_user(user)['access']}")
    return client


@pytest.fixture
def client_of(api_client):
    """``client_of(user)``: the API client, authenticated as ``user``."""

    def login(user):
        api_client.force_authenticate(user)
        return api_client

    return login


@pytest.fixture
def tokens(user) -> dict[str, str]:
    from accounts.services import tokens_for_user

    return tokens_for_user(user)


@pytest.fixture
def auth_client(api_client, tokens) -> APIClient:
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return api_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the test database, for the processes a test starts."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def process_env(transactional_db) -> dict[str, str]:
    """Environment for a subprocess that shares this test's database and services."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(ENV_FILE="", DATABASE_URL=database_url(), PYTHONUNBUFFERED="1", TEST_BACKGROUND_LOOPS="1")
    return env


@dataclass
class Served:
    url: str
    ws_url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def serve(
    env: dict[str, str],
    tmp_path: Path,
    *,
    python: str = sys.executable,
    site: Path = ROOT,
    prefix: str = "",
    wait_for_worker: bool = True,
) -> Iterator[Served]:
    """``manage.py serve`` as `make run` starts it, on a free port, with ``env`` (by
    default this repository's site; ``site`` names another, served by ``python``, with
    the assistant under ``prefix``). With Redis it waits for the worker too, unless the
    test only needs its questions answered (they wait in the queue meanwhile)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    if env.get("REDIS_URL"):
        from config.celery import app

        app.control.purge()  # nothing left queued by an earlier test reaches this server's worker
        forget_throttles(env["REDIS_URL"])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [python, "manage.py", "serve", "--port", str(port)],
            cwd=site,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Served(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{server.url}/{prefix}api/health/", timeout=1)
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the server did not start:\n{server.output()}")
            time.sleep(0.2)
    if env.get("REDIS_URL") and wait_for_worker:
        _wait_for_worker(server)
    yield server
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # The supervisor runs each process in a process group of its own.
            from tests.e2e.processes import descendants

            for pid in {process.pid, *descendants(process.pid)}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()


def forget_throttles(redis_url: str) -> None:
    """Forget the requests that servers of earlier tests counted in Redis (the shared
    cache of the served processes): each test's server starts with the full allowance
    per client address, as it does on a new machine, however many logins the tests
    before it made from 127.0.0.1 within the minute."""
    import redis

    pattern = "*" + SimpleRateThrottle.cache_format.split("%")[0] + "*"
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _wait_for_worker(server: Served, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while "ready." not in server.output():
        if server.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the served worker did not start:\n{server.output()}")
        time.sleep(0.2)


@pytest.fixture
def wait_for_worker() -> bool:
    """Whether the ``served`` fixtures wait for the worker before the test starts (the
    browser tests log in and open pages meanwhile: tests/browser/conftest.py)."""
    return True


@pytest.fixture
def served(process_env, tmp_path, wait_for_worker) -> Iterator[Served]:
    """The served product (web, and with Redis its worker and beat), on the demo model."""
    yield from serve(process_env, tmp_path, wait_for_worker=wait_for_worker)


def model_env(process_env: dict[str, str], model_server) -> dict[str, str]:
    """``process_env`` answered by the scripted ``model_server``."""
    return {
        **process_env,
        "OPENAI_BASE_URL": model_server.url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_MODEL": "test-model",
        "AI_RETRY_BACKOFF": "0.2",
    }


@pytest.fixture
def served_with_model(process_env, model_server, tmp_path, wait_for_worker) -> Iterator[Served]:
    """The served product answered by the scripted ``model_server``."""
    yield from serve(model_env(process_env, model_server), tmp_path, wait_for_worker=wait_for_worker)
