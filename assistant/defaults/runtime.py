"""Where the work runs (threads of the web process, or Celery with a broker), the cache,
HTTPS hardening and logging."""

import warnings

from . import env as cfg

DATA_DIR = cfg.DATA_DIR
# Addresses or networks of the reverse proxies in front of the site (accounts.clients).
TRUSTED_PROXIES = cfg.TRUSTED_PROXIES
TASKS_IN_PROCESS = cfg.TASKS_IN_PROCESS
# On the embedded default the web process also sweeps stuck work and fires schedules
# from background threads (assistant.dispatch.run_periodically).
BACKGROUND_LOOPS = True
REDIS_URL = cfg.REDIS_URL

if cfg.REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "assistant.caches.RedisCache",
            "LOCATION": cfg.REDIS_URL,
            "KEY_PREFIX": "assistant",
            # Worker threads wait for a free connection instead of failing.
            "OPTIONS": {"pool_class": "redis.BlockingConnectionPool", "max_connections": 50, "timeout": 10},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Serve static files straight from the apps' folders when collectstatic has not run (a
# first start, tests; WhiteNoise).
WHITENOISE_USE_FINDERS = True
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
