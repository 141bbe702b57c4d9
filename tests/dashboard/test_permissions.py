"""Being staff is not enough: each part of the dashboard needs its Django model
permission (superusers have them all). A section of the snapshot is shown with its
view permission; each action is refused with a JSON 403 without its permission."""

from __future__ import annotations

import pytest
from django.test import Client

from assistant.models import ChatMessage
from events import services as event_services
from events.models import Event as EventRow
from events.models import Schedule
from events.types import Event
from tests import factories as f
from tests.permissions import grant

pytestmark = pytest.mark.django_db

SECTIONS = {
    "events": "events.view_event",
    "messages": "assistant.view_chatmessage",
    "schedules": "events.view_schedule",
    "tasks": "agents.view_workertask",
    "feedback": "assistant.view_feedback",
}
SUBMIT = "/dashboard/events"
FORM = {"type": "user.message", "source": "dashboard", "userID": "alice", "metadata": '{"text": "hi"}'}


@pytest.fixture
def staff_with(make_user):
    """A logged-in staff member with exactly the permissions given."""

    def login(*perms: str) -> Client:
        client = Client()
        client.force_login(grant(make_user(is_staff=True), *perms))
        return client

    return login


@pytest.fixture
def failed_message(user, enqueued) -> ChatMessage:
    message = f.first_message(f.job_session(user=user))
    ChatMessage.objects.filter(pk=message.pk).update(status="error", error="Boom")
    enqueued.clear()
    return message


@pytest.fixture
def schedule(user) -> Schedule:
    event = Event(type="user.message", source="tests", userID="alice", metadata={"text": "hi"})
    return event_services.schedule_create(user=user, event=event, cron="0 9 * * *")


def actions(client, message, schedule) -> dict[str, int]:
    """The status of each action, tried once."""
    return {
        "submit": client.post(SUBMIT, FORM, content_type="application/json").status_code,
        "retry": client.post(f"/dashboard/messages/{message.pk}/retry").status_code,
        "cancel": client.post(f"/dashboard/schedules/{schedule.pk}/cancel").status_code,
    }


def test_staff_without_permissions_get_nothing(staff_with, user, routed, failed_message, schedule):
    client = staff_with()
    assert client.get("/dashboard/").status_code == 403
    state = client.get("/dashboard/state")
    assert state.status_code == 403 and state.json()["error"] == "permission_denied"
    assert actions(client, failed_message, schedule) == {"submit": 403, "retry": 403, "cancel": 403}
    refused = client.post(SUBMIT, FORM, content_type="application/json").json()
    assert refused["error"] == "permission_denied" and "events.add_event" in refused["detail"]
    assert not EventRow.objects.exists() and routed == []
    failed_message.refresh_from_db()
    schedule.refresh_from_db()
    assert (failed_message.status, schedule.status) == ("error", "active")


@pytest.mark.parametrize("section", list(SECTIONS))
def test_each_section_is_shown_with_its_view_permission_only(staff_with, user, section):
    client = staff_with(SECTIONS[section])
    page = client.get("/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in SECTIONS:
        assert (f'<section id="{name}"' in html) == (name == section)
    assert 'id="event-form"' not in html
    state = client.get("/dashboard/state")
    assert state.status_code == 200
    assert set(state.json()) == {"generated_at", "can", section}
    assert state.json()["can"] == {"submit": False, "retry": False, "cancel": False}


def test_each_action_needs_its_own_permission(staff_with, user, routed, failed_message, schedule):
    submitter = staff_with("events.add_event")
    assert 'id="event-form"' in submitter.get("/dashboard/").content.decode()
    state = submitter.get("/dashboard/state").json()
    assert set(state) == {"generated_at", "can"}  # no section, but the form
    assert state["can"] == {"submit": True, "retry": False, "cancel": False}
    assert actions(submitter, failed_message, schedule) == {"submit": 202, "retry": 403, "cancel": 403}
    assert EventRow.objects.get().user == user  # for another user, with the same permission

    retrier = staff_with("assistant.view_chatmessage", "assistant.change_chatmessage")
    assert actions(retrier, failed_message, schedule) == {"submit": 403, "retry": 200, "cancel": 403}
    assert retrier.get("/dashboard/state").json()["can"] == {"submit": False, "retry": True, "cancel": False}

    canceller = staff_with("events.view_schedule", "events.change_schedule")
    assert actions(canceller, failed_message, schedule) == {"submit": 403, "retry": 403, "cancel": 200}
    schedule.refresh_from_db()
    assert schedule.status == "cancelled" and EventRow.objects.count() == 1


def test_permissions_through_a_group_count(staff_with, make_user, user):
    clerk = grant(make_user("clerk", is_staff=True), *SECTIONS.values(), group="Dashboard viewers")
    client = Client()
    client.force_login(clerk)
    assert set(client.get("/dashboard/state").json()) == {"generated_at", "can", *SECTIONS}


def test_superusers_have_every_permission(make_user, user, routed, failed_message, schedule):
    client = Client()
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    assert set(client.get("/dashboard/state").json()) == {"generated_at", "can", *SECTIONS}
    assert actions(client, failed_message, schedule) == {"submit": 202, "retry": 200, "cancel": 200}


def test_permissions_without_is_staff_give_nothing(make_user, user):
    client = Client()
    client.force_login(grant(make_user("outsider"), *SECTIONS.values(), "events.add_event"))
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/state").status_code == 403


def test_a_section_without_its_permission_is_not_read(staff_with, user, django_assert_num_queries):
    client = staff_with("events.view_event")
    client.get("/dashboard/state")  # the session is read and refreshed once
    # The session and the user, the user's permissions and their groups', and the two
    # queries of the events section: nothing of the other sections.
    with django_assert_num_queries(6):
        assert set(client.get("/dashboard/state").json()) == {"generated_at", "can", "events"}
