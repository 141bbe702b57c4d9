import uuid

import pytest

from assistant import services
from assistant.models import ChatMessage, ChatSession
from projects.models import Workflow
from tests import factories as f
from tests.projects.test_modes import VALID

pytestmark = pytest.mark.django_db

#: The job (with its project) looked up once, and the caller's role in it for each built-in mode.
QUERIES_FOR_MODES = 3


@pytest.fixture
def alice(user, client_of):
    return client_of(user)


@pytest.fixture
def own_job(user):
    return f.job(workflow_=f.workflow(project_=f.project(members=[user])))


def test_anonymous_requests_are_401(api_client):
    urls = [
        ("get", "/api/modes/"), ("get", "/api/sessions/"), ("post", "/api/sessions/"),
        ("get", "/api/disclaimer/"), ("get", "/api/projects/"), ("get", "/api/runs/"),
    ]  # fmt: skip
    for method, url in urls:
        response = getattr(api_client, method)(url)
        assert response.status_code == 401, url
        assert response.json()["error"] == "not_authenticated"


def test_modes_lists_the_enabled_modes(alice, settings):
    modes = {m["id"]: m for m in alice.get("/api/modes/").json()["modes"]}
    assert modes["job_code"]["placeholder"] == "Ask about your job code, debugging, or adaptors..."
    assert modes["workflow_template"]["supports_template_generation"] is True
    settings.ASSISTANT_MODES = ["workflow_template"]
    assert [m["id"] for m in alice.get("/api/modes/").json()["modes"]] == ["workflow_template"]


def test_modes_say_why_input_is_disabled_about_a_job_or_project(alice, user, own_job, make_user, settings):
    def reasons(**params):
        response = alice.get("/api/modes/", params)
        assert response.status_code == 200, response.content
        return {m["id"]: m["input_disabled"] for m in response.json()["modes"]}

    assert reasons()["job_code"] == "Select a job to ask about it."
    assert reasons(job=own_job.pk)["job_code"] is None
    project = own_job.workflow.project
    assert reasons(project=project.pk)["workflow_template"] is None
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 10}
    services.usage_record(user=user, usage={"total_tokens": 10})
    assert reasons(job=own_job.pk)["job_code"] == "AI usage limit reached. Please try again later."


def test_modes_take_only_the_callers_own_objects(alice, make_user):
    foreign = f.job(workflow_=f.workflow(project_=f.project(members=[make_user("bob")])))
    for params in ({"job": foreign.pk}, {"project": foreign.workflow.project_id}, {"job": "x"}):
        response = alice.get("/api/modes/", params)
        assert response.status_code == 400, params
        assert response.json()["error"] == "invalid"


def test_a_session_says_why_its_input_is_disabled(alice, user, client_of, make_user, enqueued):
    session = f.job_session(user=user)
    detail = alice.get(f"/api/sessions/{session.pk}/").json()
    assert detail["input_disabled"] == "Wait for the assistant to finish its reply."
    ChatMessage.objects.filter(session=session).update(status="success")
    assert alice.get(f"/api/sessions/{session.pk}/").json()["input_disabled"] is None
    services.session_set_public(session=session, is_public=True)
    bob = make_user("bob")
    f.member(session.subject.workflow.project, bob)  # public sessions are shown to the project's members
    other = client_of(bob).get(f"/api/sessions/{session.pk}/").json()
    assert other["input_disabled"] == "This session is read-only for you: you can't send messages in it."


def test_creating_a_job_session_answers_201_with_the_pending_message(alice, own_job, enqueued):
    response = alice.post(
        "/api/sessions/",
        {"mode": "job_code", "job": own_job.pk, "content": "Why?", "meta": {"x": 1}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["mode"], body["job"], body["meta"], body["title"]) == (
        "job_code",
        own_job.pk,
        {"x": 1},
        "Why",
    )
    [message] = body["messages"]
    assert (message["role"], message["status"], message["content"]) == ("user", "pending", "Why?")
    assert set(message) >= {
        "id",
        "session",
        "role",
        "content",
        "code",
        "status",
        "error",
        "usage",
        "created_at",
    }


def test_creating_a_workflow_session(alice, user, enqueued):
    project = f.project(members=[user])
    body = alice.post(
        "/api/sessions/", {"mode": "workflow_template", "project": project.pk, "workflow": None,
                           "content": "Daily sync"}, format="json",
    ).json()  # fmt: skip
    assert (body["project"], body["workflow"]) == (project.pk, None)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"job": 1, "content": "x"}, "mode"),
        ({"mode": "nope", "content": "x"}, "mode"),
        ({"mode": "job_code", "content": "x"}, "job"),
        ({"mode": "job_code", "job": "abc", "content": "x"}, "job"),
        ({"mode": "job_code", "job": 1}, "content"),
        ({"mode": "job_code", "job": 1, "content": ""}, "content"),
        ({"mode": "job_code", "job": 1, "content": 42}, "content"),
        ({"mode": "job_code", "job": 1, "content": "x" * 10_001}, "content"),
        ({"mode": "workflow_template", "content": "x"}, "project"),
        ({"mode": "job_code", "job": 1, "content": "x", "meta": []}, "meta"),
    ],
)
def test_bad_session_input_is_a_400_and_saves_nothing(alice, own_job, body, field):
    if body.get("job") == 1:
        body["job"] = own_job.pk
    response = alice.post("/api/sessions/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]
    assert not ChatSession.objects.exists()


def test_another_users_objects_are_refused(alice, enqueued):
    stranger_job = f.job()
    response = alice.post(
        "/api/sessions/", {"mode": "job_code", "job": stranger_job.pk, "content": "x"}, format="json"
    )
    assert response.status_code == 400
    response = alice.post(
        "/api/sessions/",
        {"mode": "workflow_template", "project": f.project().pk, "content": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert not ChatSession.objects.exists()


def test_not_configured_is_a_503(alice, own_job, settings):
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = "http://127.0.0.1:9/v1", None
    response = alice.post(
        "/api/sessions/", {"mode": "job_code", "job": own_job.pk, "content": "x"}, format="json"
    )
    assert response.status_code == 503
    assert response.json()["error"] == "not_configured"


def test_the_usage_limit_is_a_429_and_saves_nothing(alice, user, own_job, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 10}
    services.usage_record(user=user, usage={"total_tokens": 10})
    response = alice.post(
        "/api/sessions/", {"mode": "job_code", "job": own_job.pk, "content": "x"}, format="json"
    )
    assert response.status_code == 429
    assert response.json() == {
        "error": "usage_limit",
        "detail": "AI usage limit reached. Please try again later.",
    }
    assert not ChatSession.objects.exists()


def test_listing_filters_sorts_and_paginates(alice, user, own_job, enqueued, make_user):
    for i in range(25):
        f.job_session(user=user, job_=own_job, content=f"Question {i}")
    f.workflow_session(user=user, content="A workflow")
    f.job_session(user=make_user("bob"), content="Not mine")
    page = alice.get("/api/sessions/", {"job": own_job.pk, "limit": 10, "offset": 20}).json()
    assert len(page["sessions"]) == 5
    assert page["pagination"] == {
        "offset": 20, "limit": 10, "current_page": 3, "page_size": 10,
        "total_count": 25, "has_next_page": False, "has_prev_page": True,
    }  # fmt: skip
    assert page["sessions"][0]["message_count"] == 1
    titles = [s["title"] for s in alice.get("/api/sessions/", {"limit": 100}).json()["sessions"]]
    assert "Not mine" not in titles and len(titles) == 26
    assert [s["title"] for s in alice.get("/api/sessions/", {"search": "workflow"}).json()["sessions"]] == [
        "A workflow"
    ]
    assert alice.get("/api/sessions/", {"mode": "workflow_template"}).json()["pagination"]["total_count"] == 1
    asc = alice.get("/api/sessions/", {"job": own_job.pk, "sort": "asc", "limit": 1}).json()["sessions"]
    assert asc[0]["title"] == "Question 0"
    none = alice.get("/api/sessions/", {"workflow": "none", "mode": "workflow_template"}).json()
    assert none["pagination"]["total_count"] == 1


@pytest.mark.parametrize(
    "params", [{"sort": "up"}, {"limit": 0}, {"limit": 101}, {"offset": -1}, {"job": "x"}, {"workflow": "y"}]
)
def test_bad_list_parameters_are_a_400(alice, params):
    response = alice.get("/api/sessions/", params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


def _bulk_sessions(user, job, n):
    sessions = ChatSession.objects.bulk_create(
        ChatSession(mode="job_code", user=user, **f.about(job), title=f"S{i}") for i in range(n)
    )
    ChatMessage.objects.bulk_create(
        ChatMessage(session=s, role="user", user=user, content="q", status="success") for s in sessions
    )
    return sessions


def test_list_and_detail_take_the_same_queries_at_10_and_1000(
    alice, user, own_job, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = _bulk_sessions(user, own_job, 10)
    alice.get("/api/sessions/", {"limit": 50})  # warm the caches (content types) first
    alice.get(f"/api/sessions/{small[0].pk}/")
    with CaptureQueriesContext(connection) as few_list:
        alice.get("/api/sessions/", {"limit": 50})
    with CaptureQueriesContext(connection) as few_detail:
        alice.get(f"/api/sessions/{small[0].pk}/")
    big = _bulk_sessions(user, own_job, 990)
    ChatMessage.objects.bulk_create(
        ChatMessage(session=big[0], role="assistant", content=f"a{i}") for i in range(1000)
    )
    with django_assert_num_queries(len(few_list)):
        assert len(alice.get("/api/sessions/", {"limit": 50}).json()["sessions"]) == 50
    with django_assert_num_queries(len(few_detail)):
        assert len(alice.get(f"/api/sessions/{big[0].pk}/").json()["messages"]) == 1001


def test_a_session_with_its_messages(alice, user, enqueued):
    session = f.job_session(user=user, content="first")
    services.message_save(session=session, role="assistant", content="answer")
    body = alice.get(f"/api/sessions/{session.pk}/").json()
    assert [m["content"] for m in body["messages"]] == ["first", "answer"]


def test_other_users_sessions_are_404_unless_public_in_a_shared_project(user, make_user, client_of, enqueued):
    session = f.job_session(user=user)
    bob_user = make_user("bob")
    f.member(session.subject.workflow.project, bob_user)
    bob = client_of(bob_user)
    for method, url in [("get", f"/api/sessions/{session.pk}/"), ("patch", f"/api/sessions/{session.pk}/"),
                        ("delete", f"/api/sessions/{session.pk}/"),
                        ("post", f"/api/sessions/{session.pk}/messages/"),
                        ("post", f"/api/messages/{f.first_message(session).pk}/cancel/")]:  # fmt: skip
        response = getattr(bob, method)(url, {"content": "hi"}, format="json")
        assert response.status_code == 404, (method, url)
        assert response.json()["error"] == "not_found"
    services.session_set_public(session=session, is_public=True)
    assert bob.get(f"/api/sessions/{session.pk}/").status_code == 200
    assert bob.patch(f"/api/sessions/{session.pk}/", {"title": "Mine now"}, format="json").status_code == 403
    assert (
        bob.post(f"/api/sessions/{session.pk}/messages/", {"content": "x"}, format="json").status_code == 403
    )


def test_staff_with_the_view_permission_read_every_session(user, make_user, client_of, enqueued):
    from django.contrib.auth.models import Permission

    session = f.job_session(user=user)
    root = make_user("root", is_staff=True)
    staff = client_of(root)
    assert staff.get(f"/api/sessions/{session.pk}/").status_code == 404  # staff alone is not enough
    root.user_permissions.add(Permission.objects.get(codename="view_chatsession"))
    staff = client_of(type(root).objects.get(pk=root.pk))
    assert staff.get(f"/api/sessions/{session.pk}/").status_code == 200
    assert staff.get("/api/sessions/").json()["pagination"]["total_count"] == 1
    # Reading is all it gives.
    assert (
        staff.post(f"/api/sessions/{session.pk}/messages/", {"content": "x"}, format="json").status_code
        == 403
    )
    assert staff.delete(f"/api/sessions/{session.pk}/").status_code == 403


def test_unknown_ids_are_404(alice):
    assert alice.get(f"/api/sessions/{uuid.uuid4()}/").status_code == 404
    assert alice.get("/api/sessions/not-a-uuid/").status_code == 404
    assert alice.post(f"/api/messages/{uuid.uuid4()}/retry/").status_code == 404


def test_rename_and_delete(alice, user, enqueued):
    session = f.job_session(user=user)
    assert (
        alice.patch(f"/api/sessions/{session.pk}/", {"title": "Renamed"}, format="json").json()["title"]
        == "Renamed"
    )
    for bad in ({"title": ""}, {"title": "x" * 41}, {"title": 5}, {"is_public": "maybe"}):
        assert alice.patch(f"/api/sessions/{session.pk}/", bad, format="json").status_code == 400
    assert alice.delete(f"/api/sessions/{session.pk}/").status_code == 204
    assert not ChatSession.objects.exists()


def test_posting_a_message_answers_202_with_the_pending_message(
    alice, user, enqueued, django_capture_on_commit_callbacks
):
    session = f.job_session(user=user)
    ChatMessage.objects.filter(session=session).update(status="success")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(
            f"/api/sessions/{session.pk}/messages/",
            {"content": "More?", "options": {"logs": True}},
            format="json",
        )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["content"], body["role"]) == ("pending", "More?", "user")
    assert enqueued[-1] == body["id"]
    assert ChatMessage.objects.get(pk=body["id"]).meta == {"options": {"logs": True}}


@pytest.mark.parametrize(
    "body",
    [{}, {"content": ""}, {"content": "x", "options": {"nope": True}}, {"content": "x", "options": "logs"}],
)
def test_bad_messages_are_a_400(alice, user, enqueued, body):
    session = f.job_session(user=user)
    assert alice.post(f"/api/sessions/{session.pk}/messages/", body, format="json").status_code == 400
    assert session.messages.count() == 1


def test_retry_and_cancel(alice, user, enqueued):
    message = f.first_message(f.job_session(user=user))
    assert alice.post(f"/api/messages/{message.pk}/retry/").status_code == 409
    response = alice.post(f"/api/messages/{message.pk}/cancel/")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    assert alice.post(f"/api/messages/{message.pk}/cancel/").status_code == 409
    response = alice.post(f"/api/messages/{message.pk}/retry/")
    assert (response.status_code, response.json()["status"]) == (200, "pending")


def test_apply_a_template(alice, user, enqueued):
    project = f.project(members=[user])
    session = f.workflow_session(user=user, project_=project)
    assert alice.post(f"/api/sessions/{session.pk}/apply/").status_code == 409
    invalid = VALID.replace("target_job: load", "target_job: gone")
    from projects.workflow_yaml import validate

    services.message_save(session=session, role="assistant", content="v1", code=invalid,
                          message_meta={"validation_errors": validate(invalid)})  # fmt: skip
    response = alice.post(f"/api/sessions/{session.pk}/apply/")
    assert response.status_code == 409 and "gone" in response.json()["detail"]
    services.message_save(session=session, role="assistant", content="v2", code=VALID,
                          message_meta={"validation_errors": []})  # fmt: skip
    response = alice.post(f"/api/sessions/{session.pk}/apply/")
    assert response.status_code == 200, response.content
    workflow = Workflow.objects.get(project=project)
    assert response.json()["workflow"] == workflow.pk and workflow.jobs.count() == 2


def test_the_disclaimer(alice):
    body = alice.get("/api/disclaimer/").json()
    assert body["version"] == 1 and body["text"] and body["accepted"] is False
    assert alice.post("/api/disclaimer/").json() == {"version": 1, "accepted": True}
    assert alice.get("/api/disclaimer/").json()["accepted"] is True


@pytest.mark.parametrize(
    "url, params",
    [("/api/sessions/", {"job": 2**64}), ("/api/sessions/", {"project": 10**30}),
     ("/api/sessions/", {"workflow": "9" * 30}), ("/api/workflows/", {"project": 10**30}),
     ("/api/runs/", {"job": 2**64})],
)  # fmt: skip
def test_ids_too_big_for_the_database_are_a_400(alice, url, params):
    assert alice.get(url, params).status_code == 400


def test_a_huge_object_id_in_a_new_session_is_a_400(alice):
    response = alice.post("/api/sessions/", {"mode": "job_code", "job": 2**64, "content": "x"}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url, body",
    [
        ("/api/workflows/", {"project": 2**64, "name": "W"}),
        ("/api/jobs/", {"workflow": 2**64, "name": "J", "adaptor": "a"}),
    ],
)
def test_a_huge_parent_id_is_a_400(alice, url, body):
    assert alice.post(url, body, format="json").status_code == 400


def test_the_modes_list_looks_the_job_up_once_for_the_modes_that_share_the_lookup(
    alice, own_job, django_assert_num_queries
):
    # One lookup of the job (with its project) for both built-in modes, then each mode's
    # own check of the caller's role (no reply in progress or usage to read without a
    # session or a limit).
    with django_assert_num_queries(QUERIES_FOR_MODES):
        response = alice.get("/api/modes/", {"job": own_job.pk})
    assert response.status_code == 200
