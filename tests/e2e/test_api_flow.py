"""Both built-in modes through the served product's API, answered by the offline demo
model: a real server, its workers (threads or Celery), and HTTP only."""

import time

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-enough-password"


def wait_for_reply(http, session_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = http.get(f"/api/sessions/{session_id}/").json()
        replies = [m for m in session["messages"] if m["role"] == "assistant"]
        if replies:
            return session, replies[-1]
        failed = [m for m in session["messages"] if m["status"] == "error"]
        assert not failed, failed
        time.sleep(0.2)
    raise AssertionError("no reply")


def test_job_help_and_a_workflow_template_through_the_api(served):
    with httpx.Client(base_url=served.url, timeout=10) as http:
        http.post("/api/register", json={"userID": "erin", "password": PASSWORD})
        token = http.post("/api/token", json={"userID": "erin", "password": PASSWORD}).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        project = http.post("/api/projects/", json={"name": "Clinic"}).json()
        workflow = http.post("/api/workflows/", json={"project": project["id"], "name": "Intake"}).json()
        job = http.post("/api/jobs/", json={"workflow": workflow["id"], "name": "Fetch",
                                            "adaptor": "@openfn/language-http@6"}).json()  # fmt: skip
        modes = {m["id"] for m in http.get("/api/modes/").json()["modes"]}
        assert {"job_code", "workflow_template"} <= modes

        created = http.post(
            "/api/sessions/", json={"mode": "job_code", "job": job["id"], "content": "Why 404?"}
        )
        assert created.status_code == 201, created.text
        session, reply = wait_for_reply(http, created.json()["id"])
        assert reply["content"].startswith("This is the offline demo model")
        assert "@openfn/language-http@6" in reply["content"]
        assert session["messages"][0]["status"] == "success"

        body = {"content": "And now?", "options": {"logs": True}}
        more = http.post(f"/api/sessions/{session['id']}/messages/", json=body)
        assert more.status_code == 202 and more.json()["status"] == "pending"

        created = http.post(
            "/api/sessions/",
            json={"mode": "workflow_template", "project": project["id"], "content": "Sync patients daily"},
        )
        session, reply = wait_for_reply(http, created.json()["id"])
        assert reply["code"].startswith("name: Sync Patients Daily")
        applied = http.post(f"/api/sessions/{session['id']}/apply/")
        assert applied.status_code == 200, applied.text
        jobs = http.get("/api/jobs/", params={"workflow": applied.json()["workflow"]}).json()["results"]
        names = {j["name"] for j in jobs}
        assert names == {"Fetch data", "Send data"}
