"""POST /api/events and GET /api/events/{id}."""

import pytest
from django.urls import reverse

from events.models import Event as EventRow
from tests.accounts import tokens as broken
from tests.permissions import grant

pytestmark = pytest.mark.django_db
URL = "/api/events"
WHEN = "2025-01-31T12:00:00Z"
MESSAGES = [{"role": "user", "content": "Hello"}]


def body(**changes) -> dict:
    data = {"timestamp": WHEN, "source": "tests", "type": "user.message", "userID": "alice",
            "metadata": {"text": "hi"}}  # fmt: skip
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def post(client, data, **extra):
    return client.post(URL, data, format="json", **extra)


def test_the_urls_are_the_contract():
    assert reverse("events") == "/api/events"


def test_an_event_is_stored_queued_and_routed_after_the_commit(
    auth_client, user, routed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(auth_client, body())
    assert response.status_code == 202, response.content
    row = EventRow.objects.get()
    assert response.json() == {"id": str(row.pk), "status": "queued"}
    assert (row.type, row.source, row.user, row.metadata) == ("user.message", "tests", user, {"text": "hi"})
    assert row.timestamp.isoformat() == "2025-01-31T12:00:00+00:00"
    assert (row.status, row.attempts, row.handler, row.last_error) == ("queued", 0, "", "")
    assert len(callbacks) == 1 and routed == [str(row.pk)]


def test_nothing_is_routed_before_the_commit(auth_client, routed):
    assert post(auth_client, body()).status_code == 202
    assert routed == []  # the test's transaction never commits


def test_an_llm_chat_event_is_accepted(auth_client, routed):
    response = post(auth_client, body(type="llm.chat", metadata={"messages": MESSAGES}))
    assert response.status_code == 202
    assert EventRow.objects.get().metadata == {"messages": MESSAGES}


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"timestamp": ...}, "timestamp"),
        ({"timestamp": "last tuesday"}, "timestamp"),
        ({"timestamp": "2025-01-31T12:00:00"}, "timestamp"),
        ({"source": ""}, "source"),
        ({"source": ...}, "source"),
        ({"type": "message"}, "type"),
        ({"type": "User.Message"}, "type"),
        ({"type": ...}, "type"),
        ({"userID": ...}, "userID"),
        ({"userID": ""}, "userID"),
        ({"metadata": "text"}, "metadata"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"metadata": ...}, "metadata"),
        ({"type": "llm.chat", "metadata": {}}, "metadata.messages"),
        ({"type": "llm.chat", "metadata": {"messages": [{"role": "user"}]}}, "metadata.messages[0].content"),
    ],
)
def test_each_bad_field_is_a_400_naming_it_and_nothing_is_stored(auth_client, routed, changes, field):
    response = post(auth_client, body(**changes))
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["error"] == "invalid"
    assert list(data["detail"]) == [field] and data["detail"][field][0]
    assert not EventRow.objects.exists() and routed == []


def test_a_body_that_is_not_an_object_is_a_400(auth_client):
    response = post(auth_client, [body()])
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["detail"]
    assert not EventRow.objects.exists()


def test_another_users_userid_is_forbidden(auth_client, make_user, routed):
    make_user("bob")
    response = post(auth_client, body(userID="bob"))
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert not EventRow.objects.exists()


def test_staff_need_the_add_permission_to_post_for_another_user(api_client, make_user, routed):
    api_client.force_authenticate(make_user("admin", is_staff=True))
    response = post(api_client, body(userID="alice"))
    assert response.status_code == 403 and "userID must be your own" in response.json()["detail"]
    assert not EventRow.objects.exists()
    assert post(api_client, body(userID="admin")).status_code == 202  # their own, as anyone


def test_staff_may_post_for_another_user_but_not_an_unknown_one(api_client, make_user, routed):
    staff = grant(make_user("admin", is_staff=True), "events.add_event")
    bob = make_user("bob")
    api_client.force_authenticate(staff)
    assert post(api_client, body(userID="bob")).status_code == 202
    assert EventRow.objects.get().user == bob
    response = post(api_client, body(userID="nobody"))
    assert response.status_code == 400 and "userID" in response.json()["detail"]
    assert EventRow.objects.count() == 1


def test_no_credentials_are_a_401(api_client, user):
    response = post(api_client, body())
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert not EventRow.objects.exists()


@pytest.mark.parametrize("make", [broken.expired_access, broken.wrong_key, broken.unsigned])
def test_expired_or_forged_tokens_are_a_401(api_client, user, make):
    response = post(api_client, body(), HTTP_AUTHORIZATION=f"Bearer {make(user)}")
    assert response.status_code == 401
    assert not EventRow.objects.exists()


def test_a_browser_session_works_too(api_client, user, routed):
    api_client.force_login(user)
    assert post(api_client, body()).status_code == 202


def test_an_oversized_body_is_a_413_and_nothing_is_stored(auth_client, settings, routed):
    response = post(auth_client, body(metadata={"text": "x" * (64 * 1024)}))
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "detail": "An event may be at most 65536 bytes of JSON.",
    }
    assert not EventRow.objects.exists()
    settings.EVENTS = {"MAX_BODY_BYTES": 200}
    assert post(auth_client, body(metadata={"text": "x" * 200})).status_code == 413
    assert post(auth_client, body(metadata={})).status_code == 202


def test_an_event_can_be_read_back_by_its_owner_only(auth_client, api_client, make_user, routed):
    event_id = post(auth_client, body()).json()["id"]
    response = auth_client.get(f"{URL}/{event_id}")
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == event_id and data["userID"] == "alice"
    assert (data["type"], data["status"], data["metadata"]) == ("user.message", "queued", {"text": "hi"})
    assert {"handler", "attempts", "last_error", "received_at", "timestamp"} <= set(data)

    from rest_framework.test import APIClient

    other = APIClient()
    other.force_authenticate(make_user("bob"))
    assert other.get(f"{URL}/{event_id}").status_code == 404
    assert auth_client.get(f"{URL}/00000000-0000-0000-0000-000000000000").status_code == 404
    staff = APIClient()
    clerk = make_user("admin", is_staff=True)
    staff.force_authenticate(clerk)
    assert staff.get(f"{URL}/{event_id}").status_code == 404  # staff need the view permission
    grant(clerk, "events.view_event")
    assert staff.get(f"{URL}/{event_id}").status_code == 200


def test_the_endpoints_are_in_the_openapi_document(auth_client):
    schema = auth_client.get("/api/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/events"]
    assert "get" in schema["paths"]["/api/events/{event_id}"]
    assert "202" in schema["paths"]["/api/events"]["post"]["responses"]


def test_the_list_is_the_callers_own_newest_first_paged_and_filtered(auth_client, user, make_user, routed):
    from rest_framework.test import APIClient

    ids = [post(auth_client, body(metadata={"n": i})).json()["id"] for i in range(3)]
    chat = post(auth_client, body(type="llm.chat", metadata={"messages": MESSAGES})).json()["id"]
    EventRow.objects.filter(pk=ids[0]).update(status="handled")
    bob = APIClient()
    bob.force_authenticate(make_user("bob"))
    post(bob, body(userID="bob"))

    page = auth_client.get(URL, {"limit": 2}).json()
    assert [e["id"] for e in page["events"]] == [chat, ids[2]]
    assert page["pagination"]["total_count"] == 4 and page["pagination"]["has_next_page"]
    assert page["events"][0]["metadata"] == {"messages": MESSAGES} and page["events"][0]["userID"] == "alice"
    assert [e["id"] for e in auth_client.get(URL, {"type": "llm.chat"}).json()["events"]] == [chat]
    assert [e["id"] for e in auth_client.get(URL, {"status": "handled"}).json()["events"]] == [ids[0]]
    assert auth_client.get(URL, {"status": "lost"}).status_code == 400
    assert auth_client.get(URL, {"offset": 10**22}).json()["events"] == []
    assert len(bob.get(URL).json()["events"]) == 1


def test_the_list_takes_a_fixed_number_of_queries(auth_client, routed, django_assert_max_num_queries):
    def count_queries(n):
        for _ in range(n):
            post(auth_client, body())
        with django_assert_max_num_queries(4) as captured:
            assert len(auth_client.get(URL, {"limit": 100}).json()["events"]) == EventRow.objects.count()
        return len(captured)

    assert count_queries(2) == count_queries(20)
