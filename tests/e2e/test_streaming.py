"""A streamed answer over a real websocket to the served product (demo model), with
the connection cut mid-answer and resumed: the whole answer, once."""

import asyncio
import json
import time

import httpx
import pytest
import websockets

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-enough-password"


def setup_session(served):
    http = httpx.Client(base_url=served.url, timeout=10)
    http.post("/api/register", json={"userID": "sam", "password": PASSWORD})
    token = http.post("/api/token", json={"userID": "sam", "password": PASSWORD}).json()["token"]
    http.headers["Authorization"] = f"Bearer {token}"
    project = http.post("/api/projects/", json={"name": "P"}).json()
    workflow = http.post("/api/workflows/", json={"project": project["id"], "name": "W"}).json()
    job = http.post(
        "/api/jobs/", json={"workflow": workflow["id"], "name": "J", "adaptor": "@openfn/x@1"}
    ).json()
    return http, token, job


def test_a_streamed_answer_survives_a_cut_connection(served):
    http, token, job = setup_session(served)
    session = http.post("/api/sessions/", json={"mode": "job_code", "job": job["id"], "content": "Hi"}).json()
    url = f"{served.ws_url}/ws/sessions/{session['id']}/?token={token}"

    async def scenario():
        text, last_seq = "", 0
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"action": "resume", "after": 0}))
            while len(text) < 40:  # part of the answer, then drop the connection
                event = json.loads(await asyncio.wait_for(ws.recv(), 20))
                last_seq = event["seq"]
                if event["type"] == "token":
                    text += event["delta"]
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"action": "resume", "after": last_seq}))
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert event["seq"] > last_seq
                last_seq = event["seq"]
                if event["type"] == "token":
                    text += event["delta"]
                if event["type"] == "message.completed":
                    return text, event["message"]["content"]

    streamed, saved = asyncio.run(scenario())
    assert streamed == saved
    assert saved.startswith("This is the offline demo model")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = http.get(f"/api/sessions/{session['id']}/").json()["messages"]
        if len(messages) == 2:
            break
        time.sleep(0.1)
    assert messages[1]["content"] == saved
