"""Schedules through real processes: Celery beat (one, two, restarted) sending
to a Celery worker on Redis and PostgreSQL. Each slot publishes its event once."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event as EventRow
from events.models import Schedule
from tests.conftest import ROOT
from tests.e2e.test_worker import Worker

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


class Beat(Worker):
    def spawn(self):
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "DEBUG"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return self

    def ready(self) -> bool:
        return "beat: Starting" in self.output()


@pytest.fixture
def processes(process_env, tmp_path):
    """``processes(kind, name)`` starts one and waits until it is ready; with
    ``wait=False`` it only spawns it (``ready_all`` waits for several at once)."""
    from config.celery import app

    app.control.purge()
    started = []

    def start(kind, name, *, wait=True):
        process = kind(process_env, tmp_path / f"{name}.log")
        started.append(process)
        return process.start() if wait else process.spawn()

    yield start
    for process in started:
        process.stop()


def ready_all(*processes):
    for process in processes:
        process._wait_for(process.ready, f"{type(process).__name__} did not start")


def seconds_to_the_next_minute() -> float:
    now = timezone.now()
    return 60 - now.second - now.microsecond / 1e6


def wait_for(predicate, timeout, why):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, why()
        time.sleep(0.2)
    return result


def logs(*processes):
    return lambda: "\n".join(p.output()[-3000:] for p in processes)


def published_by(schedule_id) -> list[EventRow]:
    return list(EventRow.objects.filter(schedule_id=schedule_id))


def test_a_one_off_schedule_fires_once_with_two_beats_and_not_again_after_a_restart(auth_client, processes):
    worker = processes(Worker, "worker", wait=False)
    beats = [processes(Beat, "beat-1", wait=False), processes(Beat, "beat-2", wait=False)]
    ready_all(worker, *beats)
    event = {"source": "tests", "type": "user.message", "userID": "alice", "metadata": {"text": "now"}}
    at = timezone.now() + timedelta(seconds=2)
    response = auth_client.post("/api/schedule", {"event": event, "timestamp": at.isoformat()}, format="json")
    assert response.status_code == 201, response.content
    fired = response.json()["id"]
    deleted = auth_client.post(
        "/api/schedule", {"event": event, "timestamp": at.isoformat()}, format="json"
    ).json()["id"]
    assert auth_client.delete(f"/api/schedule/{deleted}").status_code == 204

    [row] = wait_for(lambda: published_by(fired), 30, logs(worker, *beats))
    assert row.timestamp == at
    assert timedelta(0) <= row.received_at - at < timedelta(seconds=5)  # on time, to beat's second
    wait_for(lambda: EventRow.objects.get(pk=row.pk).status == "handled", 15, logs(worker))

    # Both beats stop dead right after firing; a new one starts.
    for beat in beats:
        beat.kill()
    restarted = processes(Beat, "beat-3")
    time.sleep(5)
    assert len(published_by(fired)) == 1, logs(worker, restarted)()
    assert published_by(deleted) == []
    schedule = Schedule.objects.get(pk=fired)
    assert (schedule.status, schedule.run_count) == ("done", 1)
    # Each beat sent it (unless told of the change first); it was published once.
    sent = sum(beat.output().count(f"Sending due task event schedule {fired}") for beat in beats)
    assert sent >= 1


def test_a_cron_schedule_fires_on_its_minute_and_not_again_after_a_restart(auth_client, processes):
    event = {"source": "tests", "type": "user.message", "userID": "alice", "metadata": {"text": "tick"}}

    def post():
        response = auth_client.post("/api/schedule", {"event": event, "cron": "* * * * *"}, format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    # The slot is the next minute. When it is well beyond the processes' start, the
    # schedule is posted first and they start while it comes (beat, starting, sends a
    # task saved before its slot at the slot); otherwise it is posted to the running beat.
    early = seconds_to_the_next_minute() > 20
    schedule_id = post() if early else None
    worker, beat = processes(Worker, "worker", wait=False), processes(Beat, "beat", wait=False)
    ready_all(worker, beat)
    if not early:
        schedule_id = post()
    minute = Schedule.objects.get().next_run_at
    assert minute.second == 0 and minute.microsecond == 0

    [row] = wait_for(lambda: published_by(schedule_id), 75, logs(worker, beat))
    assert row.timestamp == minute
    assert timedelta(0) <= row.received_at - minute < timedelta(seconds=5)

    beat.kill()
    restarted = processes(Beat, "beat-restarted")
    time.sleep(4)
    slots = [row.timestamp for row in published_by(schedule_id)]
    assert slots.count(minute) == 1 and len(set(slots)) == len(slots), logs(worker, restarted)()
    schedule = Schedule.objects.get(pk=schedule_id)
    assert schedule.status == "active" and schedule.next_run_at >= minute + timedelta(minutes=1)

    assert auth_client.delete(f"/api/schedule/{schedule_id}").status_code == 204
