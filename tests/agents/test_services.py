"""The task services: a task per worker.task event, log lines and progress written at
once, how a task ends, and what the database refuses."""

import pytest
from django.db import IntegrityError, transaction

from agents import services
from agents.models import TaskLogLine, WorkerTask
from events.models import Event as EventRow
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(post_task, test_agents) -> WorkerTask:
    return WorkerTask.objects.get(event=post_task("test_steps", {"steps": ["a"]}))


def lines(task) -> list[tuple[int, str, str]]:
    return list(TaskLogLine.objects.filter(task=task).order_by("seq").values_list("seq", "level", "text"))


def test_a_worker_task_event_gets_a_queued_task_with_its_id_when_stored(post_task, test_agents, user):
    row = post_task("test_steps", {"steps": ["a", "b"]})
    task = WorkerTask.objects.get()
    assert (task.pk, task.event, task.user, task.agent) == (row.pk, row, user, "test_steps")
    assert (task.input, task.status, task.progress, task.result, task.error) == (
        {"steps": ["a", "b"]}, "queued", 0, None, ""
    )  # fmt: skip
    assert task.created_at == row.received_at and task.started_at is None


def test_other_events_get_no_task(user, routed):
    factories.event(user=user, type="user.message")
    assert not WorkerTask.objects.exists()


def test_get_or_create_is_idempotent(task):
    again, created = services.task_get_or_create(event=task.event)
    assert (again.pk, created) == (task.pk, False)
    assert WorkerTask.objects.count() == 1


def test_task_log_numbers_lines_per_task(task, post_task):
    other = WorkerTask.objects.get(event=post_task("test_steps"))
    services.task_log(task=task, text="one")
    services.task_log(task=task, text="two", level="warning")
    services.task_log(task=other, text="elsewhere")
    assert lines(task) == [(1, "info", "one"), (2, "warning", "two")]
    assert lines(other) == [(1, "info", "elsewhere")]


def test_task_log_cuts_long_text_replaces_nul_and_refuses_unknown_levels(task, settings):
    settings.AGENTS = {"MAX_LINE_LENGTH": 10}
    services.task_log(task=task, text="a\x00b" + "c" * 20)
    assert lines(task) == [(1, "info", "a\ufffdbcccccc…")]
    with pytest.raises(ValueError, match="level"):
        services.task_log(task=task, text="x", level="loud")


def test_a_run_writes_each_line_and_progress_at_once(task, django_assert_num_queries):
    run = services.task_start(task=task, input={"steps": ["a"]})
    with django_assert_num_queries(1):
        run.log("first")
    with django_assert_num_queries(1):
        run.progress(40)
    with django_assert_num_queries(2):
        run.progress(50.4, "half way")
    task.refresh_from_db()
    assert (task.status, task.progress) == ("running", 50)
    assert lines(task) == [(1, "info", "first"), (2, "info", "half way")]
    assert (run.id, run.input, run.agent, run.user) == (task.pk, {"steps": ["a"]}, "test_steps", task.user)


@pytest.mark.parametrize("bad", [-1, 101, "50", None, True, float("nan")])
def test_progress_is_a_percent(task, bad):
    run = services.task_start(task=task, input={})
    with pytest.raises(ValueError, match="0 to 100"):
        run.progress(bad)
    task.refresh_from_db()
    assert task.progress == 0


def test_a_run_started_again_keeps_the_log_and_numbers_on(task):
    services.task_start(task=task, input={}).log("first try")
    services.task_requeue(task=task, error="busy")
    task.refresh_from_db()
    assert (task.status, task.error) == ("queued", "busy")
    run = services.task_start(task=task, input={"steps": []})
    run.log("second try")
    task.refresh_from_db()
    assert (task.status, task.error, task.input) == ("running", "", {"steps": []})
    assert lines(task) == [(1, "info", "first try"), (2, "info", "second try")]


def test_the_log_is_capped(task, settings):
    settings.AGENTS = {"MAX_LOG_LINES": 3}
    run = services.task_start(task=task, input={})
    for n in range(6):
        run.log(f"line {n}")
    assert [text for _, _, text in lines(task)] == [
        "line 0", "line 1", "The log is full (3 lines): later lines are dropped."
    ]  # fmt: skip


def test_task_finish_with_a_result(task):
    services.task_start(task=task, input={})
    services.task_finish(task=task, result={"n": [1, 2]})
    task.refresh_from_db()
    assert (task.status, task.progress, task.result, task.error) == ("succeeded", 100, {"n": [1, 2]}, "")
    assert task.finished_at >= task.started_at and task.is_finished


def test_task_finish_with_an_error(task):
    services.task_start(task=task, input={})
    services.task_finish(task=task, error="it broke")
    task.refresh_from_db()
    assert (task.status, task.error, task.result) == ("failed", "it broke", None)
    assert task.finished_at is not None


@pytest.mark.parametrize("result", [{1, 2}, object(), float("inf"), {"t": "a\x00"}])
def test_a_result_that_is_not_json_is_refused(task, result):
    services.task_start(task=task, input={})
    with pytest.raises(ValueError, match="result"):
        services.task_finish(task=task, result=result)
    task.refresh_from_db()
    assert task.status == "running"


def test_deleting_the_event_deletes_the_task_and_its_lines(task):
    services.task_log(task=task, text="x")
    EventRow.objects.filter(pk=task.event_id).delete()
    assert not WorkerTask.objects.exists() and not TaskLogLine.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda task: WorkerTask.objects.filter(pk=task.pk).update(status="lost"),
        lambda task: WorkerTask.objects.filter(pk=task.pk).update(progress=101),
        lambda task: TaskLogLine.objects.create(task=task, seq=1, level="loud", text="x"),
        lambda task: [TaskLogLine.objects.create(task=task, seq=1, text="x") for _ in range(2)],
    ],
    ids=["status", "progress", "level", "seq"],
)
def test_the_database_refuses_bad_rows(task, change):
    with pytest.raises(IntegrityError), transaction.atomic():
        change(task)


def test_a_running_agents_reports_keep_its_event_from_looking_stuck(task, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(minutes=9)
    EventRow.objects.filter(pk=task.event_id).update(status="processing", started_at=long_ago)
    run = services.task_start(task=task, input={"steps": []})
    run.log("early")  # within HEARTBEAT_EVERY of the start: no write
    assert EventRow.objects.get(pk=task.event_id).started_at == long_ago
    monkeypatch.setattr(services.TaskRun, "HEARTBEAT_EVERY", 0.0)
    run.log("later")
    assert EventRow.objects.get(pk=task.event_id).started_at > long_ago
    run.progress(50)
    assert EventRow.objects.get(pk=task.event_id).status == "processing"
