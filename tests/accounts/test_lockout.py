"""Failed logins lock the client address out of every login: the browser page, the
admin's and ``/api/token`` (django-axes, counting by ``accounts.clients``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
LOCKED = b"Too many failed logins"


@pytest.fixture(autouse=True)
def three_failures(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TRUSTED_PROXIES = []


def page_login(client, url, password, **extra):
    return client.post(url, {"username": "alice", "password": password}, **extra)


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/?next=/admin/"])
def test_a_login_page_locks_the_client_out_after_three_failures(client, make_user, url):
    make_user("alice", is_staff=True)
    for _ in range(2):
        response = page_login(client, url, "wrong-password")
        assert response.status_code == 200
        assert LOCKED not in response.content
    locked = page_login(client, url, "wrong-password")
    assert locked.status_code == 429
    assert LOCKED in locked.content and b"15 minutes" in locked.content
    assert b"<html" in locked.content.lower()  # a page, for browsers
    # Even the right password is refused until the cool-off ends.
    assert page_login(client, url, PASSWORD).status_code == 429
    assert client.get("/").status_code == 302


def test_the_token_endpoint_answers_a_json_429(api_client, user):
    def token(password, **extra):
        body = {"userID": "alice", "password": password}
        return api_client.post("/api/token", body, format="json", **extra)

    assert [token("wrong-password").status_code for _ in range(2)] == [401, 401]
    locked = token("wrong-password")
    assert locked.status_code == 429
    assert locked.json()["error"] == "locked_out"
    assert "Too many failed logins" in locked.json()["detail"]
    assert int(locked["Retry-After"]) == 15 * 60
    assert token(PASSWORD).status_code == 429
    # another client address is not locked out
    assert token(PASSWORD, REMOTE_ADDR="198.51.100.20").status_code == 200


def test_failures_count_across_the_pages_and_the_api(client, api_client, user):
    page_login(client, "/accounts/login/", "wrong-password")
    api_client.post("/api/token", {"userID": "bob", "password": "nope-nope"}, format="json")
    assert page_login(client, "/admin/login/", "wrong-password").status_code == 429


def test_a_made_up_x_forwarded_for_does_not_escape_the_lockout(client, user):
    for n in range(3):
        page_login(client, "/accounts/login/", "wrong-password", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = page_login(client, "/accounts/login/", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_locked_out(client, user, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    proxied = {"REMOTE_ADDR": "10.0.0.1"}
    for _ in range(3):
        page_login(
            client, "/accounts/login/", "wrong-password", HTTP_X_FORWARDED_FOR="203.0.113.5", **proxied
        )
    locked = page_login(client, "/accounts/login/", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxied)
    assert locked.status_code == 429
    other = page_login(client, "/accounts/login/", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxied)
    assert other.status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, user):
    from axes.models import AccessAttempt

    for _ in range(3):
        page_login(client, "/accounts/login/", "wrong-password")
    assert page_login(client, "/accounts/login/", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert page_login(client, "/accounts/login/", PASSWORD).status_code == 302
