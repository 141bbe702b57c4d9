import pytest

from . import tokens as broken

pytestmark = pytest.mark.django_db
URL = "/api/me"


def test_anonymous_is_a_401(api_client):
    response = api_client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.parametrize("make", [broken.expired_access, broken.wrong_key, broken.unsigned])
def test_broken_tokens_are_a_401(api_client, user, make):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make(user)}")
    assert api_client.get(URL).status_code == 401


def test_a_refresh_token_is_no_access_token(api_client, tokens):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['refresh']}")
    assert api_client.get(URL).status_code == 401


def test_a_tampered_token_is_a_401(api_client, user, make_user):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {broken.tampered(user, make_user('eve'))}")
    assert api_client.get(URL).status_code == 401


def test_profile_read_and_change(auth_client, user):
    assert auth_client.get(URL).json() == {
        "id": user.pk,
        "userID": "alice",
        "display_name": "",
        "email": "",
        "preferences": {},
        "is_staff": False,
    }
    response = auth_client.patch(
        URL, {"display_name": "Alice A.", "preferences": {"theme": "dark"}}, format="json"
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.display_name, user.preferences) == ("Alice A.", {"theme": "dark"})


@pytest.mark.parametrize(
    "body",
    [
        {"preferences": [1, 2]},
        {"display_name": 5},
        {"email": "not-an-email"},
        {"display_name": "x" * 151},
    ],
)
def test_bad_profile_changes_are_a_400_and_change_nothing(auth_client, user, body):
    response = auth_client.patch(URL, body, format="json")
    assert response.status_code == 400
    user.refresh_from_db()
    assert (user.display_name, user.email, user.preferences) == ("", "", {})


def test_session_login_works_for_the_browsable_api(client, user):
    client.force_login(user)
    assert client.get(URL, HTTP_ACCEPT="application/json").json()["userID"] == "alice"
    page = client.get(URL, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"Django REST framework" in page.content
