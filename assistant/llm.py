"""The model client: the ``openai`` SDK pointed at the configured endpoint."""

from __future__ import annotations

import openai
from django.conf import settings


def client(*, read_timeout: float | None = None) -> openai.OpenAI:
    """An SDK client for ``OPENAI_BASE_URL`` (OpenAI's own API when unset)."""
    timeout = openai.Timeout(
        read_timeout or settings.OPENAI_READ_TIMEOUT, connect=settings.OPENAI_CONNECT_TIMEOUT
    )
    return openai.OpenAI(
        api_key=settings.OPENAI_API_KEY or "unset",
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=timeout,
        max_retries=0,
    )


def endpoint_answers(*, timeout: float = 3.0) -> bool:
    """True when the model server answers a request for its model list."""
    try:
        client(read_timeout=timeout).models.list()
    except openai.OpenAIError:
        return False
    return True
