"""Events and schedules, measured on the production deployment (PostgreSQL, Redis,
Celery worker and beat processes).

    python bench/events.py [--events 2000] [--posts 300] [--schedules 200]

1. Routing throughput: events per second from ``event_publish`` to their rows being
   finished by one worker process, for a type with no handler (the router alone) and
   for ``user.message`` (UserMessenger delivering to /ws/events/ through Redis).
2. ``POST /api/events``: request latency through the whole DRF stack (JWT, validation,
   the insert, the hand-off to Redis after the commit).
3. Schedules: one-off schedules all due at the same second with two beats running;
   how late each published its event, and that each published exactly one.

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL; defaults: the local
services, database ``assistant_bench``, Redis db 14).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from _setup import environment, percentiles, setup_django, start_beat, start_worker, stop


def wait_finished(ids: list, timeout: float = 600) -> float:
    from events.models import Event

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Event.objects.filter(pk__in=ids, status__in=["handled", "unhandled", "failed"]).count() == len(
            ids
        ):
            return time.monotonic()
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for events to be routed")


def throughput(user, kind: str, n: int) -> float:
    from django.db import transaction

    from events.services import event_publish
    from events.types import Event

    started = time.monotonic()
    ids = []
    for start in range(0, n, 100):
        with transaction.atomic():  # 100 to a commit, as a busy API would
            for i in range(start, min(n, start + 100)):
                event = Event(source="bench", type=kind, userID=user.username, metadata={"text": f"n{i}"})
                ids.append(event_publish(event=event, user=user).pk)
    return n / (wait_finished(ids) - started)


def post_latency(user, n: int) -> dict[str, float]:
    from rest_framework.test import APIClient

    from accounts.services import tokens_for_user

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_user(user)['access']}")
    body = {"timestamp": "2026-01-01T00:00:00Z", "source": "bench", "type": "bench.ping",
            "userID": user.username, "metadata": {"text": "hi"}}  # fmt: skip
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post("/api/events", body, format="json")
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 202, response.content
    return percentiles(timings)


def schedules(user, n: int, env: dict[str, str]) -> dict[str, float]:
    from django.conf import settings
    from django.test import override_settings
    from django.utils import timezone

    from events.models import Event, Schedule
    from events.services import schedule_create
    from events.types import Event as EventData

    beats = [start_beat(env, "beat-1"), start_beat(env, "beat-2")]
    try:
        at = timezone.now().replace(microsecond=0) + timedelta(seconds=8)
        event = EventData(source="bench", type="bench.ping", userID=user.username)
        # One user's n schedules: past the per-user cap, which this figure is not about.
        with override_settings(EVENTS={**settings.EVENTS, "MAX_ACTIVE_SCHEDULES": None}):
            ids = [schedule_create(user=user, event=event, run_at=at).pk for _ in range(n)]
        deadline = time.monotonic() + 120
        while Schedule.objects.filter(pk__in=ids, status="done").count() < n:
            if time.monotonic() > deadline:
                raise RuntimeError("timed out waiting for schedules to fire")
            time.sleep(0.1)
        time.sleep(3)  # anything sent twice has arrived by now
        rows = list(Event.objects.filter(schedule_id__in=ids).values_list("schedule_id", "received_at"))
        per_schedule = len({schedule for schedule, _ in rows})
        late = [(received - at).total_seconds() * 1000 for _, received in rows]
        return {"published": len(rows), "schedules": per_schedule, **percentiles(late), "max": max(late)}
    finally:
        for beat in beats:
            stop(beat)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--schedules", type=int, default=200)
    args = parser.parse_args()

    setup_django()
    from accounts.models import User

    user = User.objects.filter(username="bench").first() or User.objects.create_user("bench", password="x")
    env = environment()
    worker = start_worker(env, concurrency=8)
    try:
        for kind in ("bench.ping", "user.message"):
            rate = throughput(user, kind, args.events)
            print(f"routing {args.events} {kind} events: {rate:,.0f} events/s")
        figures = post_latency(user, args.posts)
        print(
            f"POST /api/events ({args.posts}): median {figures['median']:.1f} ms, p95 {figures['p95']:.1f} ms"
        )
        fired = schedules(user, args.schedules, env)
        print(
            f"{args.schedules} one-off schedules due at one second, two beats: {fired['published']} events "
            f"from {fired['schedules']} schedules; late by median {fired['median']:.0f} ms, "
            f"p95 {fired['p95']:.0f} ms, max {fired['max']:.0f} ms"
        )
    finally:
        stop(worker)


if __name__ == "__main__":
    main()
