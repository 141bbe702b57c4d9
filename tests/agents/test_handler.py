"""AgentRunner: a worker.task event runs its agent and records the task; failures,
retries, redeliveries; and the built-in usage_report agent."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import TaskLogLine, WorkerTask
from agents.registry import site
from assistant.models import AIUsage, ChatSession
from events.models import Event as EventRow
from events.registry import site as handlers
from events.services import event_route

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(fast_retries):
    pass


def texts(task) -> list[str]:
    return list(TaskLogLine.objects.filter(task=task).order_by("seq").values_list("text", flat=True))


def task_of(row) -> WorkerTask:
    return WorkerTask.objects.get(event=row)


def messages() -> list[dict]:
    return list(EventRow.objects.filter(type="user.message").values_list("metadata", flat=True))


def test_agent_runner_is_the_worker_task_handler():
    assert handlers.get("worker.task").name == "AgentRunner"


def test_a_task_runs_its_agent_and_succeeds(
    post_task, test_agents, routed, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = post_task("test_steps", {"steps": ["a", "b", "c"]})
        assert event_route(event_id=row.pk).state == "handled"
    task = task_of(row)
    assert (task.status, task.result, task.progress, task.error) == ("succeeded", {"done": 3}, 100, "")
    assert task.started_at <= task.finished_at
    assert texts(task) == ["step a", "step b", "step c"]
    assert [seq for seq in task.log_lines.values_list("seq", flat=True)] == [1, 2, 3]
    row.refresh_from_db()
    assert (row.status, row.handler, row.attempts) == ("handled", "AgentRunner", 1)
    [message] = EventRow.objects.filter(type="user.message")
    assert (message.user, message.source) == (user, "AgentRunner")
    assert message.metadata == {
        "text": "Task test_steps succeeded.",
        "task": str(task.pk),
        "agent": "test_steps",
        "status": "succeeded",
    }
    assert routed == [str(row.pk), str(message.pk)]


def test_the_agent_gets_the_input_its_validate_returned(post_task, test_agents, routed):
    row = post_task("test_steps")  # no input: validate fills in the default
    assert event_route(event_id=row.pk).state == "handled"
    task = task_of(row)
    assert (task.input, texts(task)) == ({"steps": ["one"]}, ["step one"])


def test_an_agent_exception_fails_the_task_and_the_event_without_retrying(post_task, test_agents, routed):
    row = post_task("test_broken")
    assert event_route(event_id=row.pk).state == "failed"
    task = task_of(row)
    assert (task.status, task.error, task.result) == ("failed", "ValueError: boom", None)
    assert texts(task) == ["about to break", "ValueError: boom"]
    assert task.log_lines.last().level == "error"
    row.refresh_from_db()
    assert (row.status, row.last_error, row.attempts, row.handler) == (
        "failed", "ValueError: boom", 1, "AgentRunner"
    )  # fmt: skip
    assert test_agents["broken"].runs == [task.pk]
    assert [m["text"] for m in messages()] == ["Task test_broken failed: ValueError: boom"]


def test_a_transient_error_runs_the_agent_again(post_task, test_agents, routed):
    test_agents["flaky"].failures = 1
    row = post_task("test_flaky")
    assert event_route(event_id=row.pk, retries_done=0).state == "retry"
    task = task_of(row)
    assert (task.status, task.error) == ("queued", "busy, later")
    assert messages() == []
    assert event_route(event_id=row.pk, retries_done=1).state == "handled"
    task.refresh_from_db()
    assert (task.status, task.result, task.error) == ("succeeded", "ok", "")
    assert texts(task) == ["try 1", "busy, later (trying again)", "try 2"]
    assert len(messages()) == 1


def test_a_transient_error_fails_the_task_when_the_retries_are_used_up(
    post_task, test_agents, routed, settings
):
    settings.EVENTS = {"MAX_RETRIES": 1}
    test_agents["flaky"].failures = 5
    row = post_task("test_flaky")
    assert event_route(event_id=row.pk, retries_done=0).state == "retry"
    assert event_route(event_id=row.pk, retries_done=1).state == "failed"
    task = task_of(row)
    assert (task.status, task.error) == ("failed", "busy, later")
    assert len(test_agents["flaky"].runs) == 2
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 2)


def test_a_duplicate_delivery_does_nothing(post_task, test_agents, routed):
    row = post_task("test_steps")
    assert event_route(event_id=row.pk).state == "handled"
    assert event_route(event_id=row.pk).state == "skipped"
    EventRow.objects.filter(pk=row.pk).update(status="queued")  # delivered again after it ended
    assert event_route(event_id=row.pk).state == "handled"
    assert len(test_agents["steps"].runs) == 1
    assert texts(task_of(row)) == ["step one"] and len(messages()) == 1


def test_a_failed_task_delivered_again_stays_failed_and_is_not_run(post_task, test_agents, routed):
    row = post_task("test_broken")
    assert event_route(event_id=row.pk).state == "failed"
    EventRow.objects.filter(pk=row.pk).update(status="queued")
    assert event_route(event_id=row.pk).state == "failed"
    assert len(test_agents["broken"].runs) == 1 and len(messages()) == 1
    assert EventRow.objects.get(pk=row.pk).last_error == "ValueError: boom"


def test_a_task_left_running_by_a_dead_worker_runs_again(post_task, test_agents, routed):
    row = post_task("test_steps")
    WorkerTask.objects.filter(event=row).update(status="running", progress=30)
    TaskLogLine.objects.create(task=task_of(row), seq=1, text="before the crash")
    EventRow.objects.filter(pk=row.pk).update(
        status="processing", attempts=1, started_at=timezone.now() - timedelta(hours=1)
    )
    assert event_route(event_id=row.pk).state == "handled"
    task = task_of(row)
    assert task.status == "succeeded" and texts(task) == ["before the crash", "step one"]


def test_an_agent_gone_since_the_event_was_posted_fails_the_task(post_task, test_agents, routed):
    row = post_task("test_steps")
    site.unregister("test_steps")
    assert event_route(event_id=row.pk).state == "failed"
    task = task_of(row)
    assert (task.status, task.error) == ("failed", "There is no agent 'test_steps'.")
    assert texts(task) == ["There is no agent 'test_steps'."] and test_agents["steps"].runs == []


def test_a_result_that_is_not_json_fails_the_task(post_task, register_agent, routed):
    @register_agent
    class Odd:
        name = "test_odd"

        def run(self, task):
            return {1, 2}

    row = post_task("test_odd")
    assert event_route(event_id=row.pk).state == "failed"
    task = task_of(row)
    assert task.status == "failed" and task.error.startswith("ValueError: The agent's result must be JSON")


def test_the_owner_is_not_messaged_when_notify_user_is_off(post_task, test_agents, routed, settings):
    settings.AGENTS = {"NOTIFY_USER": False}
    row = post_task("test_steps")
    assert event_route(event_id=row.pk).state == "handled"
    assert messages() == []


def test_the_celery_task_runs_the_agent(post_task, test_agents):
    from events.tasks import route_event

    row = post_task("test_steps")
    assert route_event.apply(args=[str(row.pk)]).get() == "handled"
    assert task_of(row).status == "succeeded"


# --- usage_report -------------------------------------------------------------------


def usage(user, days_ago: float, tokens: int, source="chat", model="m1"):
    row = AIUsage.objects.create(user=user, total_tokens=tokens, prompt_tokens=tokens - 1,
                                 completion_tokens=1, source=source, model=model)  # fmt: skip
    AIUsage.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


def test_usage_report_reports_the_owners_usage_step_by_step(post_task, routed, user, make_user, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 1000, "USAGE_PERIOD": "month"}
    usage(user, 0, 100, source="chat", model="m1")
    usage(user, 1, 50, source="event", model="m2")
    usage(user, 1, 25, source="event", model="m2")
    usage(user, 10, 999)  # before the window
    usage(make_user("bob"), 0, 777)  # someone else's
    ChatSession.objects.create(user=user, mode="chat")

    row = post_task("usage_report", {"days": 3})
    assert event_route(event_id=row.pk).state == "handled"
    task = task_of(row)
    assert task.status == "succeeded", task.error
    result = task.result
    assert (result["days"], result["calls"], result["total_tokens"], result["prompt_tokens"]) == (
        3,
        3,
        175,
        172,
    )
    assert [d["tokens"] for d in result["by_day"]] == [75, 100]
    assert result["by_source"] == {"chat": {"calls": 1, "tokens": 100}, "event": {"calls": 2, "tokens": 75}}
    assert result["by_model"] == {"m1": {"calls": 1, "tokens": 100}, "m2": {"calls": 2, "tokens": 75}}
    assert result["conversations"] == 1
    assert result["quota"]["limit"] == 1000 and result["quota"]["period"] == "month"
    log = texts(task)
    assert len(log) == 6
    assert "3 model calls used 175 tokens in all." in log
    assert "1 conversations started." in log


@pytest.mark.parametrize(
    "input, field",
    [({"days": 0}, "days"), ({"days": 400}, "days"), ({"days": "7"}, "days"), ({"days": True}, "days"),
     ({"weeks": 1}, "weeks")],
)  # fmt: skip
def test_usage_report_refuses_bad_input(input, field):  # noqa: A002
    from agents.registry import AgentInputError

    with pytest.raises(AgentInputError) as caught:
        site.clean_input("usage_report", input)
    assert caught.value.field == field
    assert site.clean_input("usage_report", {}) == {"days": 7}


# --- the embedded default -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_default_a_posted_task_runs_in_the_web_process(auth_client, settings, test_agents):
    settings.TASKS_IN_PROCESS = True
    response = auth_client.post(
        "/api/events",
        {"timestamp": "2025-01-31T12:00:00Z", "source": "tests", "type": "worker.task", "userID": "alice",
         "metadata": {"agent": "test_steps", "input": {"steps": ["x", "y"]}}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202, response.content
    url = f"/api/tasks/{response.json()['id']}"
    deadline = time.monotonic() + 10
    while (data := auth_client.get(url).json())["status"] != "succeeded":
        assert time.monotonic() < deadline, data
        time.sleep(0.05)
    assert [line["text"] for line in data["lines"]] == ["step x", "step y"]
    assert data["result"] == {"done": 2}
