"""The assistant under chaos, on the production deployment (PostgreSQL, Redis, a Celery
worker process and Celery beat), against a local OpenAI-compatible server.

    python bench/chaos.py [--questions 200] [--clients 10] [--kill-every 6] [--terminate-every 9]
                          [--calm]

Ten clients ask 200 questions between them, each in a session of its own, asking its
next question once the last one is answered (an answer streams 20 chunks over about a
second). Meanwhile the worker process is SIGKILLed 6 s after each start (once it is
ready, so that the figure does not depend on how long the machine takes to start it)
and restarted at once, and every database connection of the product's processes (the
worker and beat) is terminated every 9 s with ``pg_terminate_backend``. Beat runs the
sweeper on its production schedule: nothing else rescues a question whose worker died.
``--calm`` runs the same questions with neither.

Prints the time from the first question to the last reply, how many replies each
question got, how long the clients waited, and how often the model was called.

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL; defaults: the local
services, database ``assistant_bench``, Redis db 14).
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import threading
import time

from _setup import (
    DATABASE_URL,
    LOG,
    environment,
    member_job,
    percentiles,
    setup_django,
    spawn_worker,
    start_beat,
    stop,
)

#: The product's processes connect under this name; the clients (this process) do not.
APPLICATION_NAME = "assistant-chaos"
ANSWER = [f"token{i} " for i in range(20)]


class Clients:
    """``count`` clients asking ``per_client`` questions each, one after another."""

    def __init__(self, job, user, count: int, per_client: int) -> None:
        self.job, self.user, self.per_client = job, user, per_client
        self.waits: list[float] = []
        self.questions: list = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._ask, args=(n,)) for n in range(count)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _ask(self, number: int) -> None:
        from django.db import connection

        from assistant import services
        from assistant.models import ChatMessage
        from projects import sessions

        session = None
        try:
            for n in range(self.per_client):
                asked = time.monotonic()
                content = f"Client {number}, question {n}: why does my job fail?"
                if session is None:
                    session = sessions.job_session_create(job=self.job, user=self.user, content=content)
                    question = session.messages.get()
                else:
                    question = services.message_send(session=session, user=self.user, content=content)
                with self._lock:
                    self.questions.append(question.pk)
                while True:
                    status, error = ChatMessage.objects.values_list("status", "error").get(pk=question.pk)
                    if status in ("success", "error"):
                        break
                    time.sleep(0.1)
                with self._lock:
                    self.waits.append(time.monotonic() - asked)
                    if status == "error":
                        self.failures.append(error)
        finally:
            connection.close()


class Chaos:
    """The worker process, killed ``kill_every`` seconds after each start; the product's
    connections, terminated every ``terminate_every`` seconds."""

    def __init__(self, env: dict[str, str], kill_every: float | None, terminate_every: float | None) -> None:
        self.env, self.kill_every, self.terminate_every = env, kill_every, terminate_every
        self.kills = self.terminated = 0
        self.start_times: list[float] = []
        #: Questions the worker was answering when it was killed: id -> (the kill's
        #: time, their attempts then); and how long each waited to be claimed again.
        self._orphans: dict = {}
        self.retaken_after: list[float] = []
        self.worker = self._spawn()

    def _spawn(self):
        self._spawned, self._ready_at = time.monotonic(), None
        return spawn_worker(self.env, 100, loglevel="INFO")

    def tick(self, now: float) -> None:
        if self._ready_at is None:
            if " ready." in LOG.read_text(errors="replace"):
                self._ready_at = now
                self.start_times.append(now - self._spawned)
            elif self.worker.poll() is not None:
                raise RuntimeError(f"the worker exited: {LOG.read_text()}")
        elif self.kill_every and now - self._ready_at >= self.kill_every:
            self._kill()
        self._follow_orphans()

    def _kill(self) -> None:
        from django.utils import timezone

        from assistant.models import ChatMessage

        os.kill(self.worker.pid, signal.SIGKILL)
        self.worker.wait()
        killed_at = timezone.now()
        self.kills += 1
        self.worker = self._spawn()
        for pk, attempts in ChatMessage.objects.filter(status="processing").values_list("pk", "attempts"):
            self._orphans.setdefault(pk, (killed_at, attempts))  # orphaned by the first of the kills

    def _follow_orphans(self) -> None:
        from assistant.models import ChatMessage

        if not self._orphans:
            return
        rows = ChatMessage.objects.filter(pk__in=list(self._orphans)).values_list(
            "pk", "attempts", "processing_started_at"
        )
        for pk, attempts, claimed_at in rows:
            killed_at, attempts_then = self._orphans[pk]
            if attempts > attempts_then:
                self.retaken_after.append((claimed_at - killed_at).total_seconds())
                del self._orphans[pk]

    def terminate_connections(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [APPLICATION_NAME],
            )
            self.terminated += cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--kill-every", type=float, default=6.0)
    parser.add_argument("--terminate-every", type=float, default=9.0)
    parser.add_argument("--calm", action="store_true", help="no kills and no terminations")
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model

    from assistant.models import AIUsage, ChatMessage, ChatSession
    from tests.llm_server import ModelServer, Reply

    ChatSession.objects.all().delete()  # nothing left from an earlier run is swept into this one
    user, _ = get_user_model().objects.get_or_create(username="bench")
    job = member_job(user)
    server = ModelServer(default=Reply(chunks=ANSWER, chunk_delay=0.05)).start()
    env = {
        **environment(),
        "DATABASE_URL": f"{DATABASE_URL}?application_name={APPLICATION_NAME}",
        "OPENAI_BASE_URL": server.url,
        "OPENAI_API_KEY": "k",
        "OPENAI_MODEL": "m",
    }
    kill_every = None if args.calm else args.kill_every
    terminate_every = None if args.calm else args.terminate_every
    chaos = Chaos(env, kill_every, terminate_every)
    beat = start_beat(env, "chaos-beat")
    clients = Clients(job, user, args.clients, args.questions // args.clients)
    try:
        while chaos.start_times == []:
            chaos.tick(time.monotonic())
            time.sleep(0.1)
        started = time.monotonic()
        clients.start()
        next_termination = started + (terminate_every or float("inf"))
        while clients.running():
            now = time.monotonic()
            chaos.tick(now)
            if now >= next_termination:
                chaos.terminate_connections()
                next_termination += terminate_every
            time.sleep(0.1)
        drained = time.monotonic() - started
        time.sleep(2)  # a second reply, had there been one, would be saved by now
    finally:
        stop(chaos.worker)
        stop(beat)
        server.stop()

    replies = collections.Counter(
        ChatMessage.objects.filter(reply_to__in=clients.questions).values_list("reply_to", flat=True)
    )
    per_question = collections.Counter(replies.get(pk, 0) for pk in clients.questions)
    waits = percentiles(clients.waits)
    usage_rows = AIUsage.objects.filter(message__reply_to__in=clients.questions).count()
    if args.calm:
        print(f"{len(clients.questions)} questions from {args.clients} clients, calm")
    else:
        print(
            f"{len(clients.questions)} questions from {args.clients} clients; the worker killed "
            f"{args.kill_every:g} s after each start, connections terminated every {args.terminate_every:g} s"
        )
    print(f"drained in {drained:.1f} s")
    failures = collections.Counter(clients.failures)
    print(f"replies per question: {dict(sorted(per_question.items()))}; failed: {dict(failures)}")
    print(
        f"a client waited for its reply: median {waits['median']:.1f} s, p95 {waits['p95']:.1f} s, "
        f"max {max(clients.waits):.1f} s"
    )
    print(f"model calls: {server.calls}; usage rows: {usage_rows}")
    if chaos.retaken_after:
        retaken = percentiles(chaos.retaken_after)
        print(
            f"{len(chaos.retaken_after)} questions orphaned by a kill, claimed again after: median "
            f"{retaken['median']:.1f} s, p95 {retaken['p95']:.1f} s, max {max(chaos.retaken_after):.1f} s"
        )
    print(
        f"the worker started {len(chaos.start_times)} times (ready after {min(chaos.start_times):.1f} to "
        f"{max(chaos.start_times):.1f} s) and was killed {chaos.kills} times; "
        f"{chaos.terminated} connections terminated"
    )


if __name__ == "__main__":
    main()
