"""A worker.task event through a real Celery worker process on Redis and PostgreSQL:
posted to /api/events, run by the worker, and read back with its log lines from
/api/tasks/{id}."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.models import AIUsage
from config.celery import app
from events.models import Event as EventRow
from tests.e2e.test_worker import Worker

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(process_env, tmp_path):
    app.control.purge()
    started = Worker(process_env, tmp_path / "worker.log").start()
    yield started
    started.stop()


def test_a_posted_usage_report_runs_on_the_worker_and_its_log_is_read_back(user, auth_client, worker):
    AIUsage.objects.create(user=user, total_tokens=40, prompt_tokens=30, completion_tokens=10, model="m1")
    old = AIUsage.objects.create(user=user, total_tokens=5)
    AIUsage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))

    response = auth_client.post(
        "/api/events",
        {"timestamp": timezone.now().isoformat(), "source": "tests", "type": "worker.task", "userID": "alice",
         "metadata": {"agent": "usage_report", "input": {"days": 2}}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202, response.content
    url = f"/api/tasks/{response.json()['id']}"

    seen: list[dict] = []
    deadline = time.monotonic() + 30
    while True:  # tail the log as a client would
        after = seen[-1]["seq"] if seen else 0
        data = auth_client.get(url, {"after": after}).json()
        seen += data["lines"]
        if data["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, (data, worker.output())
        time.sleep(0.1)

    assert data["status"] == "succeeded", (data["error"], worker.output())
    assert (data["progress"], data["input"]) == (100, {"days": 2})
    assert (data["result"]["calls"], data["result"]["total_tokens"]) == (2, 45)
    assert [line["seq"] for line in seen] == list(range(1, len(seen) + 1))
    assert "2 model calls used 45 tokens in all." in [line["text"] for line in seen]
    assert [line["seq"] for line in auth_client.get(url, {"after": len(seen) - 2}).json()["lines"]] == [
        len(seen) - 1, len(seen)
    ]  # fmt: skip

    deadline = time.monotonic() + 15
    while True:
        rows = {row.type: row for row in EventRow.objects.all()}
        if len(rows) == 2 and all(row.status == "handled" for row in rows.values()):
            break
        assert time.monotonic() < deadline, ({t: r.status for t, r in rows.items()}, worker.output())
        time.sleep(0.1)
    assert rows["worker.task"].handler == "AgentRunner"
    assert rows["user.message"].metadata["text"] == "Task usage_report succeeded."
    assert rows["user.message"].handler == "UserMessenger"
