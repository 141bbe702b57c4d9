"""Every change to assistant state goes through these functions."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from . import llm

#: Seconds a probe of the model endpoint is trusted before the next one.
ENDPOINT_PROBE_TTL = 30


def assistant_enabled() -> bool:
    """The assistant is usable when a model endpoint and its key are configured."""
    return bool(settings.OPENAI_API_KEY)


def assistant_endpoint_available() -> bool:
    """Whether the configured endpoint answers, probed at most every 30 seconds."""
    if not assistant_enabled():
        return False
    key = "assistant:endpoint-available"
    available = cache.get(key)
    if available is None:
        available = llm.endpoint_answers()
        cache.set(key, available, ENDPOINT_PROBE_TTL)
    return available
