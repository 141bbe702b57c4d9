"""Semantic search through the served product: jobs saved over the API are embedded in
the background (the web process's threads, or the Celery worker), found by meaning over
the API, and by the model, which calls ``semantic_search`` and cites what it found."""

import json
import time

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db(transaction=True)
WANTED = "Push patients to the national register"


def wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return found


def cite(body) -> str:
    """The scripted model's answer: the first row the tool found, by name and id."""
    [result] = [m for m in body["messages"] if m["role"] == "tool"]
    first = json.loads(result["content"])["results"][0]
    return f"The job that does that is “{first['name']}” (job {first['id']})."


def test_the_model_finds_a_job_by_meaning_and_cites_it(served_with_model, model_server):
    with httpx.Client(base_url=served_with_model.url, timeout=10) as http:
        http.post("/api/register", json={"userID": "erin", "password": PASSWORD})
        token = http.post("/api/token", json={"userID": "erin", "password": PASSWORD}).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        project = http.post("/api/projects/", json={"name": "Clinic"}).json()
        workflow = http.post("/api/workflows/", json={"project": project["id"], "name": "Intake"}).json()
        jobs = {
            name: http.post(
                "/api/jobs/",
                json={
                    "workflow": workflow["id"],
                    "name": name,
                    "adaptor": "@openfn/language-http@6",
                    "code": code,
                },
            ).json()  # fmt: skip
            for name, code in [
                (WANTED, "post('/registry/patients', state.patients);"),
                ("Send invoices", "sendEmail(state.invoice);"),
            ]  # fmt: skip
        }
        wanted = jobs[WANTED]["id"]

        def found_over_the_api():
            params = {"q": "syncs patients to the registry", "model": "projects.job"}
            results = http.get("/api/search/semantic", params=params).json()["results"]
            return len(results) == 2 and results[0]["object"]["id"] == wanted

        wait_for(found_over_the_api, "the jobs were not embedded")

        arguments = json.dumps(
            {"query": "the job that syncs patients to the registry", "model": "projects.job"}
        )
        model_server.script(
            Reply(text="", tool_calls=[{"id": "call_s", "name": "semantic_search", "arguments": arguments}]),
            Reply(respond=cite),
        )
        created = http.post(
            "/api/sessions/",
            json={
                "mode": "job_code",
                "job": jobs["Send invoices"]["id"],
                "content": "Which job syncs patients?",
            },
        )
        assert created.status_code == 201, created.text

        def reply():
            messages = http.get(f"/api/sessions/{created.json()['id']}/").json()["messages"]
            assert not [m for m in messages if m["status"] == "error"], messages
            return next((m for m in messages if m["role"] == "assistant"), None)

        answer = wait_for(reply, "no reply")
        assert answer["content"] == f"The job that does that is “{WANTED}” (job {wanted})."
