"""The admin's actions need the model's change permission, not only is_staff."""

import pytest
from django.contrib.auth import get_user_model

from assistant.models import ChatMessage, Disclaimer
from tests import factories as f
from tests.permissions import grant

pytestmark = pytest.mark.django_db
MESSAGES = "/admin/assistant/chatmessage/"
DISCLAIMERS = "/admin/assistant/disclaimer/"


@pytest.fixture
def login(client, make_user):
    def as_staff_with(*perms):
        client.force_login(grant(make_user("clerk", is_staff=True), *perms))
        return client

    return as_staff_with


@pytest.fixture
def failed_and_running(user, enqueued):
    failed = f.first_message(f.job_session(user=user))
    ChatMessage.objects.filter(pk=failed.pk).update(status="error")
    return failed, f.first_message(f.job_session(user=user))


def statuses(*messages) -> tuple:
    return tuple(ChatMessage.objects.get(pk=m.pk).status for m in messages)


def test_staff_who_may_only_view_messages_can_neither_retry_nor_cancel(login, failed_and_running):
    failed, running = failed_and_running
    client = login("assistant.view_chatmessage")
    page = client.get(MESSAGES)
    assert page.status_code == 200
    assert b"retry_messages" not in page.content and b"cancel_messages" not in page.content
    client.post(MESSAGES, {"action": "retry_messages", "_selected_action": [failed.pk]})
    client.post(MESSAGES, {"action": "cancel_messages", "_selected_action": [running.pk]})
    assert statuses(failed, running) == ("error", "pending")


def test_the_change_permission_on_messages_allows_both(login, failed_and_running):
    failed, running = failed_and_running
    client = login("assistant.view_chatmessage", "assistant.change_chatmessage")
    assert b"retry_messages" in client.get(MESSAGES).content
    client.post(MESSAGES, {"action": "retry_messages", "_selected_action": [failed.pk]})
    client.post(MESSAGES, {"action": "cancel_messages", "_selected_action": [running.pk]})
    assert statuses(failed, running) == ("pending", "cancelled")


def active_versions() -> list[int]:
    return list(Disclaimer.objects.filter(is_active=True).values_list("version", flat=True))


def test_activating_a_disclaimer_needs_the_change_permission(login):
    if not Disclaimer.objects.filter(is_active=True).exists():
        Disclaimer.objects.create(version=1, text="Old terms", is_active=True)
    before = active_versions()
    newer = Disclaimer.objects.create(version=102, text="New terms")
    client = login("assistant.view_disclaimer", "assistant.add_disclaimer")
    assert b'value="activate"' not in client.get(DISCLAIMERS).content
    client.post(DISCLAIMERS, {"action": "activate", "_selected_action": [newer.pk]})
    added = client.post(f"{DISCLAIMERS}add/", {"version": 103, "text": "Newest terms", "activate": "on"})
    assert added.status_code == 302 and Disclaimer.objects.filter(version=103).exists()
    assert active_versions() == before

    grant(get_user_model().objects.get(username="clerk"), "assistant.change_disclaimer")
    client.post(DISCLAIMERS, {"action": "activate", "_selected_action": [newer.pk]})
    assert active_versions() == [102]
    client.post(f"{DISCLAIMERS}add/", {"version": 104, "text": "Terms four", "activate": "on"})
    assert active_versions() == [104]
