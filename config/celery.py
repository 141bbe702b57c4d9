"""This site's Celery app: the assistant's (``assistant.celery``)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from assistant.celery import app  # noqa: E402

__all__ = ["app"]
