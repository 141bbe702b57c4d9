"""The assistant core through a real Celery worker process on Redis and PostgreSQL,
against the scripted model server."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection

from assistant import realtime, services
from assistant.models import ChatMessage
from config.celery import app
from tests import factories as f
from tests.conftest import ROOT
from tests.llm_server import Reply

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
Status = ChatMessage.Status


class Worker:
    def __init__(self, env, log_path):
        self.env, self.log_path, self.process = env, log_path, None

    def start(self):
        self.spawn()
        self._wait_for(self.ready, "the worker did not start")
        return self

    def spawn(self):
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
             "--concurrency", "8", "--loglevel", "INFO", "--without-heartbeat", "--without-gossip",
             "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return self

    def ready(self) -> bool:
        return " ready." in self.output()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_for(self, predicate, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what}:\n{self.output()}")
            time.sleep(0.1)

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def worker_env(process_env, model_server):
    app.control.purge()
    return {
        **process_env,
        "OPENAI_BASE_URL": model_server.url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_MODEL": "test-model",
        "AI_RETRY_BACKOFF": "0.2",
        "AI_MAX_RETRIES": "3",
    }


@pytest.fixture
def worker(worker_env, tmp_path):
    started = Worker(worker_env, tmp_path / "worker.log").start()
    yield started
    started.stop()


def wait_for_status(message, statuses, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status in statuses:
            return message
        time.sleep(0.1)
    raise AssertionError(f"message still {message.status}")


def test_a_posted_message_is_streamed_and_saved(user, model_server, worker):
    model_server.script(Reply(chunks=["Check ", "the ", "filter ", "call."]))
    session = f.job_session(user=user)
    message = wait_for_status(f.first_message(session), {Status.SUCCESS, Status.ERROR})
    assert message.status == Status.SUCCESS, (message.error, worker.output())
    assert message.reply.content == "Check the filter call."
    events = realtime.event_log().read(str(session.pk))
    tokens = [e["delta"] for e in events if e["type"] == "token"]
    assert "".join(tokens) == "Check the filter call."
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[-1]["type"] == "message.status" and events[-1]["status"] == "success"


def test_a_worker_killed_half_way_still_ends_with_exactly_one_reply(
    user, model_server, worker, worker_env, tmp_path
):
    model_server.script(
        Reply(chunks=[f"word{i} " for i in range(40)], chunk_delay=0.1),
        Reply(text="The whole answer."),
    )
    session = f.job_session(user=user)
    message = f.first_message(session)
    deadline = time.monotonic() + 20
    while not any(e["type"] == "token" for e in realtime.event_log().read(str(session.pk))):
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.05)
    worker.kill()
    message.refresh_from_db()
    assert message.status == Status.PROCESSING

    replacement = Worker(worker_env, tmp_path / "worker2.log").start()
    try:
        time.sleep(1.2)
        call_command("retry_messages", "--stuck", "--stuck-after", "1s")
        message = wait_for_status(message, {Status.SUCCESS, Status.ERROR})
        assert message.status == Status.SUCCESS, (message.error, replacement.output())
    finally:
        replacement.stop()
    assert ChatMessage.objects.filter(session=session, role="assistant").count() == 1
    assert message.reply.content == "The whole answer."
    assert model_server.calls == 2


def test_failing_twice_with_500_then_succeeding_ends_in_success(user, model_server, worker):
    model_server.script(Reply(status=500), Reply(status=500), Reply(text="Third time lucky."))
    message = wait_for_status(f.first_message(f.job_session(user=user)), {Status.SUCCESS, Status.ERROR})
    assert message.status == Status.SUCCESS, worker.output()
    assert message.reply.content == "Third time lucky."
    assert model_server.calls == 3


def test_failing_always_ends_in_error_with_the_readable_text(user, model_server, worker):
    model_server.default = Reply(status=503, error="The model is overloaded.")
    message = wait_for_status(f.first_message(f.job_session(user=user)), {Status.SUCCESS, Status.ERROR})
    assert (message.status, message.error) == (Status.ERROR, "The model is overloaded.")
    assert model_server.calls == 4  # the first try and three retries
    assert not ChatMessage.objects.filter(reply_to=message).exists()


def test_the_same_message_delivered_twice_calls_the_model_once(user, model_server, worker, monkeypatch):
    from assistant.tasks import process_message

    model_server.script(Reply(text="Once.", chunk_delay=0.05))
    monkeypatch.setattr("assistant.services.enqueue_message", lambda *a, **k: None)
    message = f.first_message(f.job_session(user=user))
    process_message.delay(str(message.pk))
    process_message.delay(str(message.pk))
    wait_for_status(message, {Status.SUCCESS, Status.ERROR})
    time.sleep(1)  # let the second delivery finish too
    assert model_server.calls == 1
    assert ChatMessage.objects.filter(reply_to=message).count() == 1
    assert "succeeded" in worker.output() and "'skipped'" in worker.output()


def test_a_retried_message_is_processed_again(user, model_server, worker):
    model_server.script(Reply(status=400, error="Bad request."), Reply(text="Now it works."))
    message = wait_for_status(f.first_message(f.job_session(user=user)), {Status.SUCCESS, Status.ERROR})
    assert message.status == Status.ERROR
    services.message_retry(message=message)
    message = wait_for_status(message, {Status.SUCCESS})
    assert message.reply.content == "Now it works."


def test_under_chaos_every_question_is_answered_once_and_orphans_are_retaken_in_seconds(
    user, model_server, worker_env, tmp_path
):
    """A model silent for longer than AI_STUCK_AFTER is not a dead worker (one call,
    one usage row each). Then the worker is SIGKILLed 3 s after each start and
    restarted, and the product's database connections are terminated every 2 s: every
    question still gets exactly one reply, and the whole drains in seconds, because
    orphans are retaken soon after their worker died (beat's sweep, sent every second
    here, is the only rescue)."""
    from assistant.models import AIUsage
    from assistant.tasks import sweep_stuck_messages

    env = {
        **worker_env,
        # The worker's connections carry a name, so that only they are terminated.
        "DATABASE_URL": worker_env["DATABASE_URL"] + "?application_name=chaos-worker",
        "AI_HEARTBEAT_INTERVAL": "0.5",
        "AI_STUCK_AFTER": "2",
        "AI_PENDING_AFTER": "2",
        "AI_SWEEP_INTERVAL": "1",
        # A kill every few seconds can take the same question from worker after worker
        # past the default budget of attempts (6; seen in about one run in seven); this
        # test is about nothing being lost or answered twice, not about that budget.
        "AI_MAX_ATTEMPTS": "20",
    }
    answer = [f"word{i} " for i in range(10)]
    model_server.default = Reply(chunks=answer, chunk_delay=0.1)
    model_server.script(*[Reply(text="Thought it over.", delay=3.5)] * 2)
    logs = (tmp_path / f"worker-{n}.log" for n in range(1000))

    def answered(ids):
        return ChatMessage.objects.filter(pk__in=ids, status=Status.SUCCESS).count()

    worker = Worker(env, next(logs)).start()
    try:
        # 1. Silent for 3.5 s with STUCK_AFTER 2 s and the sweeper running.
        silent = [f.first_message(f.job_session(user=user)).pk for _ in range(2)]
        deadline = time.monotonic() + 30
        while answered(silent) < 2:
            assert time.monotonic() < deadline, worker.output()
            sweep_stuck_messages.delay()
            time.sleep(0.5)
        assert model_server.calls == 2, "a silent model was taken for a dead worker"
        assert AIUsage.objects.count() == 2

        # 2. Chaos: terminations on a clock of their own, kills 3 s after each start.
        stop, terminations = threading.Event(), []

        def terminate_every_two_seconds():
            try:
                while not stop.wait(2):
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE"
                            " datname = current_database() AND application_name = 'chaos-worker'"
                        )
                        terminations.append(cursor.fetchone()[0])
            finally:
                connection.close()

        terminator = threading.Thread(target=terminate_every_two_seconds)
        started = time.monotonic()
        terminator.start()
        questions, kills, ready_at, next_sweep = [], 0, time.monotonic(), 0.0
        try:
            for _ in range(8):
                questions += [f.first_message(f.job_session(user=user)).pk for _ in range(5)]
                time.sleep(0.3)
            while answered(questions) < len(questions) and time.monotonic() < started + 90:
                now = time.monotonic()
                if now >= next_sweep:
                    sweep_stuck_messages.delay()
                    next_sweep = now + 1
                if ready_at is None and worker.ready():
                    ready_at = now
                elif ready_at is not None and now - ready_at >= 3:
                    worker.kill()
                    worker.stop()
                    kills += 1
                    worker, ready_at = Worker(env, next(logs)).spawn(), None
                assert worker.process.poll() is None, worker.output()
                time.sleep(0.1)
            drained_in = time.monotonic() - started
        finally:
            stop.set()
            terminator.join()
    finally:
        worker.stop()

    failed = ChatMessage.objects.filter(pk__in=questions).exclude(status=Status.SUCCESS)
    assert not failed.exists(), [(m.status, m.error, m.attempts) for m in failed]
    replies = ChatMessage.objects.filter(reply_to__in=questions)
    assert replies.count() == len(questions)
    assert set(replies.values_list("content", flat=True)) == {"".join(answer)}
    assert AIUsage.objects.filter(message__reply_to__in=questions).count() == len(questions)
    assert kills >= 2 and sum(n > 0 for n in terminations) >= 2, (kills, terminations)
    assert drained_in < 60, f"{len(questions)} questions took {drained_in:.0f} s with {kills} kills"


def test_a_saved_job_is_embedded_by_the_worker_after_a_failed_try(user, model_server, worker):
    from assistant import embeddings
    from assistant.embeddings.indexing import object_key
    from assistant.models import Embedding

    workflow = f.workflow(project_=f.project(members=[user]))  # embedded here, as it saves
    model_server.script_embeddings(Reply(status=503, error="Busy"))
    job = f.job(workflow_=workflow, name="Push patients to the national register")
    deadline = time.monotonic() + 30
    while not Embedding.objects.filter(
        object_id=object_key(type(job), job.pk), content_type__model="job"
    ).exists():
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.1)
    tried = [r["input"] for r in model_server.embedding_requests if r["input"][0].startswith(job.name)]
    assert len(tried) == 2  # the failed try, then the retry
    [hit] = embeddings.nearest(embeddings.site.get("projects.job"), user=user, query="patients register")
    assert hit.row["id"] == job.pk
