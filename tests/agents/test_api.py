"""POST /api/events with worker.task, GET /api/tasks and GET /api/tasks/{id}."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents import services
from agents.models import WorkerTask
from events.models import Event as EventRow
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def body(**metadata) -> dict:
    return {"timestamp": "2025-01-31T12:00:00Z", "source": "tests", "type": "worker.task", "userID": "alice",
            "metadata": metadata}  # fmt: skip


def with_lines(task, n: int) -> WorkerTask:
    run = services.task_start(task=task, input=task.input)
    for i in range(n):
        run.log(f"line {i + 1}")
    return task


def test_the_urls_are_the_contract():
    assert reverse("tasks") == "/api/tasks"
    assert reverse("task", args=["6f0c0000-0000-0000-0000-000000000000"]) == (
        "/api/tasks/6f0c0000-0000-0000-0000-000000000000"
    )


# --- POST /api/events ---------------------------------------------------------------


def test_a_worker_task_event_is_accepted_and_its_task_readable_at_once(auth_client, routed, test_agents):
    response = auth_client.post(
        "/api/events", body(agent="test_steps", input={"steps": ["a"]}), format="json"
    )
    assert response.status_code == 202, response.content
    task_id = response.json()["id"]
    data = auth_client.get(f"/api/tasks/{task_id}").json()
    assert (data["id"], data["event"], data["agent"], data["status"]) == (
        task_id,
        task_id,
        "test_steps",
        "queued",
    )
    assert (data["input"], data["lines"], data["more_lines"], data["result"]) == (
        {"steps": ["a"]},
        [],
        False,
        None,
    )


@pytest.mark.parametrize(
    "metadata, field",
    [
        ({"agent": "no_such_agent"}, "metadata.agent"),
        ({"agent": ""}, "metadata.agent"),
        ({}, "metadata.agent"),
        ({"agent": "test_steps", "input": [1]}, "metadata.input"),
        ({"agent": "test_steps", "input": {"steps": "a"}}, "metadata.input.steps"),
        ({"agent": "usage_report", "input": {"days": 0}}, "metadata.input.days"),
    ],
)
def test_a_bad_worker_task_is_a_400_naming_the_field_and_nothing_is_stored(
    auth_client, routed, test_agents, metadata, field
):
    response = auth_client.post("/api/events", body(**metadata), format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["error"] == "invalid" and list(data["detail"]) == [field]
    assert data["detail"][field][0]
    assert not EventRow.objects.exists() and not WorkerTask.objects.exists() and routed == []


def test_an_unknown_agent_is_named_with_the_known_ones(auth_client, routed):
    response = auth_client.post("/api/events", body(agent="rm_rf"), format="json")
    message = response.json()["detail"]["metadata.agent"][0]
    assert "'rm_rf'" in message and "usage_report" in message


def test_another_users_userid_is_refused_before_the_agent_is_looked_at(auth_client, routed, make_user):
    make_user("bob")
    response = auth_client.post(
        "/api/events", {**body(agent="no_such_agent"), "userID": "bob"}, format="json"
    )
    assert response.status_code == 403 and not EventRow.objects.exists()


# --- GET /api/tasks -----------------------------------------------------------------


def test_the_list_has_only_the_callers_tasks_newest_first(auth_client, post_task, test_agents, make_user):
    first = post_task("test_steps")
    second = post_task("test_broken")
    post_task("test_steps", owner=make_user("bob"))
    response = auth_client.get("/api/tasks")
    assert response.status_code == 200
    tasks = response.json()["tasks"]
    assert [t["id"] for t in tasks] == [str(second.pk), str(first.pk)]
    assert set(tasks[0]) == {"id", "event", "agent", "status", "progress", "input", "error", "created_at",
                             "started_at", "finished_at"}  # fmt: skip
    assert [t["id"] for t in auth_client.get("/api/tasks?limit=1").json()["tasks"]] == [str(second.pk)]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x"])
def test_a_bad_limit_is_a_400(auth_client, query):
    response = auth_client.get(f"/api/tasks?{query}")
    assert response.status_code == 400 and list(response.json()["detail"]) == ["limit"]


def test_staff_see_only_their_own_tasks_too(post_task, test_agents, make_user):
    post_task("test_steps")
    admin = make_user("admin", is_staff=True)
    assert client_for(admin).get("/api/tasks").json()["tasks"] == []


# --- GET /api/tasks/{id} ------------------------------------------------------------


def test_the_owner_sees_the_task_with_its_log_lines(auth_client, post_task, test_agents):
    task = with_lines(WorkerTask.objects.get(event=post_task("test_steps")), 3)
    data = auth_client.get(f"/api/tasks/{task.pk}").json()
    assert data["status"] == "running"
    assert [(line["seq"], line["level"], line["text"]) for line in data["lines"]] == [
        (1, "info", "line 1"), (2, "info", "line 2"), (3, "info", "line 3")
    ]  # fmt: skip
    assert set(data["lines"][0]) == {"seq", "at", "level", "text"}


def test_after_gives_only_the_newer_lines(auth_client, post_task, test_agents):
    task = with_lines(WorkerTask.objects.get(event=post_task("test_steps")), 5)
    url = f"/api/tasks/{task.pk}"
    assert [line["seq"] for line in auth_client.get(f"{url}?after=3").json()["lines"]] == [4, 5]
    assert auth_client.get(f"{url}?after=5").json()["lines"] == []
    assert auth_client.get(f"{url}?after=-1").status_code == 400
    assert list(auth_client.get(f"{url}?after=x").json()["detail"]) == ["after"]


def test_a_long_log_comes_in_pages(auth_client, post_task, test_agents, settings):
    settings.AGENTS = {"LOG_PAGE_SIZE": 2}
    task = with_lines(WorkerTask.objects.get(event=post_task("test_steps")), 5)
    url = f"/api/tasks/{task.pk}"
    seen, after = [], 0
    while True:
        data = auth_client.get(f"{url}?after={after}").json()
        seen += [line["seq"] for line in data["lines"]]
        if not data["more_lines"]:
            break
        after = data["lines"][-1]["seq"]
    assert seen == [1, 2, 3, 4, 5]


def test_another_users_task_is_a_404(post_task, test_agents, make_user):
    task = WorkerTask.objects.get(event=post_task("test_steps"))
    for other in (make_user("bob"), make_user("admin", is_staff=True)):
        response = client_for(other).get(f"/api/tasks/{task.pk}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_an_unknown_task_is_a_404(auth_client):
    assert auth_client.get("/api/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.parametrize("url", ["/api/tasks", "/api/tasks/00000000-0000-0000-0000-000000000000"])
def test_no_or_a_bad_token_is_a_401(api_client, url):
    assert api_client.get(url).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get(url).status_code == 401


def test_a_browser_session_works_too(api_client, user, post_task, test_agents):
    task = WorkerTask.objects.get(event=post_task("test_steps"))
    api_client.force_login(user)
    assert api_client.get(f"/api/tasks/{task.pk}").status_code == 200


# --- query counts -------------------------------------------------------------------


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_however_many_tasks(
    auth_client, post_task, test_agents, django_assert_max_num_queries
):
    post_task("test_steps")
    few = count_queries(auth_client, "/api/tasks")
    for _ in range(30):
        with_lines(WorkerTask.objects.get(event=post_task("test_steps")), 2)
    with django_assert_max_num_queries(2):  # the token's user, the tasks
        assert len(auth_client.get("/api/tasks").json()["tasks"]) == 31
    assert count_queries(auth_client, "/api/tasks") == few


def test_the_detail_costs_the_same_queries_however_many_lines(
    auth_client, post_task, test_agents, django_assert_max_num_queries
):
    task = with_lines(WorkerTask.objects.get(event=post_task("test_steps")), 1)
    url = f"/api/tasks/{task.pk}"
    few = count_queries(auth_client, url)
    run = services.task_start(task=task, input={})
    for n in range(60):
        run.log(f"more {n}")
    with django_assert_max_num_queries(3):  # the token's user, the task, its lines
        assert len(auth_client.get(url).json()["lines"]) == 61
    assert count_queries(auth_client, url) == few


def test_the_openapi_document_describes_the_task_api(auth_client):
    schema = auth_client.get("/api/schema/?format=json").json()
    assert schema["paths"]["/api/tasks"]["get"]["operationId"] == "tasks_list"
    detail = schema["paths"]["/api/tasks/{task_id}"]["get"]
    assert {p["name"] for p in detail["parameters"]} == {"after", "task_id"}
    assert set(detail["responses"]) == {"200", "400", "401", "404", "429"}
    lines = schema["components"]["schemas"]["WorkerTaskDetail"]["properties"]["lines"]
    assert lines["items"] == {"$ref": "#/components/schemas/TaskLogLine"}
