"""Every environment variable the project reads, parsed and validated in one place.

The process reads the environment (and an optional env file) once, here. A value
that can't be used stops start-up with an error that names the variable. With no
variable set, the embedded default applies: SQLite, the in-memory channel layer and
AI work on background threads of the web process.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from environs import Env, EnvValidationError
from marshmallow.validate import URL, OneOf, ValidationError

BASE_DIR = Path(__file__).resolve().parent.parent.parent

#: ``ENV_FILE`` names the env file to read (``.env`` by default; empty reads none).
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))

env = Env(eager=False, expand_vars=True)
if ENV_FILE:
    env.read_env(ENV_FILE, recurse=False, override=False)


#: OPENAI_BASE_URL value for the built-in offline demo model.
DEMO_MODEL = "demo"
DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


def _scheme(*schemes: str):
    def validate(value) -> None:
        if value is None:
            return
        text = value.geturl() if hasattr(value, "geturl") else str(value)
        scheme = urlsplit(text).scheme
        if scheme not in schemes:
            raise ValidationError(f"The scheme must be one of {', '.join(schemes)}; got {scheme!r}.")

    return validate


def _database_url(value) -> None:
    if value is None:
        return
    scheme = urlsplit(value).scheme
    if scheme not in DATABASE_SCHEMES:
        raise ValidationError(f"Use a postgres:// or sqlite:// URL; got scheme {scheme!r}.")
    try:
        dj_database_url.parse(value)
    except ValueError as exc:
        raise ValidationError(f"Not a valid database URL: {exc}") from None


def _http_url(value) -> None:
    if value is not None:
        URL(schemes={"http", "https"}, require_tld=False)(value)


def _model_url(value) -> None:
    if value != DEMO_MODEL:
        _http_url(value)


DATA_DIR = env.path("DATA_DIR", BASE_DIR / ".data")
DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", None)
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", None)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
DATABASE_URL = env.str("DATABASE_URL", None, validate=_database_url)
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", 20, validate=lambda n: n > 0)
REDIS_URL = env.str("REDIS_URL", None, validate=_scheme("redis", "rediss", "unix"))
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", None, validate=_scheme("redis", "rediss", "amqp", "amqps", "sqs")
)
OPENAI_API_KEY = env.str("OPENAI_API_KEY", None)
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", None, validate=_model_url)
OPENAI_MODEL = env.str("OPENAI_MODEL", None)
NOTIFY_URL = env.str("NOTIFY_URL", None, validate=_http_url)
NOTIFY_SECRET = env.str("NOTIFY_SECRET", None)
EVENT_QUEUES = env.dict("EVENT_QUEUES", {})
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", 100, validate=lambda n: n > 0)
AI_USER_TOKEN_LIMIT = env.int("AI_USER_TOKEN_LIMIT", None, validate=lambda n: n is None or n > 0)
AI_PROJECT_TOKEN_LIMIT = env.int("AI_PROJECT_TOKEN_LIMIT", None, validate=lambda n: n is None or n > 0)
AI_MAX_RETRIES = env.int("AI_MAX_RETRIES", 3, validate=lambda n: n >= 0)
AI_RETRY_BACKOFF = env.float("AI_RETRY_BACKOFF", 2.0, validate=lambda n: n > 0)
AI_STUCK_AFTER = env.float("AI_STUCK_AFTER", 120.0, validate=lambda n: n > 0)
AI_USAGE_PERIOD = env.str("AI_USAGE_PERIOD", "month", validate=OneOf(["day", "month"]))
LOG_LEVEL = env.str("LOG_LEVEL", "INFO", validate=OneOf(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]))

try:
    env.seal()
except EnvValidationError as exc:
    problems = "; ".join(
        f"{name}: {' '.join(map(str, messages))}" for name, messages in exc.error_messages.items()
    )
    raise ImproperlyConfigured(f"Invalid environment: {problems}") from None

DATABASE = dj_database_url.parse(DATABASE_URL) if DATABASE_URL else None

CELERY_BROKER_URL = CELERY_BROKER_URL or REDIS_URL

#: With no broker, AI work and schedules run on background threads of the web
#: process (the embedded default); with one, on Celery workers and beat.
TASKS_IN_PROCESS = CELERY_BROKER_URL is None


Path(DATA_DIR).mkdir(parents=True, exist_ok=True)


def _local_secret(name: str) -> str:
    """A random key kept in DATA_DIR, for a project started without SECRET_KEY."""
    path = Path(DATA_DIR) / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = SECRET_KEY or _local_secret("secret_key")
# With no model endpoint and no key, the offline demo model answers.
OPENAI_BASE_URL = OPENAI_BASE_URL or (None if OPENAI_API_KEY else DEMO_MODEL)
JWT_SIGNING_KEY = JWT_SIGNING_KEY or SECRET_KEY
