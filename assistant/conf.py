"""The assistant's settings: ``settings.ASSISTANT`` over these defaults.

Read lazily and re-read when a test overrides ``ASSISTANT`` (as DRF's ``api_settings``);
the events and agents apps read theirs the same way (``AppSettings``).
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
    # Seconds between the heartbeats of a worker process: one UPDATE for every message
    # it is answering, whether or not the model is sending anything.
    "HEARTBEAT_INTERVAL": 2.0,
    # A processing message whose worker has not beaten for this long is stuck (five
    # missed beats). Last beat + STUCK_AFTER + SWEEP_INTERVAL: a dead worker's
    # message is retaken within 15 s.
    "STUCK_AFTER": 10.0,
    # A pending message still waiting this long after its try was due (its task died
    # with a worker, or a delayed retry was lost) is requeued; a message that waits this
    # long in a busy queue gets a second delivery, which does nothing.
    "PENDING_AFTER": 20.0,
    # Seconds before a run whose database connection broke is tried again, and how many
    # times in a row; after that the sweeper takes over.
    "RECONNECT_DELAY": 1.0,
    "MAX_RECONNECTS": 10,
    # Seconds between checks for a cancel while a reply streams.
    "CANCEL_CHECK_INTERVAL": 0.2,
    # Seconds between saves of the answer streamed so far (the question's ``partial``).
    "PARTIAL_SAVE_INTERVAL": 1.0,
    # Model streams are read on one event loop per process (the async SDK client) while
    # the thread that runs the message waits; False reads each on its own thread.
    "STREAM_ON_LOOP": True,
    # Whether modes' tools are offered to the model, and how many rounds of tool calls
    # one answer may take before the model is asked to answer without them.
    "TOOLS_ENABLED": True,
    "MAX_TOOL_ROUNDS": 5,
    # Seconds a writing tool's call waits for the user's approval before it expires,
    # and how often the waiting answer looks for the decision.
    "APPROVAL_TIMEOUT": 600.0,
    # Titles written by the model after the first answer: None is on with a real model
    # and off with the demo model.
    "MODEL_TITLES": None,
    # The models users may pick, the default first: [{"id", "label", "reasoning"}]; empty:
    # OPENAI_MODEL alone.
    "MODELS": [],
    "APPROVAL_POLL_INTERVAL": 0.3,
    # Seconds a writing tool's call over MCP (with a key without write permission)
    # waits for the user's approval in the chat page.
    "MCP_APPROVAL_TIMEOUT": 120.0,
    # Seconds between sweeps for stuck messages (Celery beat, or the web process).
    "SWEEP_INTERVAL": 5.0,
    # Token quotas per period ("day" or "month") of a user and of a scope (the built-in
    # modes: a project); None means unlimited.
    "USER_TOKEN_LIMIT": None,
    "SCOPE_TOKEN_LIMIT": None,
    "USAGE_PERIOD": "month",
    # Threads of the web process that run AI work on the embedded default.
    "IN_PROCESS_WORKERS": 32,
    # What `manage.py cleanup` keeps, in days.
    "RETENTION_DAYS": 90,
    # Open websockets and event streams decide their access again at least this often
    # (seconds), besides at once when a session's visibility or its project's members change.
    "STREAM_RECHECK_INTERVAL": 60.0,
    # Answers in progress (questions pending or processing) one user may have, in all
    # and in one session; one more is refused with 429 until one finishes.
    "MAX_IN_FLIGHT_PER_USER": 5,
    "MAX_IN_FLIGHT_PER_SESSION": 1,
    # A session's meta and a message's options: at most this many bytes of JSON, nested
    # at most this deep.
    "MAX_META_BYTES": 16_384,
    "MAX_META_DEPTH": 8,
    # Asking needs the active disclaimer accepted in the last 24 hours (on the API and the
    # socket, not only on the page).
    "REQUIRE_DISCLAIMER": True,
    # How long an Idempotency-Key's answer is kept (seconds).
    "IDEMPOTENCY_TTL": 24 * 3600,
    # The embedding model (the endpoint's /v1/embeddings) and the size of its vectors,
    # sent as ``dimensions`` (None: the model's own size, not sent). None for the model:
    # "demo" with the demo model, "text-embedding-3-small" otherwise.
    "EMBEDDING_MODEL": None,
    "EMBEDDING_DIMENSIONS": 384,
    # Texts sent in one embeddings request.
    "EMBEDDING_BATCH": 64,
    # Whether conversation messages are embedded (after each answer, in the background).
    "EMBED_MESSAGES": True,
}


class AppSettings:
    """An app's settings: the Django setting ``setting`` (a dict) over ``defaults``,
    read as attributes (``assistant_settings.MAX_RETRIES``). Read on first use and again
    whenever a test overrides the setting; an unknown key is an error."""

    def __init__(self, setting: str, defaults: dict[str, Any]) -> None:
        self._setting, self._defaults = setting, defaults
        self._cached: dict[str, Any] | None = None
        setting_changed.connect(self._changed, weak=False)

    @property
    def _values(self) -> dict[str, Any]:
        if self._cached is None:
            user = getattr(settings, self._setting, {})
            unknown = set(user) - set(self._defaults)
            if unknown:
                raise AttributeError(f"Unknown {self._setting} settings: {', '.join(sorted(unknown))}")
            self._cached = {**self._defaults, **user}
        return self._cached

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"No {self._setting} setting {name!r}") from None

    def reload(self) -> None:
        self._cached = None

    def _changed(self, *, setting, **kwargs) -> None:
        if setting == self._setting:
            self.reload()


assistant_settings = AppSettings("ASSISTANT", DEFAULTS)
