"""Settings: Django's own in ``base``, one small file per integration."""

from .api import *  # noqa: F403
from .base import *  # noqa: F403
from .celery import *  # noqa: F403
from .channels import *  # noqa: F403
from .events import *  # noqa: F403
from .llm import *  # noqa: F403
