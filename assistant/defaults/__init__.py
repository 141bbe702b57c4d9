"""The assistant's settings, read from the environment (``env.py`` lists every variable),
with defaults that need no services: SQLite, the in-memory channel layer, answers on
threads of the web process, the offline demo model.

A site adds the assistant with two lines at the end of its ``settings.py``::

    from assistant.defaults import install
    install(globals())

``install`` adds the apps and middleware the assistant needs and every setting below
that the site has not set itself. This repository's own site (``config.settings``)
star-imports the same settings.
"""

from __future__ import annotations

from typing import Any

from django.utils.crypto import salted_hmac

from . import env
from .api import *  # noqa: F403
from .auth import *  # noqa: F403
from .celery import *  # noqa: F403
from .channels import *  # noqa: F403
from .database import databases
from .events import *  # noqa: F403
from .events import NOTIFY_SECRET_PURPOSE
from .llm import *  # noqa: F403
from .runtime import *  # noqa: F403

#: The apps the assistant brings, in order (a site's own apps go anywhere).
APPS = [
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
    "events",
    "agents",
    "dashboard",
]
#: Serves the chat page's scripts under any ASGI server, after SecurityMiddleware.
STATIC_MIDDLEWARE = "whitenoise.middleware.WhiteNoiseMiddleware"
#: Turns a locked-out login into the lockout page (accounts.lockout).
LOCKOUT_MIDDLEWARE = "axes.middleware.AxesMiddleware"
#: Last: runs the whole chain on one thread per request (assistant.middleware).
CHAIN_MIDDLEWARE = "assistant.middleware.SynchronousChain"


def install(site: dict[str, Any]) -> None:
    """Add the assistant to a settings module's ``globals()``: its apps, middleware and
    every one of its settings the module has not set."""
    site["INSTALLED_APPS"] = [*site["INSTALLED_APPS"], *(a for a in APPS if a not in site["INSTALLED_APPS"])]
    middleware = list(site.get("MIDDLEWARE", []))
    if STATIC_MIDDLEWARE not in middleware:
        security = "django.middleware.security.SecurityMiddleware"
        middleware.insert(middleware.index(security) + 1 if security in middleware else 0, STATIC_MIDDLEWARE)
    if LOCKOUT_MIDDLEWARE not in middleware:
        middleware.append(LOCKOUT_MIDDLEWARE)
    if CHAIN_MIDDLEWARE in middleware:
        middleware.remove(CHAIN_MIDDLEWARE)
    middleware.append(CHAIN_MIDDLEWARE)
    site["MIDDLEWARE"] = middleware
    site["DATABASES"] = {**site.get("DATABASES", {}), **databases(site.get("DATABASES", {}).get("default"))}
    wsgi = site.get("WSGI_APPLICATION", "")
    if wsgi.endswith(".wsgi.application"):
        site.setdefault("ASGI_APPLICATION", wsgi.replace(".wsgi.application", ".asgi.application"))
    own = {name: value for name, value in globals().items() if name.isupper() and name not in _NOT_SETTINGS}
    secret = site.get("SECRET_KEY") or env.SECRET_KEY
    if not env.JWT_SIGNING_KEY_SET:
        own["SIMPLE_JWT"] = {**own["SIMPLE_JWT"], "SIGNING_KEY": secret}
    if not env.NOTIFY_SECRET_SET:
        own["NOTIFY_SECRET"] = salted_hmac(
            NOTIFY_SECRET_PURPOSE, "NOTIFY_SECRET", secret=secret, algorithm="sha256"
        ).hexdigest()
    for name, value in own.items():
        site.setdefault(name, value)


_NOT_SETTINGS = {
    "APPS", "STATIC_MIDDLEWARE", "LOCKOUT_MIDDLEWARE", "CHAIN_MIDDLEWARE", "NOTIFY_SECRET_PURPOSE",
}  # fmt: skip
