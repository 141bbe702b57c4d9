import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db
User = get_user_model()
URL = "/api/register"


def test_register_creates_a_user(api_client):
    response = api_client.post(URL, {"userID": "bob", "password": "a-long-enough-password"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"id": User.objects.get(username="bob").pk, "userID": "bob"}
    assert User.objects.get(username="bob").check_password("a-long-enough-password")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": "a-long-enough-password"}, "userID"),
        ({"userID": "bob"}, "password"),
        ({"userID": 12345, "password": "a-long-enough-password"}, "userID"),
        ({"userID": "bob", "password": ["a-long-enough-password"]}, "password"),
        ({"userID": "bob", "password": None}, "password"),
        ({"userID": "", "password": "a-long-enough-password"}, "userID"),
        ({"userID": "bob smith!", "password": "a-long-enough-password"}, "userID"),
        ({"userID": "b" * 151, "password": "a-long-enough-password"}, "userID"),
        ({"userID": "bob", "password": "short"}, "password"),
        ({"userID": "bob", "password": "12345678901"}, "password"),
        ({"userID": "bob", "password": "password123"}, "password"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(api_client, body, field):
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["error"] == "invalid"
    assert field in data["detail"]
    assert not User.objects.exists()


def test_a_body_that_is_not_json_is_a_400(api_client):
    response = api_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


def test_a_body_that_is_a_list_is_a_400(api_client):
    response = api_client.post(URL, ["bob", "pw"], format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


def test_duplicate_registration_is_a_409(api_client, make_user):
    make_user("bob")
    response = api_client.post(URL, {"userID": "bob", "password": "another-long-password"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "error": "conflict",
        "detail": "A user with that userID already exists.",
    }
    assert User.objects.filter(username__iexact="bob").count() == 1


def test_duplicate_in_another_letter_case_is_a_409(api_client, make_user):
    make_user("bob")
    response = api_client.post(URL, {"userID": "BOB", "password": "another-long-password"}, format="json")
    assert response.status_code == 409


def test_register_is_get_only_for_the_browsable_form(api_client):
    assert api_client.get(URL).status_code == 405
