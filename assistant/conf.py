"""The assistant's settings: ``settings.ASSISTANT`` over these defaults.

Read lazily and re-read when a test overrides ``ASSISTANT`` (as DRF's ``api_settings``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Transient model failures (timeouts, connection errors, 429, 5xx) are retried this
    # many times, after BACKOFF * 2**retry seconds (capped at BACKOFF_MAX), with jitter.
    "MAX_RETRIES": 3,
    "BACKOFF": 2.0,
    "BACKOFF_MAX": 60.0,
    # Deliveries of one message (retries and redeliveries after a worker died) before
    # it is failed as interrupted.
    "MAX_ATTEMPTS": 6,
    # A processing message whose worker has not touched it for this long is stuck.
    "STUCK_AFTER": 120.0,
    # A pending message nobody picked up for this long is requeued.
    "PENDING_AFTER": 300.0,
    # Seconds between the worker's heartbeats while a reply streams.
    "HEARTBEAT_INTERVAL": 5.0,
    # Seconds between checks for a cancel while a reply streams.
    "CANCEL_CHECK_INTERVAL": 0.2,
    # Seconds between saves of the answer streamed so far (the question's ``partial``).
    "PARTIAL_SAVE_INTERVAL": 1.0,
    # Whether modes' tools are offered to the model, and how many rounds of tool calls
    # one answer may take before the model is asked to answer without them.
    "TOOLS_ENABLED": True,
    "MAX_TOOL_ROUNDS": 5,
    # Seconds between sweeps for stuck messages (Celery beat, or the web process).
    "SWEEP_INTERVAL": 60.0,
    # Token quotas per period ("day" or "month"); None means unlimited.
    "USER_TOKEN_LIMIT": None,
    "PROJECT_TOKEN_LIMIT": None,
    "USAGE_PERIOD": "month",
    # Threads of the web process that run AI work on the embedded default.
    "IN_PROCESS_WORKERS": 32,
    # What `manage.py cleanup` keeps, in days.
    "RETENTION_DAYS": 90,
}


class AssistantSettings:
    def __init__(self) -> None:
        self._cached: dict[str, Any] | None = None

    @property
    def _values(self) -> dict[str, Any]:
        if self._cached is None:
            user = getattr(settings, "ASSISTANT", {})
            unknown = set(user) - set(DEFAULTS)
            if unknown:
                raise AttributeError(f"Unknown ASSISTANT settings: {', '.join(sorted(unknown))}")
            self._cached = {**DEFAULTS, **user}
        return self._cached

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"No ASSISTANT setting {name!r}") from None

    def reload(self) -> None:
        self._cached = None


assistant_settings = AssistantSettings()


def _reload(*, setting, **kwargs) -> None:
    if setting == "ASSISTANT":
        assistant_settings.reload()


setting_changed.connect(_reload)
