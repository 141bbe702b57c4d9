"""Every change to assistant state goes through these functions.

Views, consumers, tasks, admin actions and commands call them; they validate, write
atomically, and tell clients (``realtime.publish``) and workers (``dispatch``) only
after the commit.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from . import branches, llm, model_choice, realtime
from .conf import assistant_settings
from .dispatch import enqueue_message
from .exceptions import (
    Conflict,
    DisclaimerRequired,
    InvalidInput,
    InvalidStatus,
    NotFound,
    TooManyInFlight,
    UsageLimitReached,
)
from .llm import db_connection_release
from .models import (
    AIUsage,
    ChatMessage,
    ChatSession,
    Disclaimer,
    DisclaimerAcceptance,
    Feedback,
    ShareLink,
    ToolCall,
    title_max_length,
)
from .parsers import has_nul
from .serializers import message_data

if TYPE_CHECKING:
    from .tools import OnTool, Tool

#: Seconds a probe of the model endpoint is trusted before the next one.
ENDPOINT_PROBE_TTL = 30
#: How long an accepted disclaimer stays accepted.
DISCLAIMER_VALIDITY = timedelta(hours=24)
#: Longest an assistant answer may be.
ASSISTANT_MAX_LENGTH = 100_000
TITLE_TRAILING = ".!?,;:"

Status = ChatMessage.Status
Role = ChatMessage.Role
#: ``message_save``'s default: a question follows the end of the branch shown.
AT_LEAF = object()


# --- The assistant's availability ------------------------------------------------


def assistant_enabled() -> bool:
    """Usable when a model is configured: the demo model, or an endpoint key."""
    return llm.is_demo() or bool(settings.OPENAI_API_KEY)


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


# --- Sessions ---------------------------------------------------------------------


def session_title(content: str) -> str:
    """A title from the first message: whole words while they fit in the maximum
    length, one long word cut to it, trailing punctuation removed."""
    limit = title_max_length()
    words = content.split()
    title = ""
    for word in words:
        candidate = f"{title} {word}" if title else word
        if len(candidate) > limit:
            break
        title = candidate
    if not title and words:
        title = words[0][:limit]
    return title.rstrip(TITLE_TRAILING).strip()


def session_create(
    *,
    mode: str,
    user,
    content: str,
    subject=None,
    scope: str = "",
    meta: dict[str, Any] | None = None,
    code: str | None = None,
) -> ChatSession:
    """A session about ``subject`` (any saved model instance, or none) filed under
    ``scope``, and its first (pending) user message, in one transaction. ``meta`` may
    choose the model (``{"model", "reasoning_effort"}``, checked)."""
    if meta is not None:
        check_json_limits(meta, field="meta")
        model_choice.checked(meta, field="meta")
    with transaction.atomic():
        session = ChatSession.objects.create(
            mode=mode,
            user=user,
            **({"subject": subject} if subject is not None else {}),
            scope=scope,
            title=session_title(content),
            meta=meta or {},
        )
        message_save(session=session, role=Role.USER, content=content, user=user, code=code)
    return session


def session_set_subject(*, session: ChatSession, subject) -> ChatSession:
    """Make the session about ``subject`` from now on (a workflow its template created)."""
    session.subject = subject
    session.save(update_fields=["subject_type", "subject_id", "updated_at"])
    return session


def title_fitted(text: str) -> str:
    """A title the model wrote, cut to whole words that fit, without quotes."""
    return session_title(text.strip().strip("\"'“”‘’").splitlines()[0] if text.strip() else "")


def session_retitle(*, session_id, was: str, title: str) -> bool:
    """Give the session ``title`` if its title is still ``was`` (the user did not rename
    it meanwhile); a ``session.updated`` event tells its open pages."""
    with transaction.atomic():
        changed = ChatSession.objects.filter(pk=session_id, title=was).update(title=title)
        if changed:
            transaction.on_commit(lambda: realtime.publish(session_id, "session.updated", title=title))
    return bool(changed)


def session_rename(*, session: ChatSession, title: str) -> ChatSession:
    title = title.strip()
    if not title or len(title) > title_max_length():
        raise InvalidInput({"title": [f"Give a title of 1 to {title_max_length()} characters."]})
    session.title = title
    session.save(update_fields=["title", "updated_at"])
    return session


def session_delete(*, session: ChatSession) -> None:
    session.delete()


# --- Messages ---------------------------------------------------------------------


def check_json_limits(value: Any, *, field: str) -> None:
    """``value`` (a session's meta, a message's options) is an object of at most
    ``MAX_META_BYTES`` bytes of JSON, nested at most ``MAX_META_DEPTH`` levels deep,
    without NUL characters in its keys and texts;
    ``ValidationError`` naming ``field`` otherwise. Walked without recursion."""
    if not isinstance(value, dict):
        raise InvalidInput({field: ["Give a JSON object."]})
    max_bytes, max_depth = assistant_settings.MAX_META_BYTES, assistant_settings.MAX_META_DEPTH
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise InvalidInput({field: [f"Nest at most {max_depth} levels deep."]})
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    # PostgreSQL's JSON can't hold a NUL character (the API's parser refuses them; the
    # socket's messages come here): refuse it on every database.
    if has_nul(value):
        raise InvalidInput({field: ["Text in it may not contain NUL characters."]})
    if len(json.dumps(value, ensure_ascii=False, default=str).encode()) > max_bytes:
        raise InvalidInput({field: [f"Keep it under {max_bytes:,} bytes of JSON."]})


def in_flight_check(*, user, session: ChatSession) -> None:
    """Raise ``TooManyInFlight`` when the user already has ``MAX_IN_FLIGHT_PER_USER``
    answers in progress, or the session ``MAX_IN_FLIGHT_PER_SESSION``. Call it inside the
    transaction that queues the question: the user's row is locked, so concurrent sends
    of one user are counted one after the other."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    counts = ChatMessage.objects.filter(
        user=user, role=Role.USER, status__in=(Status.PENDING, Status.PROCESSING)
    ).aggregate(mine=Count("pk"), here=Count("pk", filter=Q(session=session)))
    if counts["here"] >= assistant_settings.MAX_IN_FLIGHT_PER_SESSION:
        raise TooManyInFlight()
    if counts["mine"] >= assistant_settings.MAX_IN_FLIGHT_PER_USER:
        raise TooManyInFlight(
            f"You have {counts['mine']} answers in progress; wait for one to finish before asking again."
        )


def _validate_content(role: str, content: Any) -> None:
    limit = ChatMessage.MAX_LENGTH if role == Role.USER else ASSISTANT_MAX_LENGTH
    if not isinstance(content, str) or not 1 <= len(content) <= limit:
        raise InvalidInput({"content": [f"Ensure the message has 1 to {limit:,} characters."]})


def message_save(
    *,
    session: ChatSession,
    role: str,
    content: str,
    user=None,
    code: str | None = None,
    status: str | None = None,
    usage: dict[str, int] | None = None,
    meta: dict[str, Any] | None = None,
    message_meta: dict[str, Any] | None = None,
    reply_to: ChatMessage | None = None,
    follows: Any = AT_LEAF,
    model: str = "",
    announce: bool = True,
) -> ChatMessage:
    """Insert a message, merge ``meta`` into the session's, count an assistant
    message's usage, and queue a pending user message once committed. All or nothing.

    A question follows the session's ``leaf`` (or ``follows``: the question it comes
    after, None for a first one) and becomes the leaf; an answer is a version of the
    answer to ``reply_to``.

    ``announce=False`` leaves telling clients to the caller (processing announces a
    reply as ``message.completed``)."""
    if role not in Role.values:
        raise InvalidInput({"role": [f"Use one of {', '.join(Role.values)}."]})
    _validate_content(role, content)
    if role == Role.USER and user is None:
        raise InvalidInput({"user": ["A user message needs its user."]})
    status = status or (Status.PENDING if role == Role.USER else Status.SUCCESS)
    if status not in Status.values:
        raise InvalidStatus(status)
    if role == Role.USER and status == Status.PENDING:
        usage_check(user=user, scope=session.scope)
    # Inside a caller's transaction (the API's views, the reply's) a failure here fails
    # the whole of it: no savepoint to set and release.
    with transaction.atomic(savepoint=False):
        if role == Role.USER and status == Status.PENDING:
            in_flight_check(user=user, session=session)
        if role == Role.USER:
            # A question follows the end of the branch shown (the session row locked, so
            # two questions sent at once never both follow the same one).
            leaf = (
                ChatSession.objects.select_for_update().filter(pk=session.pk).values_list("leaf", flat=True)
            )
            parent_id = leaf.first() if follows is AT_LEAF else getattr(follows, "pk", None)
        message = ChatMessage.objects.create(
            session=session,
            role=role,
            content=content,
            code=code,
            status=status,
            user=user,
            usage=usage or {},
            meta=message_meta or {},
            reply_to=reply_to,
            version_of=reply_to,
            parent_id=parent_id if role == Role.USER else None,
        )
        if meta:
            session.meta = {**session.meta, **meta}
        fields = ["meta", "updated_at"]
        if role == Role.USER:
            session.leaf = message
            fields.append("leaf")
        session.save(update_fields=fields)
        if role == Role.ASSISTANT and usage:
            usage_record(user=session.user, session=session, message=message, usage=usage, model=model)
        if announce:
            data = message_data(message)
            transaction.on_commit(lambda: realtime.publish(session.pk, "message.created", message=data))
        if role == Role.USER and status == Status.PENDING:
            transaction.on_commit(lambda: enqueue_message(message.pk))
    return message


def message_send(
    *, session: ChatSession, user, content: str, options: dict | None = None, choice: dict | None = None
) -> ChatMessage:
    """A user's new message in an existing session; its options (for instance
    ``{"logs": true}``) are kept on the message for the mode's query, and its model
    choice (``{"model", "reasoning_effort"}``, checked by ``model_choice``) on the
    message and, remembered for the next ones, on the session."""
    if options:
        check_json_limits(options, field="options")
    choice = model_choice.checked(choice, field="options") if choice else {}
    return message_save(
        session=session,
        role=Role.USER,
        content=content,
        user=user,
        meta=choice or None,
        message_meta={**({"options": options} if options else {}), **choice} or None,
    )


def message_update_status(*, message: ChatMessage, status: str, error: str | None = None) -> ChatMessage:
    """Set a message's status (and error text); an unknown status raises ``InvalidStatus``."""
    if status not in Status.values:
        raise InvalidStatus(f"{status!r} is not a message status")
    message.status = status
    if error is not None:
        message.error = error
    message.save(update_fields=["status", "error", "updated_at"])
    _publish_status(message)
    return message


def _publish_status(message: ChatMessage) -> None:
    transaction.on_commit(
        lambda: realtime.publish(
            message.session_id,
            "message.status",
            message_id=str(message.pk),
            status=message.status,
            error=message.error,
        )
    )


def message_retry(*, message: ChatMessage) -> ChatMessage:
    """Back to pending and queued again, atomically. Only failed or cancelled messages."""
    with transaction.atomic():
        locked = ChatMessage.objects.select_for_update().select_related("session").get(pk=message.pk)
        if locked.role != Role.USER or locked.status not in (Status.ERROR, Status.CANCELLED):
            raise Conflict("Only a failed or cancelled user message can be retried.")
        _answer_again(locked, {})
    return locked


def _answer_again(question: ChatMessage, choice: dict[str, Any]) -> None:
    """Queue ``question`` (locked) for a new answer: pending, with a fresh count of
    attempts and the model ``choice`` (remembered on the session too)."""
    session = question.session
    usage_check(user=question.user, scope=session.scope)
    in_flight_check(user=question.user, session=session)
    question.status = Status.PENDING
    question.error = question.partial = ""
    question.attempts = 0
    question.processing_started_at = question.processing_completed_at = question.heartbeat_at = None
    if choice:
        question.meta = {**question.meta, **choice}
        session.meta = {**session.meta, **choice}
        session.save(update_fields=["meta", "updated_at"])
    question.save()
    cache.delete(cancel_key(question.pk))
    _publish_status(question)
    transaction.on_commit(lambda: enqueue_message(question.pk))


def message_regenerate(*, message: ChatMessage, choice: dict[str, Any] | None = None) -> ChatMessage:
    """A new answer to the question that ``message`` (an answer) answers, with the
    model ``choice`` if given; the earlier answers stay as versions of it. The question
    goes back to pending and is queued, atomically; returns the question."""
    choice = model_choice.checked(choice, field="options") if choice else {}
    question_id = message.version_of_id or message.reply_to_id
    if message.role != Role.ASSISTANT or question_id is None:
        raise Conflict("Only an answer to a question can be regenerated.")
    with transaction.atomic():
        question = ChatMessage.objects.select_for_update().select_related("session").get(pk=question_id)
        if question.status != Status.SUCCESS:
            raise Conflict("This question is being answered; wait for the answer or cancel it.")
        ChatMessage.objects.filter(reply_to=question).update(reply_to=None)
        _answer_again(question, choice)
    return question


def message_edit(
    *, message: ChatMessage, user, content: str, choice: dict[str, Any] | None = None
) -> ChatMessage:
    """``message`` (a question) asked again as ``content``: a new question in its place
    on a new branch, which becomes the one shown; the old question and the turns after
    it stay on their branch. Keeps the old question's options; returns the new one."""
    if message.role != Role.USER:
        raise Conflict("Only a question can be edited.")
    choice = model_choice.checked(choice, field="options") if choice else {}
    kept = {key: value for key, value in (message.meta or {}).items() if key == "options"}
    with transaction.atomic():
        edited = message_save(
            session=message.session,
            role=Role.USER,
            content=content,
            user=user,
            code=message.code,
            meta=choice or None,
            message_meta={**kept, **choice} or None,
            follows=message.parent,
        )
        _publish_leaf(message.session_id, edited.pk)
    return edited


def message_show(*, message: ChatMessage) -> ChatSession:
    """Show ``message``'s version of its turn: an answer becomes its question's shown
    answer; a question's branch becomes the session's (down to its newest turn). The
    model sees the shown branch from then on. Returns the session."""
    with transaction.atomic():
        session = ChatSession.objects.select_for_update().get(pk=message.session_id)
        question = message
        if message.role == Role.ASSISTANT:
            if message.version_of_id is None:
                raise Conflict("This message has no other versions.")
            question = ChatMessage.objects.select_for_update().get(pk=message.version_of_id)
            if question.status in (Status.PENDING, Status.PROCESSING):
                raise Conflict("This question is being answered; wait for the answer or cancel it.")
            if message.reply_to_id is None:
                ChatMessage.objects.filter(reply_to=question).update(reply_to=None)
                ChatMessage.objects.filter(pk=message.pk).update(reply_to=question)
        questions = list(
            ChatMessage.objects.filter(session=session, role=Role.USER).only("pk", "parent", "created_at")
        )
        by_id = {row.pk: row for row in questions}
        if question.pk not in {row.pk for row in branches.path(by_id, session.leaf_id)}:
            session.leaf_id = branches.deepest(questions, by_id[question.pk]).pk
            session.save(update_fields=["leaf", "updated_at"])
        _publish_leaf(session.pk, session.leaf_id)
    return session


def _publish_leaf(session_id, leaf_id) -> None:
    """Tell the session's pages that the conversation shown changed (they read it again)."""
    transaction.on_commit(lambda: realtime.publish(session_id, "session.updated", leaf=str(leaf_id)))


def cancel_key(message_id) -> str:
    return f"assistant:cancel:{message_id}"


def message_cancel(*, message: ChatMessage) -> ChatMessage:
    """Cancel a pending or processing message; its worker stops streaming within a
    second and saves no reply, and the answer streamed so far is dropped. A question
    being answered again (regenerated) goes back to the answer it had."""
    with transaction.atomic():
        locked = ChatMessage.objects.select_for_update().get(pk=message.pk)
        if locked.status not in (Status.PENDING, Status.PROCESSING):
            raise Conflict("Only a pending or processing message can be cancelled.")
        # A new answer to a question that had one: cancelling it keeps the one it had.
        kept = locked.answers.order_by("-created_at").first() if locked.role == Role.USER else None
        locked.status = Status.SUCCESS if kept is not None else Status.CANCELLED
        locked.partial = ""
        locked.processing_completed_at = timezone.now()
        locked.save(update_fields=["status", "partial", "processing_completed_at", "updated_at"])
        cache.set(cancel_key(locked.pk), True, 3600)
        if kept is not None:
            ChatMessage.objects.filter(pk=kept.pk).update(reply_to=locked)
            _publish_leaf(locked.session_id, locked.session.leaf_id)
        elif locked.role == Role.USER:
            _back_from_cancelled_edit(locked)
        _publish_status(locked)
    return locked


def _back_from_cancelled_edit(question: ChatMessage) -> None:
    """A cancelled edit that ends the branch shown: the branch of the version before it
    is shown again (a cancelled question is hidden, and would hide its turn's others)."""
    session = ChatSession.objects.select_for_update().get(pk=question.session_id)
    if session.leaf_id != question.pk:
        return
    others = list(
        ChatMessage.objects.filter(session=session, role=Role.USER, parent_id=question.parent_id)
        .exclude(pk=question.pk)
        .exclude(status=Status.CANCELLED)
        .order_by("created_at")
    )
    if not others:
        return
    questions = list(
        ChatMessage.objects.filter(session=session, role=Role.USER).only("pk", "parent", "created_at")
    )
    session.leaf_id = branches.deepest(questions, others[-1]).pk
    session.save(update_fields=["leaf", "updated_at"])
    _publish_leaf(session.pk, session.leaf_id)


# --- Share links ------------------------------------------------------------------------


def share_link_create(*, session: ChatSession, user) -> tuple[ShareLink, str]:
    """A new read-only link to ``session`` and its token (shown once: only its hash is
    kept). It replaces the session's earlier link, which stops working."""
    token = secrets.token_urlsafe(24)
    with transaction.atomic():
        ChatSession.objects.select_for_update().filter(pk=session.pk).exists()
        ShareLink.objects.filter(session=session, revoked_at__isnull=True).update(revoked_at=timezone.now())
        link = ShareLink.objects.create(session=session, created_by=user, token_hash=ShareLink.hash_of(token))
    return link, token


def share_link_revoke(*, session: ChatSession) -> int:
    """Stop the session's link working; how many were revoked (0 or 1)."""
    return ShareLink.objects.filter(session=session, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# --- Feedback ---------------------------------------------------------------------------


def feedback_give(*, message: ChatMessage, user, rating: str, comment: str = "") -> Feedback:
    """``user``'s thumbs up or down on an answer (replacing their earlier one), with the
    model that wrote it. Only answers take feedback (``InvalidInput`` otherwise)."""
    if message.role != Role.ASSISTANT:
        raise InvalidInput("Only an answer takes feedback.")
    if rating not in Feedback.Rating.values:
        raise InvalidInput({"rating": ["Give up or down."]})
    model = message.usage_rows.values_list("model", flat=True).first() or ""
    feedback, _ = Feedback.objects.update_or_create(
        message=message, user=user, defaults={"rating": rating, "comment": comment, "model": model}
    )
    return feedback


def feedback_withdraw(*, message: ChatMessage, user) -> None:
    Feedback.objects.filter(message=message, user=user).delete()


# --- Writing tools' approvals ---------------------------------------------------------


def tool_call_propose(
    *, message: ChatMessage, call_id: str, name: str, arguments: dict, preview=None, expires_in: float
) -> ToolCall:
    """Ask the asker of ``message`` to approve a writing tool's call: a pending
    ``ToolCall`` (the same call asked again, as after a retry, is asked anew) and a
    ``tool.approval`` event once it is stored."""
    with transaction.atomic():
        call, _ = ToolCall.objects.update_or_create(
            message=message,
            call_id=call_id,
            defaults={
                "user_id": message.user_id,
                "name": name,
                "arguments": arguments,
                "preview": preview,
                "status": ToolCall.Status.PENDING,
                "outcome": None,
                "decided_at": None,
                "expires_at": timezone.now() + timedelta(seconds=expires_in),
            },
        )
        data = {
            "message_id": str(message.pk),
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
            "preview": preview,
            "expires_at": call.expires_at.isoformat(),
        }
        transaction.on_commit(lambda: realtime.publish(message.session_id, "tool.approval", **data))
    return call


def tool_call_decide(*, user, message: ChatMessage, call_id: str, approve: bool) -> ToolCall:
    """The asker's decision on a pending call of an answer still being made (``message``
    is one the caller found the user may still ask in). Anyone but the asker gets
    ``NotFound``; a call already decided, expired, or of an answer no longer in progress
    is a ``Conflict``."""
    calls = ToolCall.objects.filter(message=message, call_id=call_id, user_id=user.pk)
    calls = calls.select_related("message")
    return _decide(calls, approve=approve, waited_on=lambda call: call.message.status == Status.PROCESSING)


def tool_call_propose_for_agent(
    *, user, name: str, arguments: dict, preview=None, expires_in: float
) -> ToolCall:
    """A writing tool's call an outside agent made over MCP, waiting for ``user`` (the
    credential's owner) to approve it in the chat page or over the API."""
    return ToolCall.objects.create(
        user=user,
        message=None,
        call_id=f"mcp_{uuid.uuid4().hex[:16]}",
        name=name,
        arguments=arguments,
        preview=preview,
        expires_at=timezone.now() + timedelta(seconds=expires_in),
    )


def tool_call_decide_for_agent(*, user, tool_call_id, approve: bool) -> ToolCall:
    """The user's decision on a call an outside agent waits on (404 for anyone else's)."""
    calls = ToolCall.objects.filter(pk=tool_call_id, user_id=user.pk, message__isnull=True)
    return _decide(calls, approve=approve, waited_on=lambda call: True)


def _decide(calls, *, approve: bool, waited_on) -> ToolCall:
    """Approve or reject the one pending call of ``calls``: ``NotFound`` when there is
    none; a call past its time (or no longer ``waited_on``) expires, and that, or a call
    decided before, is a ``Conflict``."""
    with transaction.atomic():
        call = calls.select_for_update().first()
        if call is None:
            raise NotFound("There is no such call waiting for you.")
        now = timezone.now()
        late = call.expires_at <= now or not waited_on(call)
        if call.status == ToolCall.Status.PENDING and not late:
            call.status = ToolCall.Status.APPROVED if approve else ToolCall.Status.REJECTED
            call.decided_at = now
            call.save(update_fields=["status", "decided_at"])
            return call
        if call.status == ToolCall.Status.PENDING:
            call.status = ToolCall.Status.EXPIRED
            call.save(update_fields=["status"])
    if call.status == ToolCall.Status.EXPIRED:
        raise Conflict("This call is no longer waiting for a decision.")
    raise Conflict(f"This call was already {call.status}.")


def tool_call_expire(*, call_id) -> bool:
    """Expire a call still waiting (its time ran out, or its answer stopped). False when
    it was decided meanwhile."""
    return bool(
        ToolCall.objects.filter(pk=call_id, status=ToolCall.Status.PENDING).update(
            status=ToolCall.Status.EXPIRED
        )
    )


def tool_call_record(*, call_id, ok: bool, text: str) -> None:
    """What running an approved call gave."""
    ToolCall.objects.filter(pk=call_id).update(outcome={"ok": ok, "result" if ok else "error": text})


# --- A worker's writes ---------------------------------------------------------------
#
# A worker answering a question holds it by a lease (``processing.Lease``): each write
# below is one UPDATE of ``rows``, the question as long as the worker still holds it,
# and reports whether it matched; one that did not changes nothing. The worker writes
# outside transactions, so each UPDATE has committed when clients are told of it.


def message_claim(*, message_id, stale_before) -> bool:
    """Take the question for processing (pending -> processing), or take over one whose
    worker has not beaten since ``stale_before``, adding one to its ``attempts``. False
    when another worker has it or it is no longer waiting."""
    now = timezone.now()
    return bool(
        ChatMessage.objects.filter(pk=message_id, role=Role.USER)
        .filter(Q(status=Status.PENDING) | Q(status=Status.PROCESSING, heartbeat_at__lt=stale_before))
        .update(
            status=Status.PROCESSING,
            processing_started_at=now,
            processing_completed_at=None,
            heartbeat_at=now,
            due_at=None,
            partial="",
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )


def message_announce(*, session_id, message_id, status: str, error: str = "") -> None:
    """Tell the session's clients a question's status (once it is committed)."""
    realtime.publish(session_id, "message.status", message_id=str(message_id), status=status, error=error)


def messages_beat(*, rows) -> int:
    """Touch the heartbeat of the questions ``rows`` (a worker's, all in one UPDATE)."""
    return rows.update(heartbeat_at=timezone.now())


def message_save_partial(*, rows, partial: str) -> int:
    """Keep the answer streamed so far on the question (a beat as well)."""
    return rows.update(partial=partial[:ASSISTANT_MAX_LENGTH], heartbeat_at=timezone.now())


def message_fail(*, rows, session_id, message_id, error: str) -> bool:
    """Mark the question failed with a readable ``error``."""
    now = timezone.now()
    failed = rows.update(status=Status.ERROR, error=error, processing_completed_at=now, updated_at=now)
    if failed:
        message_announce(session_id=session_id, message_id=message_id, status=Status.ERROR, error=error)
        realtime.publish(session_id, "message.error", message_id=str(message_id), error=error)
    return bool(failed)


def message_requeue(
    *, rows, session_id, message_id, due_in: float | None = None, announce: bool = True, enqueue: bool = False
) -> bool:
    """Put the question back to pending, due in ``due_in`` seconds (now, for the
    sweeper); told to clients when ``announce``, handed to a worker when ``enqueue``."""
    now = timezone.now()
    due = now + timedelta(seconds=due_in) if due_in is not None else None
    moved = rows.update(status=Status.PENDING, heartbeat_at=None, due_at=due, updated_at=now)
    if moved and announce:
        message_announce(session_id=session_id, message_id=message_id, status=Status.PENDING)
    if moved and enqueue:
        enqueue_message(message_id)
    return bool(moved)


def message_complete(
    *, rows, question: ChatMessage, content: str, usage, model: str, code=None, meta=None
) -> ChatMessage | None:
    """Save the reply to ``question``, mark the question answered and count the usage,
    in one transaction, and tell clients after it (``message.completed``, then the
    status). None, and nothing saved, when the worker no longer holds the question."""
    with transaction.atomic():
        now = timezone.now()
        # The question answered, if the worker still holds it (the UPDATE locks it).
        answered = rows.update(
            status=Status.SUCCESS, error="", partial="", processing_completed_at=now, updated_at=now
        )
        if not answered:
            return None
        reply = message_save(
            session=question.session,
            role=Role.ASSISTANT,
            content=content,
            usage=usage,
            model=model,
            reply_to=question,
            code=code,
            message_meta=meta,
            announce=False,
        )
        data = message_data(reply)
        session_id, question_id = question.session_id, str(question.pk)
        transaction.on_commit(
            lambda: realtime.publish(session_id, "message.completed", message=data, reply_to=question_id)
        )
        transaction.on_commit(
            lambda: message_announce(session_id=session_id, message_id=question_id, status=Status.SUCCESS)
        )
    return reply


# --- Retention --------------------------------------------------------------------


def _delete(rows, *, dry_run: bool) -> int:
    with transaction.atomic():
        return rows.count() if dry_run else rows.delete()[1].get(rows.model._meta.label, 0)


def sessions_delete_older(*, before, dry_run: bool = False) -> int:
    """Delete the sessions last changed before ``before``, with their messages; how many."""
    return _delete(ChatSession.objects.filter(updated_at__lt=before), dry_run=dry_run)


def usage_delete_older(*, before, dry_run: bool = False) -> int:
    """Delete the usage rows made before ``before``; how many."""
    return _delete(AIUsage.objects.filter(created_at__lt=before), dry_run=dry_run)


# --- Disclaimer -------------------------------------------------------------------


def disclaimer_active() -> Disclaimer | None:
    return Disclaimer.objects.filter(is_active=True).first()


@transaction.atomic
def disclaimer_activate(*, disclaimer: Disclaimer) -> Disclaimer:
    """Make ``disclaimer`` the one active version; users must accept it anew."""
    Disclaimer.objects.filter(is_active=True).exclude(pk=disclaimer.pk).update(is_active=False)
    Disclaimer.objects.filter(pk=disclaimer.pk).update(is_active=True)
    disclaimer.is_active = True
    return disclaimer


def disclaimer_mark_read(*, user) -> DisclaimerAcceptance:
    """Record that the user accepted the active disclaimer now."""
    disclaimer = disclaimer_active()
    if disclaimer is None:
        raise Conflict("There is no active disclaimer to accept.")
    acceptance, _ = DisclaimerAcceptance.objects.update_or_create(
        user=user, disclaimer=disclaimer, defaults={"accepted_at": timezone.now()}
    )
    return acceptance


def disclaimer_check(*, user) -> None:
    """Raise ``DisclaimerRequired`` unless the user accepted the active disclaimer in the
    last 24 hours (or ``REQUIRE_DISCLAIMER`` is off, or no disclaimer is active). The API
    and the socket ask it before every question and retry."""
    if not assistant_settings.REQUIRE_DISCLAIMER:
        return
    # One query: whether each active version (there is one, or none) was accepted lately.
    recently = Exists(_accepted_lately(user=user).filter(disclaimer=OuterRef("pk")))
    accepted = list(Disclaimer.objects.filter(is_active=True).values_list(recently, flat=True))
    if accepted and not any(accepted):
        raise DisclaimerRequired()


def disclaimer_read_recently(*, user, now=None) -> bool:
    """Accepted the active version less than 24 hours ago (exactly 24 hours is too old)."""
    return _accepted_lately(user=user, now=now).filter(disclaimer__is_active=True).exists()


def _accepted_lately(*, user, now=None):
    """The user's acceptances of less than 24 hours ago (exactly 24 hours is too old)."""
    return DisclaimerAcceptance.objects.filter(
        user=user, accepted_at__gt=(now or timezone.now()) - DISCLAIMER_VALIDITY
    )


# --- Usage ------------------------------------------------------------------------


def usage_period_start(now=None):
    now = (now or timezone.now()).astimezone(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if assistant_settings.USAGE_PERIOD == "month":
        start = start.replace(day=1)
    return start


def usage_total(*, user=None, scope: str = "", since=None) -> int:
    """Tokens used since ``since`` (this period by default) by ``user``, or in ``scope``."""
    rows = AIUsage.objects.filter(created_at__gte=since or usage_period_start())
    rows = rows.filter(user=user) if user is not None else rows.filter(scope=scope)
    return rows.aggregate(total=Sum("total_tokens"))["total"] or 0


def usage_period_end(start):
    """When the usage period that began at ``start`` ends (the counts start again)."""
    if assistant_settings.USAGE_PERIOD == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def usage_limit_reached(*, user, scope: str = "") -> bool:
    user_limit = assistant_settings.USER_TOKEN_LIMIT
    scope_limit = assistant_settings.SCOPE_TOKEN_LIMIT
    if user_limit is not None and usage_total(user=user) >= user_limit:
        return True
    return bool(scope) and scope_limit is not None and usage_total(scope=scope) >= scope_limit


def usage_check(*, user, scope: str = "") -> None:
    """Raise ``UsageLimitReached`` when the user's or the scope's quota is used up."""
    if usage_limit_reached(user=user, scope=scope):
        raise UsageLimitReached()


def usage_record(
    *, user, usage: dict[str, int], model: str = "", session=None, message=None, scope=None, source="chat"
) -> AIUsage:
    if scope is None:
        scope = session.scope if session is not None else ""
    prompt = int(usage.get("prompt_tokens", 0) or 0)
    completion = int(usage.get("completion_tokens", 0) or 0)
    return AIUsage.objects.create(
        user=user,
        scope=scope,
        session=session,
        message=message,
        source=source,
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(usage.get("total_tokens") or prompt + completion),
    )


# --- Asking the model -------------------------------------------------------------


def ai_query(
    *,
    session: ChatSession,
    message: ChatMessage,
    messages: list[dict[str, Any]],
    tools: list[Tool] | None = None,
    on_delta: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_tool: OnTool | None = None,
) -> llm.ChatResult:
    """Ask the model ``messages`` about ``message``, letting it call ``tools``
    (``assistant.tools.Tool``) with ``on_tool`` told of each call. The database
    connection is given back first: the answer may take minutes."""
    from . import tools as tool_calling

    db_connection_release()
    return tool_calling.stream_chat_with_tools(
        messages,
        tools=tools or [],
        context=tool_calling.ToolContext(session=session, message=message),
        on_delta=on_delta,
        should_stop=should_stop,
        on_tool=on_tool,
    )


def session_set_public(*, session: ChatSession, is_public: bool) -> ChatSession:
    """Share the session with those its mode lets read it, or stop sharing it. Open streams
    re-check their access before they send anything after this."""
    with transaction.atomic():
        session.is_public = is_public
        session.save(update_fields=["is_public", "updated_at"])
        session_access_changed(session_ids=[session.pk])
    return session


def session_access_changed(*, session_ids) -> None:
    """Tell the open streams of these sessions to decide their access again before they
    send anything more: a ``session.access`` event in each session's log, after the
    commit (so the re-check reads the change). Call it whenever who may see a session
    changes (its visibility, or whatever its mode decides access by)."""
    ids = [str(pk) for pk in session_ids]

    def announce() -> None:
        for session_id in ids:
            realtime.publish(session_id, "session.access")

    if ids:
        transaction.on_commit(announce)
