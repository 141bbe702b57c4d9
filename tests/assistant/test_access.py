"""Access is decided on every use of a session: every read, send, apply, retry, cancel,
model call and tool call re-checks that the user may still use the session's object,
with the project roles (owner, admin, editor, viewer)."""

import pytest

from assistant import processing, services
from assistant.models import ChatMessage, ChatSession
from projects.models import Job, ProjectMembership, Workflow
from tests import factories as f
from tests.conftest import client_for
from tests.llm_server import Reply
from tests.projects.test_modes import VALID

pytestmark = pytest.mark.django_db
Role = ProjectMembership.Role
Status = ChatMessage.Status


@pytest.fixture
def project(alice, bob):
    made = f.project(members=[alice])
    f.member(made, bob, Role.EDITOR)
    return made


@pytest.fixture
def job(project):
    made = f.job(workflow_=f.workflow(project_=project, name="Alice's workflow"), code="secret();")
    f.run(job_=made, log="[JOB] private log line")
    return made


@pytest.fixture
def bobs_job_session(bob, job, enqueued):
    session = f.job_session(user=bob, job_=job)
    ChatMessage.objects.filter(session=session).update(status=Status.SUCCESS)
    return session


@pytest.fixture
def bobs_workflow_session(bob, job, enqueued):
    session = f.workflow_session(user=bob, project_=job.workflow.project, workflow_=job.workflow)
    services.message_save(session=session, role="assistant", content=f"```yaml\n{VALID}```", code=VALID)
    ChatMessage.objects.filter(session=session, role="user").update(status=Status.SUCCESS)
    return session


def remove(project, user):
    ProjectMembership.objects.filter(project=project, user=user).delete()


# --- A removed member keeps nothing ---------------------------------------------------


def test_a_removed_member_can_no_longer_send_in_his_old_job_session(bob, project, bobs_job_session):
    remove(project, bob)
    response = client_for(bob).post(
        f"/api/sessions/{bobs_job_session.pk}/messages/", {"content": "Show me the code"}, format="json"
    )
    assert response.status_code == 404, response.content
    assert bobs_job_session.messages.count() == 1


def test_a_removed_member_can_no_longer_apply_to_the_workflow(bob, project, job, bobs_workflow_session):
    remove(project, bob)
    response = client_for(bob).post(f"/api/sessions/{bobs_workflow_session.pk}/apply/")
    assert response.status_code == 404, response.content
    job.workflow.refresh_from_db()
    assert job.workflow.name == "Alice's workflow"
    assert list(Job.objects.filter(workflow=job.workflow)) == [job]
    assert Workflow.objects.filter(project=project).count() == 1


def test_a_removed_member_can_no_longer_read_list_retry_or_cancel(bob, project, bobs_job_session):
    message = f.first_message(bobs_job_session)
    ChatMessage.objects.filter(pk=message.pk).update(status=Status.ERROR)
    remove(project, bob)
    client = client_for(bob)
    assert client.get(f"/api/sessions/{bobs_job_session.pk}/").status_code == 404
    assert client.get("/api/sessions/").json()["sessions"] == []
    assert client.get(f"/api/sessions/{bobs_job_session.pk}/events").status_code == 404
    assert client.post(f"/api/messages/{message.pk}/retry/").status_code == 404
    message.refresh_from_db()
    assert message.status == Status.ERROR
    ChatMessage.objects.filter(pk=message.pk).update(status=Status.PENDING)
    assert client.post(f"/api/messages/{message.pk}/cancel/").status_code == 404
    message.refresh_from_db()
    assert message.status == Status.PENDING


def test_a_question_queued_before_the_removal_is_not_answered(bob, project, job, enqueued, model_server):
    session = f.job_session(user=bob, job_=job, content="What does it do?")
    remove(project, bob)
    outcome = processing.message_process(message_id=f.first_message(session).pk)
    assert outcome.state == "error"
    message = f.first_message(session)
    assert message.status == Status.ERROR
    assert "access" in message.error
    assert model_server.calls == 0  # the prompt (job code, run logs) never left


def test_a_tool_call_after_the_removal_is_refused(bob, project, job, enqueued, model_server, events):
    session = f.job_session(user=bob, job_=job, content="Why did it fail?")
    message = f.first_message(session)
    original = services.ai_query

    def removed_while_the_model_thinks(**kwargs):
        remove(project, bob)
        return original(**kwargs)

    model_server.script(
        Reply(text="", tool_calls=[{"id": "c1", "name": "run_log", "arguments": "{}"}]),
        Reply(text="Here is the log."),
    )
    import assistant.services as service_module

    service_module.ai_query = removed_while_the_model_thinks
    try:
        processing.message_process(message_id=message.pk)
    finally:
        service_module.ai_query = original
    message.refresh_from_db()
    assert message.status == Status.ERROR
    assert not any(e["type"] == "tool.end" and e.get("ok") for e in events)
    # The model never received the log.
    assert all("private log line" not in str(request) for request in model_server.requests)


# --- Project roles ----------------------------------------------------------------------


@pytest.fixture
def viewer(make_user, project):
    user = make_user("victor")
    f.member(project, user, Role.VIEWER)
    return user


def test_a_viewer_reads_the_projects_public_chats_but_cannot_send_apply_or_retry(
    viewer, alice, job, enqueued
):
    session = f.workflow_session(user=alice, project_=job.workflow.project, workflow_=job.workflow)
    services.message_save(session=session, role="assistant", content=f"```yaml\n{VALID}```", code=VALID)
    failed = f.first_message(session)
    ChatMessage.objects.filter(pk=failed.pk).update(status=Status.ERROR)
    services.session_set_public(session=session, is_public=True)
    client = client_for(viewer)
    assert client.get(f"/api/sessions/{session.pk}/").status_code == 200
    assert [s["id"] for s in client.get("/api/sessions/").json()["sessions"]] == [str(session.pk)]
    assert (
        client.post(f"/api/sessions/{session.pk}/messages/", {"content": "Hi"}, format="json").status_code
        == 403
    )
    assert client.post(f"/api/sessions/{session.pk}/apply/").status_code == 403
    assert client.post(f"/api/messages/{failed.pk}/retry/").status_code == 403
    assert session.messages.count() == 2
    job.workflow.refresh_from_db()
    assert job.workflow.name == "Alice's workflow"


def test_a_viewer_cannot_start_a_conversation(viewer, job, enqueued):
    client = client_for(viewer)
    response = client.post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi"}, format="json"
    )
    assert response.status_code == 403, response.content
    assert response.json()["error"] == "permission_denied"
    assert not ChatSession.objects.exists()
    modes = {m["id"]: m for m in client.get("/api/modes/", {"job": job.pk}).json()["modes"]}
    assert modes["job_code"]["input_disabled"]


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.EDITOR])
def test_editors_and_above_can_send(make_user, project, job, enqueued, role):
    user = make_user("member")
    f.member(project, user, role)
    response = client_for(user).post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_a_member_demoted_to_viewer_can_read_but_no_longer_send(bob, project, bobs_job_session):
    ProjectMembership.objects.filter(project=project, user=bob).update(role=Role.VIEWER)
    client = client_for(bob)
    assert client.get(f"/api/sessions/{bobs_job_session.pk}/").json()["input_disabled"]
    response = client.post(f"/api/sessions/{bobs_job_session.pk}/messages/", {"content": "Hi"}, format="json")
    assert response.status_code == 403
    assert bobs_job_session.messages.count() == 1


def test_a_viewer_cannot_create_workflows_or_jobs(viewer, project):
    client = client_for(viewer)
    response = client.post("/api/workflows/", {"project": project.pk, "name": "New"}, format="json")
    assert response.status_code == 403
    assert not Workflow.objects.exists()


# --- Public sessions stay in their project ------------------------------------------------


def test_a_public_session_is_visible_to_its_projects_members_only(alice, make_user, job, enqueued):
    outsider = make_user("mallory")
    session = f.job_session(user=alice, job_=job)
    services.session_set_public(session=session, is_public=True)
    client = client_for(outsider)
    assert client.get("/api/sessions/").json()["sessions"] == []
    assert client.get(f"/api/sessions/{session.pk}/").status_code == 404
    assert client.get(f"/api/sessions/{session.pk}/events").status_code == 404


def test_listing_sessions_takes_the_same_queries_however_many(
    alice, bob, project, job, enqueued, django_assert_max_num_queries
):
    client = client_for(bob)

    def listed():
        with django_assert_max_num_queries(6):
            return client.get("/api/sessions/").json()["pagination"]["total_count"]

    def share(count):
        for _ in range(count):
            session = f.job_session(user=alice, job_=job)
            ChatMessage.objects.filter(session=session).update(status=Status.SUCCESS)
            services.session_set_public(session=session, is_public=True)

    share(3)
    assert listed() == 3
    share(20)
    assert listed() == 23
