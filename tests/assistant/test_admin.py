import pytest

from assistant import services
from assistant.models import ChatMessage
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def _fill(user, sessions):
    for _ in range(sessions):
        session = f.job_session(user=user)
        services.message_save(session=session, role="assistant", content="answer", usage={"total_tokens": 3})


@pytest.mark.parametrize(
    "url",
    ["/admin/assistant/chatsession/", "/admin/assistant/chatmessage/", "/admin/assistant/aiusage/",
     "/admin/assistant/disclaimer/"],
)  # fmt: skip
def test_lists_take_the_same_queries_for_2_and_40_rows(
    staff_client, user, url, django_assert_max_num_queries
):
    _fill(user, 2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(url).status_code == 200
    _fill(user, 38)
    with django_assert_max_num_queries(len(few)):
        assert staff_client.get(url).status_code == 200


def test_a_session_page_shows_its_messages(staff_client, user):
    session = f.job_session(user=user, content="Inline question")
    page = staff_client.get(f"/admin/assistant/chatsession/{session.pk}/change/")
    assert page.status_code == 200
    assert b"Inline question" in page.content


def test_search_and_filters(staff_client, user):
    f.job_session(user=user, content="needle in the haystack")
    f.job_session(user=user, content="other")
    page = staff_client.get("/admin/assistant/chatmessage/?q=needle")
    assert b"needle in the haystack" in page.content and b">other<" not in page.content
    assert staff_client.get("/admin/assistant/chatmessage/?status__exact=pending").status_code == 200
    assert staff_client.get("/admin/assistant/chatmessage/?session__mode=job_code").status_code == 200
    assert b"needle" in staff_client.get("/admin/assistant/chatsession/?q=needle").content


def test_retry_and_cancel_actions(staff_client, user, enqueued):
    failed = f.first_message(f.job_session(user=user))
    ChatMessage.objects.filter(pk=failed.pk).update(status="error")
    running = f.first_message(f.job_session(user=user))
    url = "/admin/assistant/chatmessage/"
    staff_client.post(url, {"action": "retry_messages", "_selected_action": [failed.pk, running.pk]})
    staff_client.post(url, {"action": "cancel_messages", "_selected_action": [running.pk]})
    failed.refresh_from_db()
    running.refresh_from_db()
    assert (failed.status, running.status) == ("pending", "cancelled")


def test_usage_is_read_only(staff_client, user):
    row = services.usage_record(user=user, usage={"total_tokens": 1})
    assert staff_client.get("/admin/assistant/aiusage/add/").status_code == 403
    page = staff_client.get(f"/admin/assistant/aiusage/{row.pk}/change/")
    assert page.status_code == 200 and b'name="total_tokens"' not in page.content


def test_activating_a_disclaimer_in_the_admin_deactivates_the_old_one(staff_client):
    from assistant.models import Disclaimer

    response = staff_client.post(
        "/admin/assistant/disclaimer/add/", {"version": 2, "text": "New terms", "activate": "on"}
    )
    assert response.status_code == 302
    assert list(Disclaimer.objects.filter(is_active=True).values_list("version", flat=True)) == [2]
