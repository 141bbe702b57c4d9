"""The environment parser, exercised the way a deployment meets it: in a new process."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

VARIABLES = (
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "JWT_SIGNING_KEY",
    "ALLOWED_HOSTS", "DEBUG", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL",
    "NOTIFY_URL", "LOG_LEVEL", "TRUSTED_PROXIES", "HTTPS", "HTTPS_BEHIND_PROXY", "HSTS_SECONDS",
    "HSTS_INCLUDE_SUBDOMAINS", "HSTS_PRELOAD", "CSRF_TRUSTED_ORIGINS", "LOGIN_FAILURE_LIMIT", "LOGIN_COOLOFF",
)  # fmt: skip

READ = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "engine": s.DATABASES["default"]["ENGINE"],
    "db_name": str(s.DATABASES["default"]["NAME"]),
    "layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": s.CACHES["default"]["BACKEND"],
    "broker": s.CELERY_BROKER_URL,
    "in_process": s.TASKS_IN_PROCESS,
    "debug": s.DEBUG,
    "hosts": s.ALLOWED_HOSTS,
    "jwt_key": s.SIMPLE_JWT["SIGNING_KEY"],
    "secret": s.SECRET_KEY,
    "model": s.OPENAI_MODEL,
    "base_url": s.OPENAI_BASE_URL,
    "notify": s.NOTIFY_URL,
    "trusted_proxies": s.TRUSTED_PROXIES,
    "trusted_origins": s.CSRF_TRUSTED_ORIGINS,
    "https": [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,
              s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD],
    "proxy_ssl_header": s.SECURE_PROXY_SSL_HEADER,
}))
"""


def start(tmp_path, env_file="", **variables):
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(ENV_FILE=env_file, DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", READ], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def settings_of(tmp_path, **variables) -> dict:
    result = start(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_no_variables_give_the_embedded_default(tmp_path):
    s = settings_of(tmp_path)
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["db_name"] == str(tmp_path / "db.sqlite3")
    assert s["layer"] == "channels.layers.InMemoryChannelLayer"
    assert s["cache"].endswith("LocMemCache")
    assert s["in_process"] is True
    assert s["broker"] == "memory://"
    assert s["debug"] is False
    assert s["jwt_key"] == s["secret"]
    assert s["trusted_proxies"] == []
    assert s["trusted_origins"] == []
    # plain http on 127.0.0.1: cookies must travel over http, nothing redirects
    assert s["https"] == [False, False, False, 0, False, False]
    assert s["proxy_ssl_header"] is None
    assert len(s["secret"]) >= 50
    assert settings_of(tmp_path)["secret"] == s["secret"], "the generated key is kept"


def test_database_and_redis_urls_give_the_production_services(tmp_path):
    s = settings_of(
        tmp_path,
        DATABASE_URL="postgres://app:pw@db.internal:5433/assistant",
        REDIS_URL="redis://cache.internal:6379/2",
    )
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["db_name"] == "assistant"
    assert s["layer"] == "channels_redis.core.RedisChannelLayer"
    assert s["cache"] == "assistant.caches.RedisCache"
    assert s["broker"] == "redis://cache.internal:6379/2"
    assert s["in_process"] is False


def test_a_broker_of_its_own_wins_over_redis(tmp_path):
    s = settings_of(tmp_path, REDIS_URL="redis://r:6379/0", CELERY_BROKER_URL="amqp://guest:guest@mq:5672//")
    assert s["broker"] == "amqp://guest:guest@mq:5672//"


def test_every_other_variable_is_read(tmp_path):
    s = settings_of(
        tmp_path,
        SECRET_KEY="s" * 50,
        JWT_SIGNING_KEY="j" * 40,
        ALLOWED_HOSTS="example.org,.example.net",
        DEBUG="true",
        OPENAI_MODEL="llama3.1",
        OPENAI_BASE_URL="http://localhost:11434/v1",
        NOTIFY_URL="https://hooks.example.org/notify",
        TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.1,2001:db8::/32",
        CSRF_TRUSTED_ORIGINS="https://app.example.org, https://*.example.net",
    )
    assert s["secret"] == "s" * 50
    assert s["jwt_key"] == "j" * 40
    assert s["hosts"] == ["example.org", ".example.net"]
    assert s["debug"] is True
    assert (s["model"], s["base_url"]) == ("llama3.1", "http://localhost:11434/v1")
    assert s["notify"] == "https://hooks.example.org/notify"
    assert s["trusted_proxies"] == ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]
    assert s["trusted_origins"] == ["https://app.example.org", "https://*.example.net"]


def test_https_switches_on_secure_cookies_the_redirect_and_hsts(tmp_path):
    s = settings_of(tmp_path, HTTPS="true")
    assert s["https"] == [True, True, True, 31536000, True, False]
    assert s["proxy_ssl_header"] is None
    s = settings_of(tmp_path, HTTPS_BEHIND_PROXY="true", HSTS_SECONDS="600", HSTS_PRELOAD="true")
    assert s["https"] == [True, True, True, 600, True, True]
    assert s["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_an_env_file_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / "custom.env"
    env_file.write_text("OPENAI_MODEL=from-file\nNOTIFY_URL=http://file.example/notify\n")
    s = settings_of(tmp_path, env_file=str(env_file), NOTIFY_URL="http://env.example/notify")
    assert s["model"] == "from-file"
    assert s["notify"] == "http://env.example/notify"


@pytest.mark.parametrize(
    "name, value",
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://u@h/db"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://localhost:6379"),
        ("REDIS_URL", "localhost:6379"),
        ("CELERY_BROKER_URL", "kafka://x"),
        ("OPENAI_BASE_URL", "localhost:11434"),
        ("OPENAI_BASE_URL", "ftp://models.example"),
        ("NOTIFY_URL", "not-a-url"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_an_unusable_value_stops_start_up_naming_the_variable(tmp_path, name, value):
    result = start(tmp_path, **{name: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert f"{name}:" in last_line


def test_every_unusable_value_is_named_at_once(tmp_path):
    result = start(tmp_path, DEBUG="maybe", REDIS_URL="nope", NOTIFY_URL="nope")
    last_line = result.stderr.strip().splitlines()[-1]
    for name in ("DEBUG:", "REDIS_URL:", "NOTIFY_URL:"):
        assert name in last_line


def test_numbers_out_of_range_and_the_proxy_and_https_variables_are_checked(tmp_path):
    bad = {
        "DATABASE_POOL_SIZE": "0", "AI_MAX_RETRIES": "-1", "AI_RETRY_BACKOFF": "0",
        "AI_USER_TOKEN_LIMIT": "0", "LOGIN_FAILURE_LIMIT": "0", "LOGIN_COOLOFF": "0",
        "HSTS_SECONDS": "-1", "HTTPS": "yes please", "TRUSTED_PROXIES": "10.0.0.1, *",
        "CSRF_TRUSTED_ORIGINS": "app.example.org",
    }  # fmt: skip
    result = start(tmp_path, **bad)
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    for name in bad:
        assert f"{name}:" in last_line


@pytest.mark.parametrize("value", ["*", "proxy.internal", "10.0.0.1/8", "10.0.0.0/33", ""])
def test_trusted_proxies_are_addresses_or_networks_only(value):
    from marshmallow import ValidationError

    from assistant.defaults.env import _networks

    with pytest.raises(ValidationError):
        _networks([value])
    _networks(["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"])
