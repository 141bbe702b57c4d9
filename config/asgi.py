"""HTTP goes to Django; websockets go through the auth middleware to the consumers."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.websocket import WebsocketAuthMiddlewareStack  # noqa: E402
from assistant.dispatch import start_in_process_sweeper  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from events.background import start_in_process_scheduler  # noqa: E402

# On the embedded default the web process also rescues stuck messages, fires
# schedules and sweeps forgotten events (Celery beat does it otherwise).
start_in_process_sweeper()
start_in_process_scheduler()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebsocketAuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
