"""The project's settings plus the tests' own app, which plugs in a mode."""

import os

# With pytest-xdist (`-n 2`) each worker process gets a Redis database of its own (15,
# then 14, ...), so that their Celery queues, channel layers and caches never mix;
# pytest-django gives each its own test database already.
# The servers and workers the tests start inherit the result (and the marker that keeps
# them from moving it again).
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if (
    _worker.startswith("gw")
    and os.environ.get("TEST_REDIS_DB_OF") != _worker
    and os.environ.get("REDIS_URL", "").rstrip("/").rpartition("/")[2].isdigit()
):
    _base, _, _db = os.environ["REDIS_URL"].rstrip("/").rpartition("/")
    os.environ["REDIS_URL"] = f"{_base}/{int(_db) - int(_worker[2:])}"
    os.environ["TEST_REDIS_DB_OF"] = _worker

from config.settings import *  # noqa: E402, F403
from config.settings import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "tests.plugin_app"]

# The test process imports config.asgi but must not sweep or fire schedules behind the
# tests' backs; the servers the tests start do (``process_env`` sets the variable).
BACKGROUND_LOOPS = os.environ.get("TEST_BACKGROUND_LOOPS") == "1"

# Asking needs the disclaimer accepted, and one user may have only a few answers in
# progress; most tests are about something else, so they start without those limits.
# The tests of the limits switch them on, and the browser tests' served products run
# with the defaults (set in their environment).
from config.settings import ASSISTANT  # noqa: E402

if "AI_REQUIRE_DISCLAIMER" not in os.environ:
    ASSISTANT = {**ASSISTANT, "REQUIRE_DISCLAIMER": False}
if "AI_MODEL_TITLES" not in os.environ:
    # Scripted model servers answer what each test asks; a title request would take a reply.
    ASSISTANT = {**ASSISTANT, "MODEL_TITLES": False}
if "AI_MAX_IN_FLIGHT_PER_USER" not in os.environ:
    ASSISTANT = {**ASSISTANT, "MAX_IN_FLIGHT_PER_USER": 10_000, "MAX_IN_FLIGHT_PER_SESSION": 10_000}

# Production's PBKDF2 spends ~0.4 s of CPU on each password it hashes or checks (a
# login, and for an unknown user too); the tests create and log in hundreds of users,
# and the servers they start inherit these settings. What the tests check of passwords
# (hashed, checked, refused) holds for any hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
