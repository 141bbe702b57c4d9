"""The admin: tasks are read-only, with their log lines inline."""

import pytest

from agents import services
from agents.models import WorkerTask

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_a_task_is_shown_with_its_log_lines_and_cannot_be_added_or_changed(
    admin_client, post_task, test_agents
):
    task = WorkerTask.objects.get(event=post_task("test_steps"))
    services.task_start(task=task, input={}).log("a line the admin shows")
    listing = admin_client.get("/admin/agents/workertask/")
    assert listing.status_code == 200 and b"test_steps" in listing.content
    page = admin_client.get(f"/admin/agents/workertask/{task.pk}/change/")
    assert page.status_code == 200 and b"a line the admin shows" in page.content
    assert admin_client.get("/admin/agents/workertask/add/").status_code == 403
    admin_client.post(f"/admin/agents/workertask/{task.pk}/change/", {"agent": "other", "status": "failed"})
    task.refresh_from_db()
    assert (task.agent, task.status) == ("test_steps", "running")
