"""The path of one user message through the model, shared by Celery and the
embedded thread pool, and the sweeper that rescues messages whose worker died."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import llm, realtime, services
from .conf import assistant_settings
from .dispatch import backoff, enqueue_message
from .exceptions import INTERRUPTED_TEXT, USAGE_LIMIT_TEXT
from .models import ChatMessage, ChatSession
from .serializers import message_data

logger = logging.getLogger(__name__)
Status = ChatMessage.Status
Role = ChatMessage.Role
EMPTY_ANSWER_TEXT = "The assistant returned an empty answer. Please try again."
MODE_UNAVAILABLE_TEXT = "This assistant mode is not available any more."


@dataclass(frozen=True)
class Outcome:
    state: str  # skipped, success, error, cancelled, retry
    retry_in: float | None = None


def message_claim(*, message_id) -> ChatMessage | None:
    """Take the message for processing (pending -> processing) atomically, or take
    over one whose worker stopped beating. None when another worker has it or it is
    no longer waiting: a duplicate delivery does nothing."""
    now = timezone.now()
    stale = now - timedelta(seconds=assistant_settings.STUCK_AFTER)
    claimed = (
        ChatMessage.objects.filter(pk=message_id, role=Role.USER)
        .filter(Q(status=Status.PENDING) | Q(status=Status.PROCESSING, heartbeat_at__lt=stale))
        .update(
            status=Status.PROCESSING,
            processing_started_at=now,
            processing_completed_at=None,
            heartbeat_at=now,
            partial="",
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    if not claimed:
        return None
    return ChatMessage.objects.select_related(
        "user", "session", "session__user", "session__job__workflow__project", "session__project",
        "session__workflow",
    ).get(pk=message_id)  # fmt: skip


def _publish_status(message: ChatMessage, status: str, error: str = "") -> None:
    realtime.publish(
        message.session_id, "message.status", message_id=str(message.pk), status=status, error=error
    )


def message_fail(*, message: ChatMessage, error: str, from_status: str = Status.PROCESSING) -> bool:
    """Mark the message failed with a readable ``error`` unless it moved on meanwhile."""
    failed = ChatMessage.objects.filter(pk=message.pk, status=from_status).update(
        status=Status.ERROR, error=error, processing_completed_at=timezone.now(), updated_at=timezone.now()
    )
    if failed:
        _publish_status(message, Status.ERROR, error)
        realtime.publish(message.session_id, "message.error", message_id=str(message.pk), error=error)
    return bool(failed)


class _Watcher:
    """``should_stop`` for the stream: true once the message was cancelled. Checks the
    cancel flag every CANCEL_CHECK_INTERVAL, beats every HEARTBEAT_INTERVAL, and saves
    the answer streamed so far (``add``) as the message's ``partial`` every
    PARTIAL_SAVE_INTERVAL when it grew. Each save is one conditional UPDATE, which is
    also a beat; the connection is given back after it."""

    def __init__(self, message_id) -> None:
        now = time.monotonic()
        self.message_id = message_id
        self.next_check = 0.0
        self.next_beat = now + assistant_settings.HEARTBEAT_INTERVAL
        self.next_save = now + assistant_settings.PARTIAL_SAVE_INTERVAL
        self._parts: list[str] = []
        self._length = 0
        self._saved_length = 0

    def add(self, delta: str) -> None:
        """Note a streamed piece of the answer."""
        self._parts.append(delta)
        self._length += len(delta)

    def _partial(self) -> str:
        text = "".join(self._parts)
        self._parts = [text]
        return text[: services.ASSISTANT_MAX_LENGTH]

    def __call__(self) -> bool:
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + assistant_settings.CANCEL_CHECK_INTERVAL
            if cache.get(services.cancel_key(self.message_id)):
                return True
        changes: dict = {}
        if now >= self.next_save:
            self.next_save = now + assistant_settings.PARTIAL_SAVE_INTERVAL
            length = min(self._length, services.ASSISTANT_MAX_LENGTH)
            if length != self._saved_length:
                changes["partial"] = self._partial()
                self._saved_length = length
        if changes or now >= self.next_beat:
            self.next_beat = now + assistant_settings.HEARTBEAT_INTERVAL
            changes["heartbeat_at"] = timezone.now()
            alive = ChatMessage.objects.filter(pk=self.message_id, status=Status.PROCESSING).update(**changes)
            services.db_connection_release()
            if not alive:
                return True
        return False


def _mode(session: ChatSession):
    from modes.registry import NotRegistered, site

    try:
        return site.get(session.mode)
    except NotRegistered:
        return None


@functools.cache
def _query_takes_on_tool(mode_class: type) -> bool:
    """Whether a mode's ``query`` accepts ``on_tool``: modes written before tools
    take only ``on_delta`` and ``should_stop``, and keep working."""
    parameters = inspect.signature(mode_class.query).parameters.values()
    return any(p.name == "on_tool" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def message_process(*, message_id, retries_done: int = 0) -> Outcome:
    """Process one user message: claim it, stream the model's answer as ``token``
    events, and save the reply; or schedule a retry, or fail it with a readable error."""
    message = message_claim(message_id=message_id)
    if message is None:
        return Outcome("skipped")
    session = message.session
    if message.attempts > assistant_settings.MAX_ATTEMPTS:
        message_fail(message=message, error=INTERRUPTED_TEXT)
        return Outcome("error")
    _publish_status(message, Status.PROCESSING)
    if services.usage_limit_reached(user=message.user, project=services._project_of(session)):
        message_fail(message=message, error=USAGE_LIMIT_TEXT)
        return Outcome("error")

    message_id = str(message.pk)
    watcher = _Watcher(message.pk)

    def on_delta(delta: str) -> None:
        watcher.add(delta)
        realtime.publish(session.pk, "token", message_id=message_id, delta=delta)

    def on_tool(event_type: str, data: dict[str, Any]) -> None:
        realtime.publish(session.pk, event_type, message_id=message_id, **data)

    mode = _mode(session)
    if mode is None:
        message_fail(message=message, error=MODE_UNAVAILABLE_TEXT)
        return Outcome("error")
    extra_arguments = {"on_tool": on_tool} if _query_takes_on_tool(type(mode)) else {}
    try:
        result = mode.query(
            session=session, message=message, on_delta=on_delta, should_stop=watcher, **extra_arguments
        )
    except llm.Cancelled:
        return Outcome("cancelled")
    except llm.LLMError as exc:
        if exc.transient and retries_done < assistant_settings.MAX_RETRIES:
            return _retry_later(message, exc, retries_done)
        message_fail(message=message, error=exc.message)
        return Outcome("error")
    if not result.content.strip():
        message_fail(message=message, error=EMPTY_ANSWER_TEXT)
        return Outcome("error")
    extra = mode.handle_response_generated(session=session, message=message, result=result)
    return _complete(message, result, code=extra.get("code"), meta=extra.get("meta"))


def _retry_later(message: ChatMessage, exc: llm.LLMError, retries_done: int) -> Outcome:
    requeued = ChatMessage.objects.filter(pk=message.pk, status=Status.PROCESSING).update(
        status=Status.PENDING, heartbeat_at=None, updated_at=timezone.now()
    )
    if not requeued:
        return Outcome("cancelled")
    delay = backoff(retries_done)
    logger.info("Message %s: %s; retrying in %.1fs", message.pk, exc.message, delay)
    _publish_status(message, Status.PENDING)
    return Outcome("retry", retry_in=delay)


def _complete(message: ChatMessage, result: llm.ChatResult, *, code=None, meta=None) -> Outcome:
    """Save the reply, mark the question answered and count the usage, in one
    transaction; a message cancelled meanwhile gets no reply."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            ChatMessage.objects.select_for_update()
            .filter(pk=message.pk, status=Status.PROCESSING)
            .only("id")
            .first()
        )
        if locked is None:
            return Outcome("cancelled")
        reply = services.message_save(
            session=message.session,
            role=Role.ASSISTANT,
            content=result.content,
            usage=result.usage,
            model=result.model,
            reply_to=message,
            code=code,
            message_meta={
                **(meta or {}),
                "finish_reason": result.finish_reason,
                **({"tools": result.tool_runs} if result.tool_runs else {}),
            },
            announce=False,
        )
        ChatMessage.objects.filter(pk=message.pk).update(
            status=Status.SUCCESS, error="", partial="", processing_completed_at=now, updated_at=now
        )
        data = message_data(reply)
        transaction.on_commit(
            lambda: realtime.publish(
                message.session_id, "message.completed", message=data, reply_to=str(message.pk)
            )
        )
        transaction.on_commit(lambda: _publish_status(message, Status.SUCCESS))
    return Outcome("success")


# --- The sweeper ------------------------------------------------------------------


@dataclass(frozen=True)
class SweepAction:
    message_id: str
    session_id: str
    found: str  # "stuck" (processing, worker silent) or "pending" (never picked up)
    action: str  # "requeued" or "failed"


def message_sweep(
    *, stuck_after: float | None = None, pending_after: float | None = None, dry_run: bool = False
) -> list[SweepAction]:
    """Requeue messages stuck in processing (their worker stopped beating) and pending
    ones nobody picked up; fail those whose attempts ran out."""
    now = timezone.now()
    stuck_before = now - timedelta(
        seconds=assistant_settings.STUCK_AFTER if stuck_after is None else stuck_after
    )
    pending_before = now - timedelta(
        seconds=assistant_settings.PENDING_AFTER if pending_after is None else pending_after
    )
    candidates = (
        ChatMessage.objects.filter(role=Role.USER)
        .annotate(last_beat=Coalesce("heartbeat_at", "processing_started_at", "updated_at"))
        .filter(
            Q(status=Status.PROCESSING, last_beat__lt=stuck_before)
            | Q(status=Status.PENDING, updated_at__lt=pending_before)
        )
        .only("id", "session_id", "status", "attempts")
        .order_by("created_at")
    )
    actions = []
    for message in candidates:
        found = "stuck" if message.status == Status.PROCESSING else "pending"
        exhausted = message.attempts >= assistant_settings.MAX_ATTEMPTS
        action = "failed" if exhausted else "requeued"
        actions.append(SweepAction(str(message.pk), str(message.session_id), found, action))
        if dry_run:
            continue
        if exhausted:
            message_fail(message=message, error=INTERRUPTED_TEXT, from_status=message.status)
            continue
        moved = ChatMessage.objects.filter(pk=message.pk, status=message.status).update(
            status=Status.PENDING, heartbeat_at=None, updated_at=now
        )
        if moved:
            if found == "stuck":
                _publish_status(message, Status.PENDING)
            enqueue_message(message.pk)
    return actions
