import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_home_sends_anonymous_users_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_and_logout_with_the_browser_pages(client, user):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="password"' in page.content
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_shows_an_error(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content


def test_staff_log_in_to_the_admin_and_see_users(client, make_user):
    make_user("root", is_staff=True, is_superuser=True)
    assert (
        client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD}).status_code
        == 302
    )
    page = client.get("/admin/accounts/user/")
    assert page.status_code == 200
    assert b"root" in page.content


def test_api_docs_and_schema_are_served(client):
    assert client.get("/api/docs/").status_code == 200
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert schema.json()["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    for path in ("/api/register", "/api/token", "/api/refresh", "/api/health/", "/api/me"):
        assert path in paths
