"""Reading tasks: the owner's, everyone's recent ones for staff pages, counts by
status, and log lines after a seq. One query each, however much there is."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from agents import selectors, services
from agents.models import WorkerTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(post_task, test_agents, make_user):
    bob = make_user("bob")
    made = [post_task("test_steps"), post_task("test_broken", owner=bob), post_task("test_steps", owner=bob)]
    return [WorkerTask.objects.get(event=row) for row in made]


def test_tasks_visible_to_is_the_owners_only(tasks, user):
    assert list(selectors.tasks_visible_to(user=user)) == [tasks[0]]
    assert list(selectors.tasks_visible_to(user=tasks[1].user)) == [tasks[2], tasks[1]]
    assert list(selectors.tasks_visible_to(user=AnonymousUser())) == []


def test_recent_tasks_are_everyones_newest_first_with_filters(tasks, django_assert_num_queries):
    with django_assert_num_queries(1):
        recent = selectors.recent_tasks(limit=10)
        assert [t.user.username for t in recent] == ["bob", "bob", "alice"]
    assert recent == [tasks[2], tasks[1], tasks[0]]
    assert selectors.recent_tasks(limit=1) == [tasks[2]]
    assert selectors.recent_tasks(agent="test_broken") == [tasks[1]]
    assert selectors.recent_tasks(user=tasks[0].user) == [tasks[0]]
    services.task_finish(task=tasks[0], error="x")
    assert selectors.recent_tasks(status="failed") == [tasks[0]]


def test_recent_tasks_is_one_query_however_many_users(
    post_task, test_agents, make_user, django_assert_num_queries
):
    for n in range(15):
        post_task("test_steps", owner=make_user(f"u{n}"))
    with django_assert_num_queries(1):
        assert len({t.user.username for t in selectors.recent_tasks(limit=50)}) == 15


def test_task_counts_by_status(tasks, django_assert_num_queries):
    services.task_finish(task=tasks[0], result=None)
    services.task_finish(task=tasks[1], error="x")
    with django_assert_num_queries(1):
        assert selectors.task_counts() == {"queued": 1, "running": 0, "succeeded": 1, "failed": 1}
    WorkerTask.objects.filter(pk=tasks[2].pk).update(created_at=timezone.now() - timedelta(days=2))
    since = timezone.now() - timedelta(days=1)
    assert selectors.task_counts(since=since) == {"queued": 0, "running": 0, "succeeded": 1, "failed": 1}


def test_task_log_lines_after_a_seq(tasks, django_assert_num_queries):
    run = services.task_start(task=tasks[0], input={})
    for n in range(1, 6):
        run.log(f"line {n}")
    services.task_log(task=tasks[1], text="another task's line")
    with django_assert_num_queries(1):
        assert [line.seq for line in selectors.task_log_lines(task=tasks[0])] == [1, 2, 3, 4, 5]
    assert [line.text for line in selectors.task_log_lines(task=tasks[0], after=3)] == ["line 4", "line 5"]
    assert [line.seq for line in selectors.task_log_lines(task=tasks[0], after=1, limit=2)] == [2, 3]
    assert selectors.task_log_lines(task=tasks[0], after=5) == []
