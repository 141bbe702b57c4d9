"""The events admin: cancelling schedules needs the change permission on schedules."""

import pytest

from events import services
from events.types import Event
from tests.permissions import grant

pytestmark = pytest.mark.django_db
SCHEDULES = "/admin/events/schedule/"


@pytest.mark.parametrize("perms, status", [(["view"], "active"), (["view", "change"], "cancelled")])
def test_cancelling_schedules_needs_the_change_permission(client, make_user, user, perms, status):
    event = Event(type="user.message", source="tests", userID="alice", metadata={"text": "hi"})
    schedule = services.schedule_create(user=user, event=event, cron="* * * * *")
    clerk = grant(make_user("clerk", is_staff=True), *(f"events.{perm}_schedule" for perm in perms))
    client.force_login(clerk)
    page = client.get(SCHEDULES)
    assert page.status_code == 200 and (b'value="cancel"' in page.content) == ("change" in perms)
    client.post(SCHEDULES, {"action": "cancel", "_selected_action": [str(schedule.pk)]})
    schedule.refresh_from_db()
    assert schedule.status == status
