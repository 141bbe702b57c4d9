import time

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.tokens import LOGIN_CLAIM

from . import tokens as broken

pytestmark = pytest.mark.django_db
URL = "/api/refresh"


def refresh(client, token):
    return client.post(URL, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_current_token_gets_a_new_one_with_a_fresh_expiry(api_client, user, tokens):
    old = AccessToken(tokens["token"])
    time.sleep(1.01)  # iat and exp have one-second resolution
    response = refresh(api_client, tokens["token"])
    assert response.status_code == 200, response.content
    new = AccessToken(response.json()["token"])
    assert response.json()["access"] == response.json()["token"]
    assert new["exp"] > old["exp"]
    assert new["jti"] != old["jti"]
    assert new["user_id"] == str(user.pk)
    assert new[LOGIN_CLAIM] == old[LOGIN_CLAIM]


def test_the_new_token_works_and_can_itself_be_refreshed(api_client, tokens):
    first = refresh(api_client, tokens["token"]).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {first}")
    assert api_client.get("/api/me").status_code == 200
    api_client.credentials()
    assert refresh(api_client, first).status_code == 200


def test_a_token_is_exchanged_once(api_client, tokens):
    assert refresh(api_client, tokens["token"]).status_code == 200
    again = refresh(api_client, tokens["token"])
    assert again.status_code == 401
    assert again.json()["error"] == "token_not_valid"


def test_a_refresh_token_is_rotated_and_the_old_one_blacklisted(api_client, tokens):
    response = refresh(api_client, tokens["refresh"])
    assert response.status_code == 200, response.content
    data = response.json()
    assert {"token", "access", "refresh"} <= set(data)
    assert data["refresh"] != tokens["refresh"]
    assert refresh(api_client, tokens["refresh"]).status_code == 401
    assert refresh(api_client, data["refresh"]).status_code == 200


def test_a_logged_out_refresh_token_is_refused(api_client, tokens):
    out = api_client.post("/api/token/blacklist/", {"refresh": tokens["refresh"]}, format="json")
    assert out.status_code == 200
    assert refresh(api_client, tokens["refresh"]).status_code == 401


@pytest.mark.parametrize(
    "make", [broken.expired_access, broken.expired_refresh, broken.wrong_key, broken.unsigned]
)
def test_broken_tokens_are_a_401(api_client, user, make):
    response = refresh(api_client, make(user))
    assert response.status_code == 401
    assert response.json()["error"] == "token_not_valid"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_tampered_token_is_a_401(api_client, user, make_user):
    response = refresh(api_client, broken.tampered(user, make_user("mallory")))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Token abc", "Basic YTpi", "Bearer garbage"]
)
def test_missing_or_malformed_headers_are_a_401(api_client, header):
    kwargs = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = api_client.post(URL, **kwargs)
    assert response.status_code == 401
    assert set(response.json()) == {"error", "detail"}


def test_a_deleted_user_cannot_refresh(api_client, user, tokens):
    user.delete()
    assert refresh(api_client, tokens["token"]).status_code == 401


def test_a_deactivated_user_cannot_refresh_either_token(api_client, user, tokens):
    user.is_active = False
    user.save()
    assert refresh(api_client, tokens["token"]).status_code == 401
    assert refresh(api_client, tokens["refresh"]).status_code == 401


def test_simplejwt_refresh_endpoint_rotates_and_blacklists(api_client, tokens):
    url = "/api/token/refresh/"
    response = api_client.post(url, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200
    assert RefreshToken(response.json()["refresh"])  # a valid, new refresh token
    again = api_client.post(url, {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401
    assert again.json()["error"] == "token_not_valid"
