"""The ASGI application of a site with the assistant: HTTP to the site's Django
application (but ``<prefix>mcp/``, the MCP server), websockets through the auth
middleware to the assistant's consumers under the prefix the site mounts
``assistant.urls`` at.

In the site's ``asgi.py``, after ``application = get_asgi_application()``::

    from assistant.asgi import with_assistant
    application = with_assistant(application, prefix="ai/")
"""

from __future__ import annotations

from typing import Any


def with_assistant(django_application: Any, *, prefix: str = "", websockets: list | None = None) -> Any:
    """``django_application`` with the assistant's websockets (and ``websockets``, more
    routes of the site's own) added. On the embedded default the web process also
    rescues stuck messages, fires schedules and sweeps forgotten events, which Celery
    beat does otherwise."""
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    from accounts.websocket import WebsocketAuthMiddlewareStack
    from events.background import start_in_process_scheduler

    from .mcp_server import routed
    from .processing import start_in_process_sweeper
    from .routing import websocket_urlpatterns

    start_in_process_sweeper()
    start_in_process_scheduler()
    prefix = prefix.strip("/")
    routes = [path(f"{prefix}/", URLRouter(websocket_urlpatterns))] if prefix else list(websocket_urlpatterns)
    return ProtocolTypeRouter(
        {
            "http": routed(django_application, prefix=prefix),
            "websocket": WebsocketAuthMiddlewareStack(URLRouter([*routes, *(websockets or [])])),
        }
    )
