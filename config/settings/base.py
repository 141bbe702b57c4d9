"""Django's own settings. Values come from ``config.settings.env``."""

import warnings
from datetime import timedelta

from . import env as cfg

BASE_DIR = cfg.BASE_DIR
DATA_DIR = cfg.DATA_DIR
DEBUG = cfg.DEBUG
SECRET_KEY = cfg.SECRET_KEY
ALLOWED_HOSTS = cfg.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = cfg.CSRF_TRUSTED_ORIGINS
# Addresses or networks of the reverse proxies in front of the site (accounts.clients).
TRUSTED_PROXIES = cfg.TRUSTED_PROXIES
TASKS_IN_PROCESS = cfg.TASKS_IN_PROCESS
# On the embedded default the web process also sweeps stuck work and fires schedules
# from background threads (assistant.dispatch.run_periodically).
BACKGROUND_LOOPS = True
REDIS_URL = cfg.REDIS_URL

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "accounts",
    "assistant",
    "modes",
    "projects",
    "events",
    "agents",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out login into the lockout page (accounts.lockout).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if cfg.DATABASE:
    DATABASES = {"default": cfg.DATABASE}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the web process's worker threads write
    # while pages read, instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory, so that the processes an end-to-end test starts share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    # A pool per process: a worker streams many answers on threads, each borrowing a
    # connection only while it reads or writes, so PostgreSQL sees a bounded number.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": cfg.DATABASE_POOL_SIZE,
        "timeout": 30,
    }
    # The pool checks a connection when it is borrowed: one the server dropped while it
    # sat there (a restart, a failover, pg_terminate_backend) is replaced instead of
    # failing the query that borrowed it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes refuses logins from a client address after LOGIN_FAILURE_LIMIT failures,
# for LOGIN_COOLOFF minutes: the login page, the admin's and /api/token alike.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = cfg.LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=cfg.LOGIN_COOLOFF)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "accounts.clients.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# A success does not wipe the failures (else one valid account would reset the count),
# and successes are not logged (the table would grow with every API login).
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

if cfg.REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": cfg.REDIS_URL,
            "KEY_PREFIX": "assistant",
            # Worker threads wait for a free connection instead of failing.
            "OPTIONS": {"pool_class": "redis.BlockingConnectionPool", "max_connections": 50, "timeout": 10},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' folders when collectstatic has not run (tests, a
# first start); `make run` collects them.
WHITENOISE_USE_FINDERS = True
(DATA_DIR / "static").mkdir(parents=True, exist_ok=True)
# WhiteNoise streams files with a sync iterator, which Django's ASGI handler warns
# about on every static response; the files are small and served correctly.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous")

# HTTPS hardening is switched on by the environment: the embedded default serves plain
# http on 127.0.0.1, where secure-only cookies would make logging in impossible. The
# README ("Settings") lists the `check --deploy` warnings that remain without HTTPS.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = cfg.HTTPS
SECURE_HSTS_SECONDS = cfg.HSTS_SECONDS if cfg.HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = cfg.HTTPS and cfg.HSTS_INCLUDE_SUBDOMAINS
SECURE_HSTS_PRELOAD = cfg.HTTPS and cfg.HSTS_PRELOAD
# A load balancer's plain-http health check is answered, not redirected.
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
# Only when told that a TLS-terminating proxy sets (and overwrites) X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if cfg.HTTPS_BEHIND_PROXY else None
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": cfg.LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The SDK's HTTP client logs every request at INFO.
        "httpx2": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # django-axes announces itself at INFO in every process and command.
        "axes": {"level": "WARNING"},
    },
}
