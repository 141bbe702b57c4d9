"""The key of the X-Signature on POSTs to NOTIFY_URL: by default derived from
SECRET_KEY for that purpose only, so that a webhook receiver holding it can't sign
tokens (JWT_SIGNING_KEY defaults to SECRET_KEY); ``manage.py notify_secret`` prints it."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
from io import StringIO

import jwt
import pytest
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from assistant.defaults import events as events_settings
from events.services import event_route
from tests import factories
from tests.config.test_settings import VARIABLES, start
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def signed(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def printed_secret() -> str:
    out = StringIO()
    call_command("notify_secret", stdout=out)
    return out.getvalue().strip()


def command_in_a_new_process(tmp_path, **variables) -> str:
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, "NOTIFY_SECRET")}
    env.update(ENV_FILE="", DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", **variables)
    result = subprocess.run(
        [sys.executable, "manage.py", "notify_secret"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def receiver_with_the_default_key(notify_receiver, settings):
    """The receiver, with the key the settings give when NOTIFY_SECRET is not set."""
    assert not os.environ.get("NOTIFY_SECRET")
    settings.NOTIFY_SECRET = events_settings.NOTIFY_SECRET
    return notify_receiver


def test_the_default_key_signs_no_token(receiver_with_the_default_key, user, routed, api_client, settings):
    row = factories.event(user=user, type="user.message")
    assert event_route(event_id=row.pk).state == "handled"
    [received] = receiver_with_the_default_key.received
    signature = received.headers["x-signature"]
    for token_key in {settings.SECRET_KEY, settings.SIMPLE_JWT["SIGNING_KEY"]}:
        assert signature != signed(token_key, received.body)

    # The receiver's key, as the operator reads it, checks the signature ...
    key = printed_secret()
    assert signature == signed(key, received.body) and len(key) >= 64
    # ... and a token made with it is refused, while one made with the signing key works.
    from accounts.services import tokens_for_user

    claims = AccessToken(tokens_for_user(user)["access"]).payload
    for token_key, status in [(key, 401), (settings.SIMPLE_JWT["SIGNING_KEY"], 200)]:
        token = jwt.encode(claims, token_key, algorithm="HS256")
        response = api_client.get("/api/events", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == status, (token_key == key, response.content)


def test_the_derived_key_follows_secret_key_and_a_key_of_its_own_wins(tmp_path, settings):
    first = command_in_a_new_process(tmp_path, SECRET_KEY="a" * 50)
    assert first != "a" * 50 and len(first) >= 64
    assert command_in_a_new_process(tmp_path, SECRET_KEY="b" * 50) not in (first, "b" * 50)
    settings.NOTIFY_SECRET = "the-receivers-own-key"
    assert printed_secret() == "the-receivers-own-key"


def test_a_notify_secret_equal_to_a_token_signing_key_stops_start_up(tmp_path):
    secret = "s" * 50
    for variables in (
        {"SECRET_KEY": secret, "NOTIFY_SECRET": secret},
        {"SECRET_KEY": secret, "JWT_SIGNING_KEY": "j" * 50, "NOTIFY_SECRET": "j" * 50},
    ):
        result = start(tmp_path, **variables)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and "NOTIFY_SECRET" in result.stderr
