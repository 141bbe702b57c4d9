import pytest

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}


def test_an_unknown_page_is_an_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_a_json_405(api_client):
    response = api_client.delete("/api/token")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_an_unsupported_media_type_is_a_json_415(api_client):
    response = api_client.post(
        "/api/token", "userID=a&password=b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_an_unexpected_error_is_a_json_500_without_details(api_client, monkeypatch):
    from accounts import services

    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "token_obtain", boom)
    api_client.raise_request_exception = False
    response = api_client.post("/api/token", {"userID": "a", "password": "b"}, format="json")
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert "secret" not in response.content.decode()


@pytest.mark.parametrize("path", ["/api/sessions/", "/api/register", "/api/projects/"])
def test_a_body_over_the_upload_cap_is_a_json_413_and_changes_nothing(auth_client, settings, path):
    from assistant.models import ChatSession
    from projects.models import Project

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = auth_client.post(path, {"content": "x" * 2000, "name": "p"}, format="json")
    assert response.status_code == 413, response.content
    assert response.json()["error"] == "payload_too_large"
    assert not ChatSession.objects.exists() and not Project.objects.exists()


def test_json_nested_too_deeply_for_the_decoder_is_a_json_400(auth_client):
    response = auth_client.post(
        "/api/sessions/", "[" * 50_000 + "]" * 50_000, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "parse_error" and "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/sessions/?offset=null", "/api/sessions/?offset=", "/api/sessions/?limit=1.0",
        "/api/sessions/?limit=%205", "/api/sessions/?mode=", "/api/sessions/?mode=nope",
        "/api/sessions/?sort=", "/api/sessions/?job=", "/api/sessions/?job=null", "/api/sessions/?search=",
        "/api/search/?q=a&offset=", "/api/modes/?job=", "/api/events?status=", "/api/events?offset=null",
        "/api/events?type=", "/api/schedule?status=", "/api/schedule?limit=", "/api/tasks?limit=",
        "/api/projects/?offset=null", "/api/projects/?limit=-1", "/api/projects/?limit=x",
        "/api/projects/?limit=501", "/api/workflows/?project=", "/api/workflows/?project=%C2%B2",
        "/api/jobs/?workflow=0", "/api/runs/?job=null",
    ],
)  # fmt: skip
def test_a_query_parameter_outside_the_document_is_a_400(auth_client, url):
    """Given, a parameter has a value of its documented type: empty, null or a number
    spelt otherwise is refused, not read as left out or as the default."""
    response = auth_client.get(url)
    assert response.status_code == 400, response.content
    name = url.rsplit("?", 1)[1].rsplit("&", 1)[-1].split("=")[0]
    assert response.json()["error"] == "invalid"
    assert name in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    ["/api/sessions/?offset=0&limit=100&mode=job_code&sort=asc", "/api/events?status=queued&limit=1",
     "/api/projects/?limit=500&offset=0", "/api/workflows/?project=1", "/api/tasks?limit=200"],
)  # fmt: skip
def test_documented_query_parameters_are_taken(auth_client, url):
    assert auth_client.get(url).status_code == 200


@pytest.mark.parametrize(
    "url, body, field",
    [
        ("/api/keys/", {"name": 5}, "name"),
        ("/api/keys/", {"name": "k", "can_write": "true"}, "can_write"),
        ("/api/projects/", {"name": 5}, "name"),
        ("/api/workflows/", {"project": "1", "name": "w"}, "project"),
        ("/api/sessions/", {"mode": "job_code", "job": "1", "content": "x"}, "job"),
        ("/api/sessions/", {"mode": "job_code", "job": 1.0, "content": "x"}, "job"),
    ],
)  # fmt: skip
def test_a_body_value_of_another_json_type_is_a_400(auth_client, url, body, field):
    """A number is not a string, nor "true" a boolean: the value is refused, not converted."""
    response = auth_client.post(url, body, format="json")
    assert response.status_code == 400
    assert list(response.json()["detail"]) == [field]
