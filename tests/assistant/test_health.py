import pytest
from django.core.cache import cache

from assistant import llm

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_probe():
    cache.delete("assistant:endpoint-available")
    yield
    cache.delete("assistant:endpoint-available")


def test_health_needs_no_auth_and_says_disabled_without_a_key(api_client, settings):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.OPENAI_API_KEY = None
    response = api_client.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {"enabled": False, "endpoint_available": False}


def test_the_demo_model_is_enabled_and_answers(api_client, settings):
    settings.OPENAI_BASE_URL = "demo"
    settings.OPENAI_API_KEY = None
    assert api_client.get("/api/health/").json() == {"enabled": True, "endpoint_available": True}


def test_a_real_endpoint_that_answers_is_available(api_client, model_server):
    assert api_client.get("/api/health/").json() == {"enabled": True, "endpoint_available": True}
    model_server.stop()
    cache.delete("assistant:endpoint-available")
    assert api_client.get("/api/health/").json() == {"enabled": True, "endpoint_available": False}


def test_health_probes_the_endpoint_once_per_interval(api_client, settings, monkeypatch):
    settings.OPENAI_API_KEY = "sk-test"
    calls = []
    monkeypatch.setattr(llm, "endpoint_answers", lambda **kw: calls.append(1) or True)
    assert api_client.get("/api/health/").json() == {"enabled": True, "endpoint_available": True}
    assert api_client.get("/api/health/").json()["endpoint_available"] is True
    assert len(calls) == 1


def test_an_unreachable_endpoint_is_reported(api_client, settings):
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    assert api_client.get("/api/health/").json() == {"enabled": True, "endpoint_available": False}
