"""The project's settings plus the tests' own app, which plugs in a mode."""

import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.plugin_app"]

# The test process imports config.asgi but must not sweep or fire schedules behind the
# tests' backs; the servers the tests start do (``process_env`` sets the variable).
BACKGROUND_LOOPS = os.environ.get("TEST_BACKGROUND_LOOPS") == "1"
