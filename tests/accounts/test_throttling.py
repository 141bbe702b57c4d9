import itertools

import pytest
from rest_framework.throttling import SimpleRateThrottle

pytestmark = pytest.mark.django_db
_addresses = itertools.count(1)


@pytest.fixture
def address():
    """A client address of its own, so earlier tests' requests don't count."""
    n = next(_addresses)
    return f"198.51.100.{n % 250 + 1}"


@pytest.fixture(autouse=True)
def three_per_minute(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"auth": "3/minute", "user": "3/minute"})


@pytest.mark.parametrize(
    "url, body",
    [
        ("/api/token", {"userID": "nobody", "password": "whatever-password"}),
        ("/api/register", {"userID": "", "password": ""}),
    ],
)
def test_the_fourth_request_in_a_minute_is_a_429_with_retry_after(api_client, address, url, body):
    for _ in range(3):
        assert api_client.post(url, body, format="json", REMOTE_ADDR=address).status_code != 429
    response = api_client.post(url, body, format="json", REMOTE_ADDR=address)
    assert response.status_code == 429
    assert response.json()["error"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_other_clients_are_not_throttled(api_client, address):
    body = {"userID": "nobody", "password": "whatever-password"}
    for _ in range(4):
        api_client.post("/api/token", body, format="json", REMOTE_ADDR=address)
    other = api_client.post("/api/token", body, format="json", REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 401


def test_api_requests_are_throttled_per_user(auth_client):
    for _ in range(3):
        assert auth_client.get("/api/modes/").status_code == 200
    response = auth_client.get("/api/modes/")
    assert response.status_code == 429
    assert response.json()["error"] == "throttled"
    assert int(response["Retry-After"]) > 0
