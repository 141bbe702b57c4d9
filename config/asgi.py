"""HTTP goes to Django; websockets go through the auth middleware to the consumers."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()

from assistant.asgi import with_assistant  # noqa: E402

application = with_assistant(application)
