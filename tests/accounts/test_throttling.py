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


BAD_LOGIN = {"userID": "nobody", "password": "whatever-password"}


def test_a_made_up_x_forwarded_for_does_not_dodge_the_throttle(api_client, settings):
    """The attack: a different X-Forwarded-For on each request counted as new clients."""
    settings.TRUSTED_PROXIES = []
    statuses = [
        api_client.post(
            "/api/token", BAD_LOGIN, format="json", REMOTE_ADDR="198.51.100.77",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(1, 6)
    ]  # fmt: skip
    assert statuses == [401, 401, 401, 429, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(api_client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]

    def post(client_address):
        return api_client.post(
            "/api/token", BAD_LOGIN, format="json", REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client_address}",
        ).status_code  # fmt: skip

    assert [post("203.0.113.50") for _ in range(4)] == [401, 401, 401, 429]
    assert post("203.0.113.51") == 401
    assert post("203.0.113.50") == 429


def test_every_throttle_counts_by_the_client_address():
    """The classes the API uses, and DRF's own if something names them, ignore XFF."""
    from django.conf import settings as django_settings
    from rest_framework.settings import api_settings

    from accounts.clients import ClientAddressThrottle

    assert all(issubclass(cls, ClientAddressThrottle) for cls in api_settings.DEFAULT_THROTTLE_CLASSES)
    assert django_settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
