"""POST, GET /api/schedule and GET, DELETE /api/schedule/{id}."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from events.models import Schedule
from tests.accounts import tokens as broken
from tests.permissions import grant

pytestmark = pytest.mark.django_db
URL = "/api/schedule"


def an_event(**changes) -> dict:
    data = {"source": "tests", "type": "user.message", "userID": "alice", "metadata": {"text": "later"}}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def soon(**delta) -> str:
    return (timezone.now() + timedelta(**(delta or {"hours": 1}))).isoformat()


def post(client, data, **extra):
    return client.post(URL, data, format="json", **extra)


def test_the_urls_are_the_contract():
    assert reverse("schedules") == "/api/schedule"
    assert reverse("schedule", args=["00000000-0000-0000-0000-000000000000"]).startswith("/api/schedule/")


def test_a_one_off_schedule_is_created(auth_client, user):
    at = soon(minutes=30)
    response = post(auth_client, {"event": an_event(), "timestamp": at})
    assert response.status_code == 201, response.content
    data = response.json()
    schedule = Schedule.objects.get()
    assert data["id"] == str(schedule.pk) and schedule.user == user
    assert (data["kind"], data["status"], data["cron"], data["run_count"], data["last_run"]) == (
        "once", "active", "", 0, None
    )  # fmt: skip
    assert data["timestamp"] == data["next_run"] and schedule.next_run_at.isoformat() == at
    assert data["event"] == an_event() and data["userID"] == "alice"
    assert PeriodicTask.objects.get(pk=schedule.periodic_task_id).clocked is not None


def test_a_cron_schedule_is_created_with_its_next_run(auth_client):
    response = post(auth_client, {"event": an_event(), "cron": "0 9 * * 1", "timezone": "America/New_York"})
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["kind"], data["cron"], data["timezone"], data["timestamp"]) == (
        "cron", "0 9 * * 1", "America/New_York", None
    )  # fmt: skip
    next_run = Schedule.objects.get().next_run_at.astimezone(timezone.get_fixed_timezone(0))
    assert next_run > timezone.now() and next_run.minute == 0


def test_the_timezone_is_utc_by_default(auth_client):
    assert post(auth_client, {"event": an_event(), "cron": "*/10 * * * *"}).json()["timezone"] == "UTC"


def test_a_timestamp_in_the_event_is_ignored(auth_client):
    response = post(auth_client, {"event": an_event(timestamp="2020-01-01T00:00:00Z"), "timestamp": soon()})
    assert response.status_code == 201
    assert "timestamp" not in Schedule.objects.get().event


@pytest.mark.parametrize(
    "data, field, says",
    [
        ({"event": an_event(), "timestamp": "2020-01-01T00:00:00Z"}, "timestamp", "future"),
        ({"event": an_event(), "timestamp": "tomorrow"}, "timestamp", "ISO 8601"),
        ({"event": an_event(), "timestamp": "2030-01-01T00:00:00"}, "timestamp", "timezone"),
        ({"event": an_event(), "cron": "* * * *"}, "cron", "five fields"),
        ({"event": an_event(), "cron": "75 * * * *"}, "cron", "minute"),
        ({"event": an_event(), "cron": 5}, "cron", "string"),
        ({"event": an_event(), "cron": "* * * * *", "timezone": "Nowhere/City"}, "timezone", "not a known"),
        ({"event": an_event(), "timestamp": "2030-01-01T00:00:00Z", "timezone": "UTC"}, "timezone", "cron"),
        ({"event": an_event()}, "non_field_errors", "timestamp"),
        (
            {"event": an_event(), "timestamp": "2030-01-01T00:00:00Z", "cron": "* * * * *"},
            "non_field_errors",
            "not both",
        ),  # fmt: skip
        ({"timestamp": "2030-01-01T00:00:00Z"}, "event", "object"),
        ({"event": "user.message", "timestamp": "2030-01-01T00:00:00Z"}, "event", "object"),
        ({"event": an_event(type="nodots"), "timestamp": "2030-01-01T00:00:00Z"}, "event.type", "dotted"),
        ({"event": an_event(metadata=[]), "timestamp": "2030-01-01T00:00:00Z"}, "event.metadata", "object"),
        (
            {"event": an_event(type="llm.chat", metadata={}), "cron": "* * * * *"},
            "event.metadata.messages",
            "",
        ),
        ({"event": an_event(), "cron": "* * * * *", "every": 5}, "every", "not a schedule field"),
    ],
)
def test_bad_input_is_a_400_saying_what_is_wrong_and_stores_nothing(auth_client, data, field, says):
    response = post(auth_client, data)
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert list(detail) == [field] and says in detail[field][0]
    assert (
        not Schedule.objects.exists() and not PeriodicTask.objects.filter(name__startswith="event").exists()
    )


def test_a_body_that_is_not_an_object_is_a_400(auth_client):
    assert post(auth_client, [1, 2]).status_code == 400


def test_an_oversized_body_is_a_413(auth_client, settings):
    settings.EVENTS = {"MAX_BODY_BYTES": 1024}
    response = post(auth_client, {"event": an_event(metadata={"text": "x" * 2000}), "timestamp": soon()})
    assert response.status_code == 413 and not Schedule.objects.exists()


def test_another_users_userid_is_a_403(auth_client, make_user):
    make_user("bob")
    response = post(auth_client, {"event": an_event(userID="bob"), "timestamp": soon()})
    assert response.status_code == 403 and not Schedule.objects.exists()


def test_staff_may_schedule_for_another_user_with_the_add_permission(api_client, make_user):
    staff, bob = make_user("root", is_staff=True), make_user("bob")
    api_client.force_authenticate(staff)
    assert post(api_client, {"event": an_event(userID="bob"), "timestamp": soon()}).status_code == 403
    assert not Schedule.objects.exists()
    grant(staff, "events.add_schedule")
    response = post(api_client, {"event": an_event(userID="bob"), "timestamp": soon()})
    assert response.status_code == 201 and Schedule.objects.get().user == bob


def test_staff_read_and_cancel_others_schedules_with_the_view_and_change_permissions(
    auth_client, api_client, make_user
):
    schedule_id = post(auth_client, {"event": an_event(), "timestamp": soon()}).json()["id"]
    staff = make_user("root", is_staff=True)
    api_client.force_authenticate(staff)
    assert api_client.get(f"{URL}/{schedule_id}").status_code == 404
    assert api_client.delete(f"{URL}/{schedule_id}").status_code == 404
    grant(staff, "events.view_schedule")
    assert api_client.get(f"{URL}/{schedule_id}").status_code == 200
    refused = api_client.delete(f"{URL}/{schedule_id}")
    assert refused.status_code == 403 and refused.json()["error"] == "permission_denied"
    assert Schedule.objects.get(pk=schedule_id).status == "active"
    grant(staff, "events.change_schedule")
    assert api_client.delete(f"{URL}/{schedule_id}").status_code == 204
    assert Schedule.objects.get(pk=schedule_id).status == "cancelled"


@pytest.mark.parametrize("auth", [None, "expired", "garbage"])
def test_without_a_valid_token_it_is_a_401(api_client, user, auth):
    headers = {}
    if auth == "expired":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {broken.expired_access(user)}"
    elif auth == "garbage":
        headers["HTTP_AUTHORIZATION"] = "Bearer not.a.token"
    assert post(api_client, {"event": an_event(), "timestamp": soon()}, **headers).status_code == 401
    assert api_client.get(URL, **headers).status_code == 401
    assert not Schedule.objects.exists()


def test_get_shows_a_schedule_and_delete_cancels_it(auth_client):
    schedule_id = post(auth_client, {"event": an_event(), "cron": "*/5 * * * *"}).json()["id"]
    shown = auth_client.get(f"{URL}/{schedule_id}").json()
    assert shown["status"] == "active" and shown["next_run"]

    assert auth_client.delete(f"{URL}/{schedule_id}").status_code == 204
    shown = auth_client.get(f"{URL}/{schedule_id}").json()
    assert (shown["status"], shown["next_run"]) == ("cancelled", None) and shown["finished_at"]
    assert not PeriodicTask.objects.filter(name__startswith="event schedule").exists()
    assert auth_client.delete(f"{URL}/{schedule_id}").status_code == 204


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_other_users_schedules_are_invisible(auth_client, make_user):
    theirs = post(client_of(make_user("bob")), {"event": an_event(userID="bob"), "timestamp": soon()}).json()[
        "id"
    ]
    assert auth_client.get(f"{URL}/{theirs}").status_code == 404
    assert auth_client.delete(f"{URL}/{theirs}").status_code == 404
    assert Schedule.objects.get(pk=theirs).status == "active"
    assert auth_client.get(URL).json()["schedules"] == []
    assert auth_client.get(f"{URL}/00000000-0000-0000-0000-000000000000").status_code == 404


def test_the_list_is_the_callers_own_newest_first_paged_and_filtered(auth_client, make_user):
    ids = [post(auth_client, {"event": an_event(), "timestamp": soon(minutes=10 + i)}).json()["id"]
           for i in range(3)]  # fmt: skip
    auth_client.delete(f"{URL}/{ids[0]}")
    post(client_of(make_user("bob")), {"event": an_event(userID="bob"), "timestamp": soon()})

    page = auth_client.get(URL, {"limit": 2}).json()
    assert [s["id"] for s in page["schedules"]] == [ids[2], ids[1]]
    assert page["pagination"]["total_count"] == 3 and page["pagination"]["has_next_page"]
    active = auth_client.get(URL, {"status": "active"}).json()
    assert {s["id"] for s in active["schedules"]} == {ids[1], ids[2]}
    assert auth_client.get(URL, {"status": "sometimes"}).status_code == 400


def test_the_list_takes_a_fixed_number_of_queries(auth_client, user, django_assert_max_num_queries):
    def count_queries(n):
        for _ in range(n):
            post(auth_client, {"event": an_event(), "cron": "* * * * *"})
        with django_assert_max_num_queries(4) as captured:
            assert len(auth_client.get(URL, {"limit": 100}).json()["schedules"]) == Schedule.objects.count()
        return len(captured)

    assert count_queries(2) == count_queries(20)


def test_the_schema_documents_the_schedule_api(auth_client):
    schema = auth_client.get("/api/schema/", {"format": "json"}).json()
    assert {"get", "post"} <= set(schema["paths"]["/api/schedule"])
    assert {"get", "delete"} <= set(schema["paths"]["/api/schedule/{schedule_id}"])


def test_an_offset_past_the_end_is_an_empty_page(auth_client):
    post(auth_client, {"event": an_event(), "cron": "* * * * *"})
    page = auth_client.get(URL, {"offset": 10**22}).json()
    assert page["schedules"] == [] and page["pagination"]["total_count"] == 1


def test_a_worker_task_for_an_unknown_agent_is_refused_when_scheduled(auth_client):
    event = an_event(type="worker.task", metadata={"agent": "no_such_agent"})
    response = post(auth_client, {"event": event, "cron": "* * * * *"})
    assert response.status_code == 400, response.content
    assert list(response.json()["detail"]) == ["event.metadata.agent"]
    assert not Schedule.objects.exists()


def test_a_scheduled_worker_task_fires(auth_client, user):
    from agents.models import WorkerTask
    from events import services

    event = an_event(type="worker.task", metadata={"agent": "usage_report", "input": {"days": 3}})
    response = post(auth_client, {"event": event, "timestamp": soon(seconds=1)})
    assert response.status_code == 201, response.content
    row = services.schedule_fire(schedule_id=response.json()["id"], now=timezone.now() + timedelta(seconds=2))
    task = WorkerTask.objects.get(pk=row.pk)
    assert (task.agent, task.input, task.user) == ("usage_report", {"days": 3}, user)


# The cap on active schedules ---------------------------------------------------------


def test_active_schedules_are_capped_per_user_with_a_429_that_stores_nothing(
    auth_client, api_client, user, make_user, settings
):
    settings.EVENTS = {**settings.EVENTS, "MAX_ACTIVE_SCHEDULES": 2}
    first, _ = (post(auth_client, {"event": an_event(), "cron": "*/5 * * * *"}).json() for _ in range(2))
    tasks = PeriodicTask.objects.count()
    for data in ({"event": an_event(), "cron": "0 * * * *"}, {"event": an_event(), "timestamp": soon()}):
        response = post(auth_client, data)
        assert response.status_code == 429, response.content
        body = response.json()
        assert body["error"] == "schedule_limit" and "at most 2 active schedules" in body["detail"]
    assert Schedule.objects.count() == 2 and PeriodicTask.objects.count() == tasks

    # Others have their own count; staff scheduling for alice count against hers.
    bob = APIClient()
    bob.force_authenticate(make_user("bob"))
    assert post(bob, {"event": an_event(userID="bob"), "timestamp": soon()}).status_code == 201
    api_client.force_authenticate(make_user("root", is_staff=True, is_superuser=True))
    assert post(api_client, {"event": an_event(), "timestamp": soon()}).status_code == 429

    # A cancelled (or done) schedule frees its place.
    assert auth_client.delete(f"{URL}/{first['id']}").status_code == 204
    assert post(auth_client, {"event": an_event(), "timestamp": soon()}).status_code == 201
    assert Schedule.objects.filter(user=user, status="active").count() == 2
