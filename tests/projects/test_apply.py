"""POST /api/sessions/{id}/apply/: a dry run reports what applying would change; applying
says what it changed, never takes over a workflow it was not asked to change, and does
it all in one transaction."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assistant import services
from assistant.models import ChatSession
from projects import sessions
from projects.models import Run, Workflow
from tests import factories as f

pytestmark = pytest.mark.django_db


def template(name: str, jobs: dict[str, str]) -> str:
    """A workflow template named ``name`` with a webhook starting a chain of ``jobs``
    (name -> body)."""
    keys = [job.replace(" ", "-") for job in jobs]
    lines = [f"name: {name}", "jobs:"]
    for key, (job, body) in zip(keys, jobs.items(), strict=True):
        lines += [
            f"  {key}:",
            f"    name: {job}",
            "    adaptor: '@openfn/language-common@latest'",
            f"    body: {body}",
        ]
    lines += ["triggers:", "  webhook:", "    type: webhook", "    enabled: true", "edges:"]
    for source, target in zip(["webhook", *keys], keys, strict=False):
        start = "source_trigger" if source == "webhook" else "source_job"
        lines += [f"  {source}->{target}:", f"    {start}: {source}", f"    target_job: {target}"]
        lines += [
            "    condition_type: " + ("always" if source == "webhook" else "on_job_success"),
            "    enabled: true",
        ]
    return "\n".join(lines) + "\n"


DAILY = template("Daily sync", {"Fetch": "get('/items');", "Load": "fn(s => s);"})


@pytest.fixture
def intake(user):
    """The demo's workflow: Intake, with Fetch patients (a run, and a job-help
    conversation) and Load."""
    workflow = f.workflow(project_=f.project(members=[user], name="Clinic"), name="Intake")
    fetch = f.job(workflow_=workflow, name="Fetch patients")
    Run.objects.create(job=fetch, state="success", log="ok")
    f.job_session(user=user, job_=fetch)
    f.job(workflow_=workflow, name="Load", code="old code")
    return workflow


def session_with(user, project, source: str, workflow=None) -> ChatSession:
    session = f.workflow_session(user=user, project_=project, workflow_=workflow)
    services.message_save(session=session, role="assistant", content="Here", code=source)
    return session


def jobs_of(workflow: Workflow) -> dict[str, str]:
    return dict(workflow.jobs.values_list("name", "code"))


def test_applying_to_an_existing_workflow_is_previewed_then_reported(alice, user, intake):
    session = session_with(user, intake.project, DAILY, workflow=intake)
    before = jobs_of(intake)

    preview = alice.post(f"/api/sessions/{session.pk}/apply/", {"dry_run": True}, format="json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert {"id", "title", "mode", "job", "project", "workflow", "meta", "created_at"} <= set(body)
    assert body["id"] == str(session.pk) and body["workflow"] == intake.pk
    changes = body["changes"]
    assert changes["dry_run"] is True
    assert changes["workflow"] == {
        "id": intake.pk, "name": "Daily sync", "created": False,
        "renamed_from": "Intake", "spec_changed": True,
    }  # fmt: skip
    assert changes["jobs"] == {
        "added": ["Fetch"],
        "updated": ["Load"],
        "removed": ["Fetch patients"],
        "unchanged": [],
    }
    assert changes["removed_history"] == {"runs": 1, "conversations": 1}
    assert changes["summary"].startswith("Will update workflow “Daily sync” (renamed from “Intake”)")
    intake.refresh_from_db()
    assert intake.name == "Intake" and jobs_of(intake) == before and Run.objects.count() == 1

    applied = alice.post(f"/api/sessions/{session.pk}/apply/", {}, format="json")
    assert applied.status_code == 200, applied.content
    changes = applied.json()["changes"]
    assert changes["dry_run"] is False and changes["jobs"]["removed"] == ["Fetch patients"]
    assert changes["summary"] == (
        "Updated workflow “Daily sync” (renamed from “Intake”): added Fetch; updated Load; "
        "removed Fetch patients; deleted 1 run and 1 conversation of the removed jobs."
    )
    intake.refresh_from_db()
    assert intake.name == "Daily sync"
    assert jobs_of(intake) == {"Fetch": "get('/items');", "Load": "fn(s => s);"}
    assert not Run.objects.exists() and not ChatSession.objects.filter(mode="job_code").exists()

    again = alice.post(f"/api/sessions/{session.pk}/apply/").json()["changes"]
    assert again["jobs"] == {"added": [], "updated": [], "removed": [], "unchanged": ["Fetch", "Load"]}
    assert again["summary"] == "Workflow “Daily sync” already matches the template: nothing changed."


def test_a_new_request_creates_a_new_workflow_and_says_so(alice, user, intake):
    session = session_with(user, intake.project, DAILY)
    preview = alice.post(f"/api/sessions/{session.pk}/apply/", {"dry_run": True}, format="json").json()
    assert preview["changes"]["workflow"] == {
        "id": None, "name": "Daily sync", "created": True, "renamed_from": None, "spec_changed": True,
    }  # fmt: skip
    assert preview["workflow"] is None and Workflow.objects.count() == 1

    body = alice.post(f"/api/sessions/{session.pk}/apply/").json()
    created = Workflow.objects.get(name="Daily sync")
    assert body["workflow"] == created.pk and body["changes"]["workflow"]["id"] == created.pk
    assert body["changes"]["summary"] == "Created workflow “Daily sync”: added Fetch, Load."
    session = ChatSession.objects.get(pk=session.pk)
    assert session.subject == created
    assert set(jobs_of(intake)) == {"Fetch patients", "Load"}  # the demo workflow untouched


def test_a_new_workflow_never_takes_over_one_of_the_same_name(alice, user, intake):
    session = session_with(user, intake.project, template("Intake", {"Fetch": "x"}))
    for body in ({"dry_run": True}, {}):
        response = alice.post(f"/api/sessions/{session.pk}/apply/", body, format="json")
        assert (
            response.status_code == 409
            and "already has a workflow named “Intake”" in response.json()["detail"]
        )
    assert set(jobs_of(intake)) == {"Fetch patients", "Load"}
    other = f.workflow(project_=intake.project, name="Daily sync")
    renaming = session_with(user, intake.project, DAILY, workflow=intake)
    response = alice.post(f"/api/sessions/{renaming.pk}/apply/")
    assert response.status_code == 409 and "Daily sync" in response.json()["detail"]
    intake.refresh_from_db()
    assert intake.name == "Intake" and other.jobs.count() == 0


def test_applying_is_one_transaction(alice, user, intake, monkeypatch):
    session = session_with(user, intake.project, DAILY, workflow=intake)

    def broken(**kwargs):
        raise RuntimeError("the session could not be linked")

    monkeypatch.setattr(sessions, "session_associate_workflow", broken)
    assert alice.post(f"/api/sessions/{session.pk}/apply/").status_code == 500
    intake.refresh_from_db()
    assert intake.name == "Intake" and set(jobs_of(intake)) == {"Fetch patients", "Load"}
    assert Run.objects.count() == 1


def test_a_chosen_reply_is_applied_and_bad_bodies_are_refused(alice, user, intake, make_user):
    session = session_with(user, intake.project, DAILY)
    older = session.messages.get(role="assistant")
    services.message_save(
        session=session, role="assistant", content="Later", code=template("Later", {"A": "x"})
    )
    response = alice.post(f"/api/sessions/{session.pk}/apply/", {"message": str(older.pk)}, format="json")
    assert response.status_code == 200 and response.json()["changes"]["workflow"]["name"] == "Daily sync"

    elsewhere = session_with(user, intake.project, DAILY).messages.get(role="assistant")
    for bad in ({"message": str(elsewhere.pk)}, {"message": "not-an-id"}, {"dry_run": "perhaps"}):
        response = alice.post(f"/api/sessions/{session.pk}/apply/", bad, format="json")
        assert response.status_code == 400 and response.json()["error"] == "invalid", bad
    assert Workflow.objects.filter(name="Later").count() == 0


def test_the_queries_stay_flat_as_the_workflow_grows(alice, user):
    counts = []
    for size in (2, 30):
        project = f.project(members=[user])
        workflow = f.workflow(project_=project, name=f"Flow {size}")
        for i in range(size):
            f.job(workflow_=workflow, name=f"Old {i}")
        jobs = {f"Job {i}": f"fn(s => {i});" for i in range(size)}
        jobs.update({f"Old {i}": "changed" for i in range(size // 2)})
        session = session_with(user, project, template(f"Flow {size}", jobs), workflow=workflow)
        with CaptureQueriesContext(connection) as queries:
            response = alice.post(f"/api/sessions/{session.pk}/apply/")
        assert response.status_code == 200, response.content
        assert len(response.json()["changes"]["jobs"]["added"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
