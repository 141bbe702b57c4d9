"""Every environment variable the assistant reads, parsed and validated in one place.

The process reads the environment (and an optional env file) once, here. A value
that can't be used stops start-up with an error that names the variable. With no
variable set, the embedded default applies: SQLite, the in-memory channel layer and
AI work on background threads of the web process.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from environs import Env, EnvValidationError
from marshmallow.validate import URL, OneOf, Range, ValidationError

#: The site's folder: ``ASSISTANT_BASE_DIR`` (this repository's settings set it to the
#: repository), else the folder the process runs in (where ``manage.py`` is).
BASE_DIR = Path(os.environ.get("ASSISTANT_BASE_DIR") or Path.cwd()).resolve()

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


def _networks(values) -> None:
    for value in values or ():
        try:
            ipaddress.ip_network(value)
        except ValueError:
            raise ValidationError(f"{value!r} is not an IP address or network (CIDR).") from None


def _origins(values) -> None:
    for value in values or ():
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValidationError(f"{value!r} is not an origin like https://app.example.com.")


def _model_url(value) -> None:
    if value != DEMO_MODEL:
        _http_url(value)


DATA_DIR = env.path("DATA_DIR", BASE_DIR / ".data")
DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", None)
JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", None)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
#: The site is served over HTTPS only: secure cookies, a redirect from http, HSTS.
#: HTTPS_BEHIND_PROXY: a proxy in front ends TLS and sets X-Forwarded-Proto (implies HTTPS).
HTTPS_BEHIND_PROXY = env.bool("HTTPS_BEHIND_PROXY", False)
HTTPS = env.bool("HTTPS", False)
HSTS_SECONDS = env.int("HSTS_SECONDS", 365 * 24 * 3600, validate=Range(min=0))
HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", True)
HSTS_PRELOAD = env.bool("HSTS_PRELOAD", False)
#: Origins (scheme://host[:port]) besides the site's own that may post forms and open
#: websockets with the session cookie.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [], subcast=str.strip, validate=_origins)
#: Proxies whose X-Forwarded-For (and X-Forwarded-Proto) headers are believed.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", [], subcast=str.strip, validate=_networks)
DATABASE_URL = env.str("DATABASE_URL", None, validate=_database_url)
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", 20, validate=Range(min=1))
REDIS_URL = env.str("REDIS_URL", None, validate=_scheme("redis", "rediss", "unix"))
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", None, validate=_scheme("redis", "rediss", "amqp", "amqps", "sqs")
)
OPENAI_API_KEY = env.str("OPENAI_API_KEY", None)
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", None, validate=_model_url)
OPENAI_MODEL = env.str("OPENAI_MODEL", None)
OPENAI_EMBEDDING_MODEL = env.str("OPENAI_EMBEDDING_MODEL", None)
NOTIFY_URL = env.str("NOTIFY_URL", None, validate=_http_url)
NOTIFY_SECRET = env.str("NOTIFY_SECRET", None)
EVENT_QUEUES = env.dict("EVENT_QUEUES", {})
#: The run_command agent's allowlist, as JSON: {"name": {"argv": [...], "args": false, "timeout": 60}}.
AGENT_COMMANDS = env.json("AGENT_COMMANDS", {})
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", 100, validate=Range(min=1))
AI_USER_TOKEN_LIMIT = env.int("AI_USER_TOKEN_LIMIT", None, validate=Range(min=1))
AI_PROJECT_TOKEN_LIMIT = env.int("AI_PROJECT_TOKEN_LIMIT", None, validate=Range(min=1))
AI_MAX_RETRIES = env.int("AI_MAX_RETRIES", 3, validate=Range(min=0))
AI_MAX_ATTEMPTS = env.int("AI_MAX_ATTEMPTS", 6, validate=Range(min=1))
AI_RETRY_BACKOFF = env.float("AI_RETRY_BACKOFF", 2.0, validate=Range(min=0, min_inclusive=False))
AI_STUCK_AFTER = env.float("AI_STUCK_AFTER", 10.0, validate=Range(min=0, min_inclusive=False))
AI_HEARTBEAT_INTERVAL = env.float("AI_HEARTBEAT_INTERVAL", 2.0, validate=Range(min=0, min_inclusive=False))
AI_PENDING_AFTER = env.float("AI_PENDING_AFTER", 20.0, validate=Range(min=0, min_inclusive=False))
AI_SWEEP_INTERVAL = env.float("AI_SWEEP_INTERVAL", 5.0, validate=Range(min=0, min_inclusive=False))
AI_USAGE_PERIOD = env.str("AI_USAGE_PERIOD", "month", validate=OneOf(["day", "month"]))
AI_MAX_IN_FLIGHT_PER_USER = env.int("AI_MAX_IN_FLIGHT_PER_USER", 5, validate=Range(min=1))
AI_MAX_IN_FLIGHT_PER_SESSION = env.int("AI_MAX_IN_FLIGHT_PER_SESSION", 1, validate=Range(min=1))
AI_REQUIRE_DISCLAIMER = env.bool("AI_REQUIRE_DISCLAIMER", True)
#: Titles written by the model after the first answer; unset: on with a real model.
AI_MODEL_TITLES = env.bool("AI_MODEL_TITLES", None)
#: The models users may pick, as JSON: [{"id": "gpt-4o-mini", "label": "GPT-4o mini"}, ...].
AI_MODELS = env.json("AI_MODELS", [])
#: The size of the embeddings asked for (0: the embedding model's own).
AI_EMBEDDING_DIMENSIONS = env.int("AI_EMBEDDING_DIMENSIONS", 384, validate=Range(min=0, max=16000)) or None
#: Whether conversation messages are embedded for semantic search.
AI_EMBED_MESSAGES = env.bool("AI_EMBED_MESSAGES", True)
#: Failed logins from one client address before it is locked out, and for how long.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 10, validate=Range(min=1))
LOGIN_COOLOFF = env.int("LOGIN_COOLOFF", 15, validate=Range(min=1))
LOG_LEVEL = env.str("LOG_LEVEL", "INFO", validate=OneOf(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]))

try:
    env.seal()
except EnvValidationError as exc:
    problems = "; ".join(
        f"{name}: {' '.join(map(str, messages))}" for name, messages in exc.error_messages.items()
    )
    raise ImproperlyConfigured(f"Invalid environment: {problems}") from None
if AI_STUCK_AFTER < 2 * AI_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured(
        "Invalid environment: AI_STUCK_AFTER: give at least twice AI_HEARTBEAT_INTERVAL "
        f"({AI_HEARTBEAT_INTERVAL:g} s), or live workers are taken for dead ones."
    )

DATABASE = dj_database_url.parse(DATABASE_URL) if DATABASE_URL else None

CELERY_BROKER_URL = CELERY_BROKER_URL or REDIS_URL
HTTPS = HTTPS or HTTPS_BEHIND_PROXY

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
#: Whether the environment chose these keys (else they are derived from SECRET_KEY).
JWT_SIGNING_KEY_SET = JWT_SIGNING_KEY is not None
NOTIFY_SECRET_SET = NOTIFY_SECRET is not None
JWT_SIGNING_KEY = JWT_SIGNING_KEY or SECRET_KEY
