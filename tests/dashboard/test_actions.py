"""The dashboard's actions: submitting an event from the form, retrying a failed
message, cancelling a schedule."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask

from assistant.models import ChatMessage
from events import services as event_services
from events.models import Event as EventRow
from events.models import Schedule
from events.types import Event
from tests import factories as f

pytestmark = pytest.mark.django_db

SUBMIT = "/dashboard/events"
DONE = {"text": "Done"}


def form(**changes) -> dict:
    data = {"type": "user.message", "source": "dashboard", "userID": "", "metadata": '{"text": "Done"}'}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def submit(client, data):
    return client.post(SUBMIT, data, content_type="application/json")


# --- Submitting an event ------------------------------------------------------------


def test_a_valid_event_is_stored_as_the_staff_members_and_routed_after_the_commit(
    staff_client, staff, routed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(staff_client, form())
    assert response.status_code == 202, response.content
    row = EventRow.objects.get()
    assert response.json() == {"id": str(row.pk), "status": "queued"}
    assert (row.type, row.source, row.user, row.metadata) == ("user.message", "dashboard", staff, DONE)
    assert row.status == "queued" and routed == [str(row.pk)]


def test_an_event_for_another_user(staff_client, user, routed):
    assert submit(staff_client, form(userID="alice")).status_code == 202
    assert EventRow.objects.get().user == user


def test_empty_metadata_is_an_empty_object_and_userid_defaults_to_the_sender(staff_client, staff, routed):
    assert submit(staff_client, form(metadata="  ", userID=...)).status_code == 202
    row = EventRow.objects.get()
    assert (row.user, row.metadata) == (staff, {})


def test_an_llm_chat_event_is_checked_by_its_type(staff_client, routed):
    messages = '{"messages": [{"role": "user", "content": "Hi"}]}'
    assert submit(staff_client, form(type="llm.chat", metadata=messages)).status_code == 202
    assert EventRow.objects.get().metadata == {"messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize(
    "changes, field, says",
    [
        ({"metadata": '{"text": "unclosed'}, "metadata", "is not valid JSON"),
        ({"metadata": "{'single': 'quotes'}"}, "metadata", "is not valid JSON"),
        ({"metadata": "[1, 2]"}, "metadata", "must be a JSON object"),
        ({"metadata": '"text"'}, "metadata", "must be a JSON object"),
        ({"metadata": "[" * 100_000}, "metadata", "at most"),
        ({"metadata": "[" * 5000 + "]" * 5000}, "metadata", "nested too deeply"),
        ({"metadata": '{"a": ' * 5000 + "1" + "}" * 5000}, "metadata", "nested too deeply"),
        ({"metadata": '{"n": ' + "9" * 5000 + "}"}, "metadata", "is not valid JSON"),
        ({"metadata": '{"bad": "\\ud800"}'}, "metadata", "surrogate"),
        ({"type": "Not A Type"}, "type", "dotted name"),
        ({"type": "message"}, "type", "dotted name"),
        ({"type": ""}, "type", "blank"),
        ({"type": ...}, "type", "required"),
        ({"source": ""}, "source", "blank"),
        ({"source": "x" * 101}, "source", "at most 100"),
        ({"userID": "nobody"}, "userID", "There is no user 'nobody'"),
        ({"type": "llm.chat", "metadata": "{}"}, "metadata.messages", "non-empty list"),
        (
            {"type": "llm.chat", "metadata": '{"messages": [{"role": "user"}]}'},
            "metadata.messages[0].content",
            "must be a string",
        ),
    ],
)
def test_a_bad_field_is_a_400_naming_it_and_nothing_is_stored(staff_client, routed, changes, field, says):
    response = submit(staff_client, form(**changes))
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["error"] == "invalid"
    assert list(data["detail"]) == [field]
    assert says in data["detail"][field][0]
    assert not EventRow.objects.exists() and routed == []


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"type": "llm.chat.response", "metadata": '{"reply": "Forged", "in_reply_to": "x"}'}, "type"),
        ({"source": "ChatResponder"}, "source"),
        ({"source": "agentrunner"}, "source"),
        ({"type": "worker.task", "metadata": '{"agent": "no_such_agent"}'}, "metadata.agent"),
    ],
)
def test_the_systems_types_and_sources_and_what_a_handler_refuses_are_a_400(
    staff_client, routed, changes, field
):
    response = submit(staff_client, form(**changes))
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]) == [field]
    assert not EventRow.objects.exists() and routed == []


def test_the_form_does_not_suggest_the_systems_types(staff_client):
    html = staff_client.get("/dashboard/").content.decode()
    assert 'value="user.message"' in html and 'value="llm.chat.response"' not in html


def test_the_bad_fields_of_the_form_are_named_at_once(staff_client, routed):
    response = submit(staff_client, form(type="", source="", userID="nobody", metadata="{"))
    assert response.status_code == 400
    assert set(response.json()["detail"]) == {"type", "source", "userID", "metadata"}
    assert not EventRow.objects.exists()


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '"text"'])
def test_a_body_that_is_not_a_json_object_is_a_400(staff_client, routed, body):
    response = staff_client.post(SUBMIT, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid", "parse_error")
    assert not EventRow.objects.exists()


def test_a_body_over_the_request_size_cap_is_a_413(staff_client, routed, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = submit(staff_client, form(metadata='{"text": "%s"}' % ("x" * 2000)))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert not EventRow.objects.exists()


def test_a_form_post_is_a_415(staff_client, routed):
    response = staff_client.post(SUBMIT, form())
    assert response.status_code == 415
    assert not EventRow.objects.exists()


def test_users_who_are_not_staff_cannot_submit(member_client, routed):
    response = submit(member_client, form())
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert not EventRow.objects.exists()


# --- Retrying a failed message ------------------------------------------------------


def retry_url(message) -> str:
    return f"/dashboard/messages/{message.pk}/retry"


@pytest.fixture
def question(user, enqueued) -> ChatMessage:
    message = f.first_message(f.job_session(user=user))
    enqueued.clear()
    return message


def set_status(message, status, **fields) -> None:
    ChatMessage.objects.filter(pk=message.pk).update(status=status, **fields)


@pytest.mark.parametrize("status", ["error", "cancelled"])
def test_a_failed_or_cancelled_message_is_queued_again(
    staff_client, question, enqueued, status, django_capture_on_commit_callbacks
):
    set_status(question, status, error="Request timed out. Please try again.", attempts=4)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(retry_url(question))
    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(question.pk), "status": "pending"}
    question.refresh_from_db()
    assert (question.status, question.error, question.attempts) == ("pending", "", 0)
    assert enqueued == [str(question.pk)]


@pytest.mark.parametrize("status", ["pending", "processing", "success"])
def test_a_message_that_has_not_failed_is_a_409_and_unchanged(staff_client, question, enqueued, status):
    set_status(question, status)
    response = staff_client.post(retry_url(question))
    assert response.status_code == 409
    assert response.json() == {
        "error": "conflict",
        "detail": "Only a failed or cancelled user message can be retried.",
    }
    question.refresh_from_db()
    assert question.status == status and enqueued == []


def test_an_unknown_message_is_a_404(staff_client):
    response = staff_client.post("/dashboard/messages/00000000-0000-0000-0000-000000000000/retry")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_users_who_are_not_staff_cannot_retry(member_client, question, enqueued):
    set_status(question, "error", error="Boom")  # their own message, even
    response = member_client.post(retry_url(question))
    assert response.status_code == 403
    question.refresh_from_db()
    assert (question.status, question.error) == ("error", "Boom") and enqueued == []


def test_retry_over_the_usage_limit_is_a_429_and_unchanged(staff_client, question, enqueued, settings):
    set_status(question, "error", error="Boom")
    settings.ASSISTANT = {**getattr(settings, "ASSISTANT", {}), "USER_TOKEN_LIMIT": 0}
    response = staff_client.post(retry_url(question))
    assert response.status_code == 429
    question.refresh_from_db()
    assert question.status == "error" and enqueued == []


# --- Cancelling a schedule ------------------------------------------------------------


def cancel_url(schedule) -> str:
    return f"/dashboard/schedules/{schedule.pk}/cancel"


def a_schedule(owner, **when) -> Schedule:
    event = Event(type="user.message", source="tests", userID=owner.get_username(), metadata=DONE)
    return event_services.schedule_create(user=owner, event=event, **(when or {"cron": "0 9 * * mon-fri"}))


@pytest.mark.parametrize("kind", ["cron", "once"])
def test_an_active_schedule_of_any_user_is_cancelled_and_its_periodic_task_goes(staff_client, user, kind):
    when = {"cron": "0 9 * * mon-fri"} if kind == "cron" else {"run_at": timezone.now() + timedelta(hours=1)}
    schedule = a_schedule(user, **when)
    task_id = schedule.periodic_task_id
    response = staff_client.post(cancel_url(schedule))
    assert response.status_code == 200, response.content
    schedule.refresh_from_db()
    data = response.json()
    assert (data["id"], data["status"], data["userID"]) == (str(schedule.pk), "cancelled", "alice")
    assert data["next_run"] is None and data["finished_at"] == schedule.finished_at.isoformat().replace(
        "+00:00", "Z"
    )
    assert data["event"] == schedule.event and data["kind"] == kind
    assert (schedule.status, schedule.next_run_at, schedule.periodic_task_id) == ("cancelled", None, None)
    assert not PeriodicTask.objects.filter(pk=task_id).exists()
    assert not ClockedSchedule.objects.exists()


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_a_schedule_that_is_not_active_is_a_409_and_unchanged(staff_client, user, status):
    schedule = a_schedule(user)
    finished = timezone.now() - timedelta(hours=1)
    Schedule.objects.filter(pk=schedule.pk).update(status=status, next_run_at=None, finished_at=finished)
    response = staff_client.post(cancel_url(schedule))
    assert response.status_code == 409
    assert response.json() == {
        "error": "conflict",
        "detail": f"Only an active schedule can be cancelled; this one is {status}.",
    }
    schedule.refresh_from_db()
    assert (schedule.status, schedule.finished_at) == (status, finished)
    assert PeriodicTask.objects.filter(pk=schedule.periodic_task_id).exists()


def test_an_unknown_schedule_is_a_404(staff_client):
    response = staff_client.post("/dashboard/schedules/00000000-0000-0000-0000-000000000000/cancel")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_malformed_schedule_id_is_a_404(staff_client):
    assert staff_client.post("/dashboard/schedules/not-a-uuid/cancel").status_code == 404


def test_users_who_are_not_staff_cannot_cancel(member_client, user):
    schedule = a_schedule(user)  # their own schedule, even
    response = member_client.post(cancel_url(schedule))
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    schedule.refresh_from_db()
    assert schedule.status == "active" and PeriodicTask.objects.filter(pk=schedule.periodic_task_id).exists()


def test_anonymous_visitors_cannot_cancel(user):
    schedule = a_schedule(user)
    response = Client().post(cancel_url(schedule))
    assert response.status_code == 403
    assert response.json()["error"] == "not_authenticated"
    schedule.refresh_from_db()
    assert schedule.status == "active"


def test_cancel_is_a_post(staff_client, user):
    schedule = a_schedule(user)
    assert staff_client.get(cancel_url(schedule)).status_code == 405
    assert staff_client.delete(cancel_url(schedule)).status_code == 405
    schedule.refresh_from_db()
    assert schedule.status == "active"
