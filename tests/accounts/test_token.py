import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
URL = "/api/token"


def test_credentials_give_a_signed_token_and_a_pair(api_client, user):
    response = api_client.post(URL, {"userID": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == {"token", "access", "refresh"}
    assert data["token"] == data["access"]
    assert AccessToken(data["token"])["user_id"] == str(user.pk)
    assert RefreshToken(data["refresh"])["user_id"] == str(user.pk)


def test_the_token_authenticates_api_requests(api_client, user):
    token = api_client.post(URL, {"userID": "alice", "password": PASSWORD}, format="json").json()["token"]
    assert api_client.get("/api/me").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/me")
    assert response.status_code == 200
    assert response.json()["userID"] == "alice"


def test_access_tokens_are_short_lived(api_client, user):
    data = api_client.post(URL, {"userID": "alice", "password": PASSWORD}, format="json").json()
    access = AccessToken(data["access"])
    assert access["exp"] - access["iat"] <= 15 * 60


@pytest.mark.parametrize(
    "body",
    [
        {"userID": "alice", "password": "wrong-password"},
        {"userID": "nobody", "password": PASSWORD},
        {"userID": "ALICE", "password": PASSWORD},
    ],
)
def test_wrong_credentials_are_a_401(api_client, user, body):
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"
    assert "token" not in response.json()


def test_an_inactive_user_gets_no_token(api_client, make_user):
    make_user("carol", is_active=False)
    response = api_client.post(URL, {"userID": "carol", "password": PASSWORD}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "userID"),
        ({"userID": "alice"}, "password"),
        ({"userID": ["alice"], "password": PASSWORD}, "userID"),
        ({"userID": "alice", "password": 12345678}, "password"),
    ],
)
def test_bad_input_is_a_400(api_client, user, body, field):
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]
