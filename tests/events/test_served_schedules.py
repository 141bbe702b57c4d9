"""A schedule posted to the served product fires: in-process on the embedded
default, by Celery beat and a worker with the services."""

import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_schedule_posted_to_the_served_product_fires_once(served, tokens):
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    event = {"source": "tests", "type": "user.message", "userID": "alice", "metadata": {"text": "hello"}}
    at = timezone.now() + timedelta(seconds=1)
    with httpx.Client(base_url=served.url, headers=headers, timeout=10) as client:
        created = client.post("/api/schedule", json={"event": event, "timestamp": at.isoformat()})
        assert created.status_code == 201, created.text
        url = f"/api/schedule/{created.json()['id']}"
        deadline = time.monotonic() + 30
        while (shown := client.get(url).json())["status"] != "done":
            assert time.monotonic() < deadline, served.output()[-3000:]
            time.sleep(0.2)
        assert shown["run_count"] == 1 and shown["next_run"] is None and shown["last_run"]
        listed = client.get("/api/schedule").json()["schedules"]
        assert [s["id"] for s in listed] == [created.json()["id"]]

    from events.models import Event as EventRow

    deadline = time.monotonic() + 15
    while not EventRow.objects.filter(schedule_id=created.json()["id"], status="handled").exists():
        assert time.monotonic() < deadline, served.output()[-3000:]
        time.sleep(0.2)
    time.sleep(2)
    assert EventRow.objects.filter(schedule_id=created.json()["id"]).count() == 1
