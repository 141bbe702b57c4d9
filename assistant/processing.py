"""The path of one user message through the model, shared by Celery and the
embedded thread pool, and the sweeper that rescues messages whose worker died.

A run holds its message by a ``Lease``: the attempt number its claim gave the message
(each claim adds one) and the claim's time. Every write the run makes is conditional
on it, so a run whose message was retaken by a newer attempt changes nothing. One
``Heartbeat`` thread per process beats every message the process holds, whether or not
the model is sending anything, so a silent model is not taken for a dead worker.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import operator
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import dispatch, llm, model_choice, realtime, selectors, services, titles, tools
from .access import AccessRevoked, check_still_writable
from .conf import assistant_settings
from .dispatch import backoff, reconnect_delay
from .exceptions import INTERRUPTED_TEXT, USAGE_LIMIT_TEXT
from .models import ChatMessage, ChatSession, ToolCall

logger = logging.getLogger(__name__)
Status = ChatMessage.Status
Role = ChatMessage.Role
EMPTY_ANSWER_TEXT = "The assistant returned an empty answer. Please try again."
MODE_UNAVAILABLE_TEXT = "This assistant mode is not available any more."


#: What a broken or refused database connection raises.
DATABASE_ERRORS = (OperationalError, InterfaceError)


#: A run's states: skipped, success, error, cancelled, superseded (a newer attempt took
#: the message), retry (a transient model error), interrupted (the connection broke).
Outcome = dispatch.Outcome


# --- A run's lease and the process's heartbeat -----------------------------------


@dataclass(eq=False)
class Lease:
    """A run's hold on the message it claimed: the attempt number and time of its
    claim. ``lost`` once the message is no longer the run's (a newer attempt took it,
    it was cancelled, or the sweeper requeued it): the run then stops at once."""

    message_id: Any
    session_id: Any
    attempt: int
    claimed_at: datetime | None
    lost: bool = False

    @classmethod
    def of(cls, message: ChatMessage) -> Lease:
        return cls(message.pk, message.session_id, message.attempts, message.processing_started_at)

    def fence(self) -> Q:
        return Q(pk=self.message_id, attempts=self.attempt, processing_started_at=self.claimed_at)

    def rows(self) -> QuerySet:
        """The message, while this run still holds it: every write of the run goes
        through this."""
        return ChatMessage.objects.filter(self.fence(), status=Status.PROCESSING)


class Heartbeat:
    """One thread per process beats, every HEARTBEAT_INTERVAL, every message the
    process is answering, in one UPDATE conditional on each lease, and marks lost the
    leases whose message moved on."""

    def __init__(self) -> None:
        self._leases: set[Lease] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None

    def hold(self, lease: Lease) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (or a forked child)
                self._pid, self._leases = os.getpid(), set()
                threading.Thread(target=self._run, name="assistant-heartbeat", daemon=True).start()
            self._leases.add(lease)
        self._wake.set()  # the thread re-reads the interval

    def release(self, lease: Lease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def beat(self, leases: list[Lease]) -> None:
        """Beat ``leases`` in one UPDATE; when some did not match, one SELECT finds
        whose message moved on. A message this connection can't see is left to its
        run's own writes."""
        if not leases:
            return
        held = functools.reduce(operator.or_, (lease.fence() for lease in leases))
        beaten = services.messages_beat(rows=ChatMessage.objects.filter(held, status=Status.PROCESSING))
        if beaten == len(leases):
            return
        now_held = {
            pk: (status, attempts, started)
            for pk, status, attempts, started in ChatMessage.objects.filter(
                pk__in={lease.message_id for lease in leases}
            ).values_list("pk", "status", "attempts", "processing_started_at")
        }
        for lease in leases:
            row = now_held.get(lease.message_id)
            if row is not None and row != (Status.PROCESSING, lease.attempt, lease.claimed_at):
                lease.lost = True

    def _run(self) -> None:
        last = time.monotonic()
        while True:
            self._wake.wait(max(0.0, last + assistant_settings.HEARTBEAT_INTERVAL - time.monotonic()))
            self._wake.clear()
            if time.monotonic() < last + assistant_settings.HEARTBEAT_INTERVAL:
                continue
            last = time.monotonic()
            with self._lock:
                leases = list(self._leases)
            for tries_left in (2, 1, 0):  # a connection the database dropped: at once with another
                try:
                    self.beat(leases)
                    break
                except Exception:
                    if not tries_left:
                        logger.warning("The heartbeat of %d message(s) failed", len(leases), exc_info=True)
                finally:
                    connection.close()


heartbeat = Heartbeat()
#: The lease of the run on this thread, for ``_one_attempt`` to give up.
_current = threading.local()


# --- One attempt --------------------------------------------------------------------


def message_claim(*, message_id) -> ChatMessage | None:
    """Take the message for processing (pending -> processing) atomically, or take
    over one whose worker stopped beating. None when another worker has it or it is
    no longer waiting: a duplicate delivery does nothing. The claim adds one to the
    message's ``attempts``; the message comes back with its ``lease``."""
    stale = timezone.now() - timedelta(seconds=assistant_settings.STUCK_AFTER)
    if not services.message_claim(message_id=message_id, stale_before=stale):
        return None
    message = ChatMessage.objects.select_related("user", "session", "session__user").get(pk=message_id)
    message.lease = _current.lease = Lease.of(message)
    return message


def _publish_status(message: ChatMessage, status: str) -> None:
    services.message_announce(session_id=message.session_id, message_id=message.pk, status=status)


def message_fail(*, message: ChatMessage, error: str, rows: QuerySet | None = None) -> bool:
    """Fail the message with a readable ``error`` if it is still as the caller saw it:
    ``rows``, by default the message while the caller's lease holds it."""
    rows = message.lease.rows() if rows is None else rows
    return services.message_fail(rows=rows, session_id=message.session_id, message_id=message.pk, error=error)


class _Watcher:
    """``should_stop`` for the stream: true once the message was cancelled or is no
    longer the run's. Holds the run's lease in the process's heartbeat, checks the
    cancel flag every CANCEL_CHECK_INTERVAL, and saves the answer streamed so far
    (``add``, called on the stream's loop) as the message's ``partial`` every
    PARTIAL_SAVE_INTERVAL when it grew. It is called on the run's own thread while the
    stream is read on the process's loop (``llm.stream_chat``).
    Each save is one UPDATE conditional on the lease (also a beat); the connection is
    given back after it. A save the database refuses is skipped: the next one carries
    the text, and the heartbeat keeps the message held meanwhile."""

    def __init__(self, lease: Lease) -> None:
        now = time.monotonic()
        self.lease = lease
        heartbeat.hold(lease)
        self.next_check = 0.0
        self.next_save = now + assistant_settings.PARTIAL_SAVE_INTERVAL
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._length = 0
        self._saved_length = 0

    def held(self) -> None:
        """Raise ``llm.Cancelled`` once the message is no longer the run's: nothing
        more is published."""
        if self.lease.lost:
            raise llm.Cancelled

    def add(self, delta: str) -> None:
        """Note a streamed piece of the answer."""
        self.held()
        with self._lock:
            self._parts.append(delta)
            self._length += len(delta)

    def _partial(self) -> str:
        with self._lock:
            text = "".join(self._parts)
            self._parts = [text]
        return text[: services.ASSISTANT_MAX_LENGTH]

    def __call__(self) -> bool:
        if self.lease.lost:
            return True
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + assistant_settings.CANCEL_CHECK_INTERVAL
            if cache.get(services.cancel_key(self.lease.message_id)):
                return True
        if now >= self.next_save:
            self.next_save = now + assistant_settings.PARTIAL_SAVE_INTERVAL
            length = min(self._length, services.ASSISTANT_MAX_LENGTH)
            if length != self._saved_length:
                try:
                    saved = services.message_save_partial(rows=self.lease.rows(), partial=self._partial())
                except DATABASE_ERRORS as exc:
                    logger.warning(
                        "Message %s: saving the partial answer failed: %s", self.lease.message_id, exc
                    )
                    saved = None
                finally:
                    services.db_connection_release()
                if saved == 0:
                    self.lease.lost = True
                    return True
                if saved:
                    self._saved_length = length
        return False


def _stopped(message: ChatMessage) -> Outcome:
    """Why a run stopped early: cancelled, or its message was taken over."""
    if message.lease.lost and not cache.get(services.cancel_key(message.pk)):
        return Outcome("superseded")
    return Outcome("cancelled")


def _one_attempt(process):
    """Around ``message_process``: the run's lease is given up however the attempt
    ends, and a broken database connection puts the message back (conditionally on the
    lease) to be tried again after RECONNECT_DELAY, instead of failing it."""

    @functools.wraps(process)
    def attempt(*, message_id, retries_done: int = 0) -> Outcome:
        _current.lease = None
        try:
            return process(message_id=message_id, retries_done=retries_done)
        except DATABASE_ERRORS as exc:
            return _interrupted(message_id, _current.lease, exc)
        finally:
            if _current.lease is not None:
                heartbeat.release(_current.lease)
            _current.lease = None

    return attempt


def _interrupted(message_id, lease: Lease | None, exc: Exception) -> Outcome:
    services.db_connection_release()
    delay = reconnect_delay()
    logger.warning(
        "Message %s: the database connection failed (%s); trying again in %.1fs", message_id, exc, delay
    )
    if lease is None or lease.lost:
        return Outcome("interrupted", retry_in=delay)
    try:
        services.message_requeue(
            rows=lease.rows(), session_id=lease.session_id, message_id=message_id, due_in=delay
        )
    except DATABASE_ERRORS:
        services.db_connection_release()  # still processing: the sweeper retakes it once the beats stop
    return Outcome("interrupted", retry_in=delay)


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


@_one_attempt
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
    if services.usage_limit_reached(user=message.user, scope=session.scope):
        message_fail(message=message, error=USAGE_LIMIT_TEXT)
        return Outcome("error")

    message_id = str(message.pk)
    watcher = _Watcher(message.lease)

    def on_delta(delta: str) -> None:
        watcher.add(delta)
        realtime.publish(session.pk, "token", message_id=message_id, delta=delta)

    #: The calls of writing tools approved in this answer, by the model's call id.
    approved: dict[str, Any] = {}

    def on_tool(event_type: str, data: dict[str, Any]) -> None:
        watcher.held()
        if event_type == "tool.end" and data["call_id"] in approved:
            text = data.get("result") if data["ok"] else data.get("error")
            services.tool_call_record(call_id=approved.pop(data["call_id"]), ok=data["ok"], text=text or "")
        realtime.publish(session.pk, event_type, message_id=message_id, **data)

    mode = _mode(session)
    if mode is None:
        message_fail(message=message, error=MODE_UNAVAILABLE_TEXT)
        return Outcome("error")
    try:
        # Access is decided again now (the claim just read the session and its asker):
        # the prompt carries the object's current content.
        check_still_writable(user=message.user, session=session, just_read=True)
    except AccessRevoked as exc:
        message_fail(message=message, error=str(exc))
        return Outcome("error")
    extra_arguments = {"on_tool": on_tool} if _query_takes_on_tool(type(mode)) else {}
    try:
        model, effort = model_choice.for_answer(message_meta=message.meta, session_meta=session.meta)
        with (
            tools.checking_access(lambda: check_still_writable(user=message.user, session=session)),
            tools.approving(functools.partial(_wait_for_decision, message, watcher, approved)),
            llm.choosing(model, effort),
        ):
            result = mode.query(
                session=session, message=message, on_delta=on_delta, should_stop=watcher, **extra_arguments
            )
    except llm.Cancelled:
        return _stopped(message)
    except AccessRevoked as exc:
        message_fail(message=message, error=str(exc))
        return Outcome("error")
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


def _wait_for_decision(
    message: ChatMessage,
    watcher: _Watcher,
    approved: dict[str, Any],
    context: tools.ToolContext,
    call_id: str,
    name: str,
    arguments: dict[str, Any],
    preview: Any,
) -> str:
    """Ask the asker to approve a writing tool's call and wait for the decision while
    the run keeps its lease (its heartbeat goes on); a cancel or a lost lease stops the
    wait, and a call nobody decides on in ``APPROVAL_TIMEOUT`` expires. An approved
    call goes in ``approved``, so that what it gave is kept with it."""
    call = services.tool_call_propose(
        message=message,
        call_id=call_id,
        name=name,
        arguments=arguments,
        preview=preview,
        expires_in=assistant_settings.APPROVAL_TIMEOUT,
    )
    deadline = time.monotonic() + assistant_settings.APPROVAL_TIMEOUT
    try:
        while True:
            status = selectors.tool_call_status(call_id=call.pk)
            if status == ToolCall.Status.APPROVED:
                approved[call_id] = call.pk
            if status != ToolCall.Status.PENDING:
                return status
            if time.monotonic() >= deadline and services.tool_call_expire(call_id=call.pk):
                return ToolCall.Status.EXPIRED
            services.db_connection_release()
            stop_at = time.monotonic() + assistant_settings.APPROVAL_POLL_INTERVAL
            while time.monotonic() < stop_at:
                if watcher():
                    raise llm.Cancelled
                time.sleep(0.05)
    except BaseException:
        services.tool_call_expire(call_id=call.pk)
        raise


def _retry_later(message: ChatMessage, exc: llm.LLMError, retries_done: int) -> Outcome:
    delay = backoff(retries_done)
    requeued = services.message_requeue(
        rows=message.lease.rows(), session_id=message.session_id, message_id=message.pk, due_in=delay
    )
    if not requeued:
        message.lease.lost = True
        return _stopped(message)
    logger.info("Message %s: %s; retrying in %.1fs", message.pk, exc.message, delay)
    return Outcome("retry", retry_in=delay)


def _complete(message: ChatMessage, result: llm.ChatResult, *, code=None, meta=None) -> Outcome:
    """Save the reply, mark the question answered and count the usage, in one
    transaction, if the run still holds the message. A connection the database drops
    meanwhile is replaced and the save tried again: the answer is in hand, and asking
    the model again would pay for it twice."""
    for pause in (0.2, 1.0, None):
        try:
            return _save_reply(message, result, code=code, meta=meta)
        except DATABASE_ERRORS as exc:
            if pause is None:
                raise
            logger.warning("Message %s: saving the reply failed (%s); trying again", message.pk, exc)
            services.db_connection_release()
            time.sleep(pause)
    raise AssertionError("unreachable")


#: Ends an answer cut at the longest a reply may be.
CUT_NOTE = "\n\n[The answer was cut here: it was longer than a reply may be.]"


def _fitted(result: llm.ChatResult) -> llm.ChatResult:
    """The answer cut to ``ASSISTANT_MAX_LENGTH`` (with a note and ``finish_reason``
    "length") when the model wrote more: saved, never left processing."""
    limit = services.ASSISTANT_MAX_LENGTH
    if len(result.content) <= limit:
        return result
    content = result.content[: limit - len(CUT_NOTE)] + CUT_NOTE
    return dataclasses.replace(result, content=content, finish_reason="length")


def _save_reply(message: ChatMessage, result: llm.ChatResult, *, code=None, meta=None) -> Outcome:
    result = _fitted(result)
    reply = services.message_complete(
        rows=message.lease.rows(),
        question=message,
        content=result.content,
        usage=result.usage,
        model=result.model,
        code=code,
        meta={
            **(meta or {}),
            "finish_reason": result.finish_reason,
            **({"tools": result.tool_runs} if result.tool_runs else {}),
        },
    )
    if reply is None:
        message.lease.lost = True
        return _stopped(message)
    try:
        titles.after_first_answer(session_id=message.session_id, reply_id=reply.pk)
    except Exception:  # noqa: BLE001  (the answer is saved; a title is a nicety)
        logger.warning("Message %s: no title was asked for", message.pk, exc_info=True)
    from .ai_embeddings import after_answer

    after_answer(question_id=message.pk, reply_id=reply.pk)
    return Outcome("success")


# --- The sweeper ------------------------------------------------------------------


@dataclass(frozen=True)
class SweepAction:
    message_id: str
    session_id: str
    found: str  # "stuck" (processing, worker silent) or "pending" (never picked up)
    action: str  # "requeued" or "failed"


def _overdue(*, stuck_before, pending_before) -> QuerySet:
    """User messages whose worker is silent since ``stuck_before``, and pending ones
    still waiting though their try was due before ``pending_before``."""
    return (
        ChatMessage.objects.filter(role=Role.USER)
        .annotate(
            last_beat=Coalesce("heartbeat_at", "processing_started_at", "updated_at"),
            due=Coalesce("due_at", "updated_at"),
        )
        .filter(
            Q(status=Status.PROCESSING, last_beat__lt=stuck_before)
            | Q(status=Status.PENDING, due__lt=pending_before)
        )
    )


def message_sweep(
    *, stuck_after: float | None = None, pending_after: float | None = None, dry_run: bool = False
) -> list[SweepAction]:
    """Requeue messages stuck in processing (their worker stopped beating) and pending
    ones nobody picked up after their try was due; fail those whose attempts ran out.
    Each change is one UPDATE that checks again what the message was found for, so a
    message that beat or was picked up since it was read is left alone."""
    now = timezone.now()
    overdue = _overdue(
        stuck_before=now
        - timedelta(seconds=assistant_settings.STUCK_AFTER if stuck_after is None else stuck_after),
        pending_before=now
        - timedelta(seconds=assistant_settings.PENDING_AFTER if pending_after is None else pending_after),
    )
    candidates = overdue.only("id", "session_id", "status", "attempts").order_by("created_at")
    actions = []
    for message in candidates:
        found = "stuck" if message.status == Status.PROCESSING else "pending"
        exhausted = message.attempts >= assistant_settings.MAX_ATTEMPTS
        action = "failed" if exhausted else "requeued"
        actions.append(SweepAction(str(message.pk), str(message.session_id), found, action))
        if dry_run:
            continue
        still = overdue.filter(pk=message.pk, status=message.status, attempts=message.attempts)
        if exhausted:
            message_fail(message=message, error=INTERRUPTED_TEXT, rows=still)
            continue
        services.message_requeue(
            rows=still,
            session_id=message.session_id,
            message_id=message.pk,
            announce=found == "stuck",
            enqueue=True,
        )
    return actions


@dispatch.runs_here(dispatch.PROCESS_MESSAGE)
def _process_here(message_id: str, *, retries_done: int) -> Outcome:
    """The ``process_message`` task's work, when this process does it."""
    return message_process(message_id=message_id, retries_done=retries_done)


def start_in_process_sweeper() -> None:
    """On the embedded default, sweep for stuck messages every SWEEP_INTERVAL."""
    dispatch.run_periodically(
        "assistant-sweeper", message_sweep, every=lambda: assistant_settings.SWEEP_INTERVAL, first_after=5
    )
