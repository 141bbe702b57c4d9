"""Personal API keys: shown once, kept as a digest, listed, revoked; only their owner's."""

import pytest

from accounts import api_keys
from accounts.models import ApiKey
from assistant.mcp_server import Caller, authenticate

pytestmark = pytest.mark.django_db


def test_a_key_is_shown_once_and_kept_as_its_digest(client_of, user):
    api = client_of(user)
    made = api.post("/api/keys/", {"name": "laptop agent", "can_write": True}, format="json")
    assert made.status_code == 201
    body = made.json()
    raw = body["key"]
    assert raw.startswith("aak_") and len(raw) > 40
    stored = ApiKey.objects.get()
    assert raw not in {stored.digest, stored.hint} and stored.digest == api_keys.digest_of(raw)
    assert (stored.name, stored.can_write, stored.user) == ("laptop agent", True, user)
    [listed] = api.get("/api/keys/").json()
    assert "key" not in listed and listed["id"] == body["id"] and raw.startswith(listed["hint"])


def test_keys_authenticate_until_revoked(client_of, user):
    key, raw = api_keys.api_key_create(user=user, name="agent")
    assert authenticate(f"Bearer {raw}") == Caller(user.pk, key.pk, False)
    assert authenticate(f"bearer {raw}x") is None and authenticate(raw) is None and authenticate("") is None
    assert client_of(user).delete(f"/api/keys/{key.pk}/").status_code == 204
    assert authenticate(f"Bearer {raw}") is None
    assert client_of(user).get("/api/keys/").json() == []


def test_a_deactivated_users_keys_stop_working(user):
    _, raw = api_keys.api_key_create(user=user, name="agent")
    user.is_active = False
    user.save()
    assert authenticate(f"Bearer {raw}") is None


def test_another_users_key_is_404_and_stays(client_of, user, make_user):
    key, raw = api_keys.api_key_create(user=user, name="agent")
    response = client_of(make_user("mallory")).delete(f"/api/keys/{key.pk}/")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert authenticate(f"Bearer {raw}") is not None


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "a", "can_write": "maybe"}])
def test_bad_input_is_400_and_makes_no_key(client_of, user, body):
    response = client_of(user).post("/api/keys/", body, format="json")
    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert not ApiKey.objects.exists()


def test_keys_need_a_login(api_client):
    assert api_client.get("/api/keys/").status_code == 401
    assert api_client.post("/api/keys/", {"name": "x"}, format="json").status_code == 401


def test_a_user_has_at_most_a_few_live_keys(client_of, user, settings):
    for n in range(api_keys.MAX_KEYS):
        api_keys.api_key_create(user=user, name=f"k{n}")
    response = client_of(user).post("/api/keys/", {"name": "one more"}, format="json")
    assert response.status_code == 400
    assert ApiKey.objects.count() == api_keys.MAX_KEYS
