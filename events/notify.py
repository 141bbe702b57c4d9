"""POSTing events to ``NOTIFY_URL``, signed so that the receiver can trust them.

The body is the event's JSON; ``X-Signature: sha256=<hex>`` is the HMAC-SHA256 of
the exact body bytes with ``settings.NOTIFY_SECRET`` (by default a key derived from
``SECRET_KEY`` for this purpose only; ``manage.py notify_secret`` prints it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings

from .conf import events_settings
from .exceptions import EventHandlerError, TransientEventError

SIGNATURE_HEADER = "X-Signature"


def notify_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def notify_signature(body: bytes, *, secret: str | None = None) -> str:
    key = (secret or settings.NOTIFY_SECRET).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def notify_post(*, url: str, payload: dict[str, Any]) -> None:
    """POST ``payload`` to ``url``. Timeouts, connection errors, 429 and 5xx raise
    ``TransientEventError`` (the router retries); other non-2xx answers raise
    ``EventHandlerError``."""
    import httpx

    body = notify_body(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: notify_signature(body),
        "X-Event-Id": str(payload.get("id", "")),
        "X-Event-Type": str(payload.get("type", "")),
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=events_settings.NOTIFY_TIMEOUT)
    except httpx.TimeoutException as exc:
        raise TransientEventError(f"NOTIFY_URL timed out: {exc}") from exc
    except httpx.HTTPError as exc:
        raise TransientEventError(f"NOTIFY_URL could not be reached: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientEventError(f"NOTIFY_URL answered {response.status_code}.")
    if response.status_code >= 300:
        raise EventHandlerError(f"NOTIFY_URL refused the event with {response.status_code}.")
