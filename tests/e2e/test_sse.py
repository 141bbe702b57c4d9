"""Server-Sent Events from the served product: a streamed answer, and a reconnect with
Last-Event-ID that continues where the first connection stopped."""

import json

import httpx
import pytest

from tests.e2e.test_streaming import setup_session

pytestmark = pytest.mark.django_db(transaction=True)


def events(response):
    event_id, kind = None, None
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            yield event_id, kind, json.loads(line[6:])


def test_events_stream_and_resume_with_last_event_id(served):
    http, token, job = setup_session(served)
    session = http.post("/api/sessions/", json={"mode": "job_code", "job": job["id"], "content": "Hi"}).json()
    url = f"{served.url}/api/sessions/{session['id']}/events"
    headers = {"Authorization": f"Bearer {token}"}
    text, last = "", 0
    with httpx.stream("GET", url, headers=headers, timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event_id, kind, data in events(response):
            assert event_id > last and data["seq"] == event_id and data["type"] == kind
            last = event_id
            if kind == "token":
                text += data["delta"]
                if len(text) > 40:
                    break
    with httpx.stream("GET", url, headers={**headers, "Last-Event-ID": str(last)}, timeout=20) as response:
        for event_id, kind, data in events(response):
            assert event_id == last + 1
            last = event_id
            if kind == "token":
                text += data["delta"]
            if kind == "message.completed":
                assert text == data["message"]["content"]
                break


def test_events_need_auth_and_ownership(served, make_user):
    http, token, job = setup_session(served)
    session = http.post("/api/sessions/", json={"mode": "job_code", "job": job["id"], "content": "Hi"}).json()
    url = f"{served.url}/api/sessions/{session['id']}/events"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    http.post("/api/register", json={"userID": "other", "password": "a-long-enough-password"})
    other = http.post("/api/token", json={"userID": "other", "password": "a-long-enough-password"}).json()
    assert httpx.get(url, headers={"Authorization": f"Bearer {other['token']}"}).status_code == 404
    bad = httpx.get(url, headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "x"})
    assert bad.status_code == 400
