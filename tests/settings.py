"""The project's settings plus the tests' own app, which plugs in a mode."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.plugin_app"]
