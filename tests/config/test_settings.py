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
    "NOTIFY_URL", "LOG_LEVEL",
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
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"
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
    )
    assert s["secret"] == "s" * 50
    assert s["jwt_key"] == "j" * 40
    assert s["hosts"] == ["example.org", ".example.net"]
    assert s["debug"] is True
    assert (s["model"], s["base_url"]) == ("llama3.1", "http://localhost:11434/v1")
    assert s["notify"] == "https://hooks.example.org/notify"


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
