"""A login (one ``POST /api/token``) ends for every token it gave, access and refresh,
when the user logs out, changes their password or is deactivated."""

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "another-long-enough-password"


def obtain(client, password=PASSWORD) -> dict:
    response = client.post("/api/token", {"userID": "alice", "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def me(client, access) -> int:
    return client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code


def refresh(client, token):
    return client.post("/api/refresh", HTTP_AUTHORIZATION=f"Bearer {token}")


def rotate(client, refresh_token):
    return client.post("/api/token/refresh/", {"refresh": refresh_token}, format="json")


def logout(client, refresh_token):
    return client.post("/api/token/blacklist/", {"refresh": refresh_token}, format="json")


def assert_ended(client, tokens: dict) -> None:
    """Neither the access token nor the refresh token works for anything."""
    assert me(client, tokens["access"]) == 401
    assert refresh(client, tokens["access"]).status_code == 401
    assert refresh(client, tokens["refresh"]).status_code == 401
    assert rotate(client, tokens["refresh"]).status_code == 401


def test_logging_out_ends_the_access_token_and_its_refresh_chain(api_client, user):
    tokens = obtain(api_client)
    assert me(api_client, tokens["access"]) == 200
    assert logout(api_client, tokens["refresh"]).status_code == 200
    # The attack: the access token, exchanged at /api/refresh along a chain, kept the
    # logged-out login alive for the refresh lifetime.
    token = tokens["access"]
    for _ in range(3):
        response = refresh(api_client, token)
        assert response.status_code == 401, "a logged-out login's access token was exchanged"
        token = response.json().get("token", token)
    assert_ended(api_client, tokens)


def test_logging_out_ends_every_token_refreshed_from_the_login(api_client, user):
    first = obtain(api_client)
    chained = refresh(api_client, first["access"]).json()["token"]
    rotated = rotate(api_client, first["refresh"]).json()
    again = refresh(api_client, rotated["refresh"]).json()
    assert me(api_client, chained) == 200 and me(api_client, again["access"]) == 200
    assert logout(api_client, again["refresh"]).status_code == 200
    for access in (first["access"], chained, rotated["access"], again["access"]):
        assert me(api_client, access) == 401
        assert refresh(api_client, access).status_code == 401


def test_another_login_of_the_same_user_stays(api_client, user):
    phone, laptop = obtain(api_client), obtain(api_client)
    assert logout(api_client, phone["refresh"]).status_code == 200
    assert me(api_client, laptop["access"]) == 200
    assert refresh(api_client, laptop["access"]).status_code == 200
    assert rotate(api_client, laptop["refresh"]).status_code == 200


def _set_password(user):
    user.set_password(NEW_PASSWORD)
    user.save()


def _admin_form(user):
    admin = Client()
    from django.contrib.auth import get_user_model

    admin.force_login(get_user_model().objects.create_superuser("root", password=PASSWORD))
    response = admin.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content


def _command(user, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", user.username, stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.mark.parametrize("change", [_set_password, _admin_form, _command])
def test_a_password_change_ends_every_token(api_client, user, change, monkeypatch):
    tokens = obtain(api_client)
    chained = refresh(api_client, tokens["access"]).json()["token"]
    if change is _command:
        change(user, monkeypatch)
    else:
        change(user)
    assert_ended(api_client, tokens)
    assert me(api_client, chained) == 401
    assert me(api_client, obtain(api_client, NEW_PASSWORD)["access"]) == 200


def test_deactivation_ends_every_token(api_client, user):
    tokens = obtain(api_client)
    user.is_active = False
    user.save()
    assert_ended(api_client, tokens)


def test_a_login_past_its_refresh_lifetime_ends_its_access_tokens(api_client, user):
    from accounts.models import Login

    tokens = obtain(api_client)
    Login.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = refresh(api_client, tokens["access"])
    assert response.status_code == 401
    assert response.json()["error"] == "token_not_valid"
    assert me(api_client, tokens["access"]) == 401


def test_tokens_issued_without_a_login_are_refused(api_client, user):
    access, pair = AccessToken.for_user(user), RefreshToken.for_user(user)
    assert me(api_client, access) == 401
    assert refresh(api_client, access).status_code == 401
    assert refresh(api_client, pair).status_code == 401
    assert rotate(api_client, str(pair)).status_code == 401


def test_a_login_id_in_a_token_of_another_user_is_refused(api_client, user, make_user):
    """Each claim is checked against the login's own user, not just its existence."""
    from accounts.tokens import LOGIN_CLAIM

    mine = AccessToken(obtain(api_client)["access"])
    bob = make_user("bob")
    forged = AccessToken.for_user(bob)
    for claim, value in mine.payload.items():
        if claim not in ("user_id", "jti", "exp", "iat", "token_type"):
            forged[claim] = value
    assert forged[LOGIN_CLAIM] == mine[LOGIN_CLAIM]
    assert me(api_client, forged) == 401


def test_bearer_auth_costs_one_query(auth_client, django_assert_max_num_queries):
    auth_client.get("/api/me")  # warm up anything cached per process
    with django_assert_max_num_queries(1):
        assert auth_client.get("/api/me").status_code == 200


def test_the_event_stream_refuses_a_logged_out_token(api_client, user):
    """``/api/sessions/{id}/events`` checks Bearer tokens with the same token class."""
    tokens = obtain(api_client)
    url = f"/api/sessions/{uuid.uuid4()}/events"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
    assert api_client.get(url, **auth).status_code == 404  # authenticated; no such session
    assert logout(api_client, tokens["refresh"]).status_code == 200
    assert api_client.get(url, **auth).status_code == 401
