"""Who may see the dashboard and use its endpoints."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from assistant.views import CHAT_PAGE_CSP
from events.models import Event as EventRow
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PAGE = "/dashboard/"
STATE = "/dashboard/state"
ZERO = "00000000-0000-0000-0000-000000000000"


def test_the_urls():
    assert reverse("dashboard:index") == PAGE
    assert reverse("dashboard:state") == STATE
    assert reverse("dashboard:event-submit") == "/dashboard/events"
    assert reverse("dashboard:message-retry", args=[ZERO]) == f"/dashboard/messages/{ZERO}/retry"
    assert reverse("dashboard:schedule-cancel", args=[ZERO]) == f"/dashboard/schedules/{ZERO}/cancel"


def test_anonymous_visitors_are_sent_to_log_in_and_come_back(client, staff):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/"
    login = client.post("/accounts/login/", {"username": "root", "password": PASSWORD, "next": PAGE})
    assert login.status_code == 302 and login["Location"] == PAGE
    assert client.get(PAGE).status_code == 200


def test_users_who_are_not_staff_get_403(member_client):
    assert member_client.get(PAGE).status_code == 403
    response = member_client.get(STATE)
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


def test_anonymous_state_requests_get_a_json_403(client):
    response = client.get(STATE)
    assert response.status_code == 403
    assert response.json()["error"] == "not_authenticated"


def test_staff_get_the_page_with_the_strict_policy_and_no_inline_code(staff_client):
    response = staff_client.get(PAGE)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CHAT_PAGE_CSP
    html = response.content.decode()
    assert 'src="/static/dashboard/js/dashboard.js"' in html
    assert 'href="/static/dashboard/css/dashboard.css"' in html
    assert re.findall(r"<script(?![^>]*\ssrc=)", html) == []  # every script is a file
    assert "<style" not in html and " style=" not in html
    assert re.search(r'<option value="user.message">UserMessenger</option>', html)
    assert 'value="root"' in html  # userID defaults to the staff member
    assert 'name="csrf-token"' in html and "csrftoken" in response.cookies


def test_staff_get_the_state(staff_client):
    response = staff_client.get(STATE)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert {"generated_at", "events", "messages", "schedules", "tasks"} <= set(response.json())


def test_the_header_links_to_the_dashboard_for_staff_only(staff_client, make_user):
    assert b'href="/dashboard/"' in staff_client.get("/").content
    member = Client()
    member.force_login(make_user("bob"))
    assert b'href="/dashboard/"' not in member.get("/").content


def test_actions_need_the_csrf_token(staff, routed):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    token = browser.get(PAGE).cookies["csrftoken"].value
    body = {"type": "user.message", "source": "dashboard", "metadata": "{}"}
    refused = browser.post("/dashboard/events", body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert not EventRow.objects.exists()
    accepted = browser.post(
        "/dashboard/events", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 202, accepted.content


def test_the_dashboard_is_not_in_the_api_document(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert not [path for path in schema["paths"] if path.startswith("/dashboard")]


@pytest.mark.parametrize("method", ["put", "delete"])
def test_other_methods_are_a_json_405(staff_client, method):
    response = getattr(staff_client, method)(STATE)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
