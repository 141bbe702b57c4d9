"""Shared set-up of the benchmarks: a database of their own, Django, demo rows."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/assistant_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
#: The worker's output, for when a figure looks wrong.
LOG = Path(os.environ.get("BENCH_LOG", "/tmp/assistant-bench-worker.log"))


def environment() -> dict[str, str]:
    """The production deployment, pointed at the benchmark's own database and Redis db."""
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL",)}
    env.update(
        ENV_FILE="",
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="localhost,127.0.0.1,testserver",
        # One benchmark user asks hundreds of questions at once.
        AI_MAX_IN_FLIGHT_PER_USER="100000",
        # Every benchmark question starts a session: a model-written title would be one
        # more model call per question, not part of what is measured.
        AI_MODEL_TITLES="false",
        # Nor is embedding each question and answer for semantic search (bench/search.py
        # measures embeddings on their own).
        AI_EMBED_MESSAGES="false",
    )
    return env


def setup_django() -> None:
    os.environ.update(environment())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    _create_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _create_database() -> None:
    import psycopg
    from psycopg import sql

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def spawn_worker(env: dict[str, str], concurrency: int, *, log: Path = LOG, loglevel: str = "WARNING"):
    """A Celery worker process on threads, not waited for."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
         "--concurrency", str(concurrency), "--loglevel", loglevel, "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def start_worker(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    process = spawn_worker(env, concurrency)
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited: {LOG.read_text()}")
        if app.control.ping(timeout=0.5):
            return process
    raise RuntimeError("the worker did not answer")


def start_beat(env: dict[str, str], name: str) -> subprocess.Popen:
    log = LOG.with_name(f"assistant-bench-{name}.log")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while "beat: Starting" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"beat did not start: {log.read_text()}")
        time.sleep(0.1)
    return process


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    }


def member_job(user):
    """A job of a project ``user`` is a member of (whose sessions the user may use); the
    user has read the disclaimer, if the benchmark database has one."""
    from assistant import services
    from tests import factories

    if services.disclaimer_active() is not None:
        services.disclaimer_mark_read(user=user)
    return factories.job(workflow_=factories.workflow(project_=factories.project(members=[user])))


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system) a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
