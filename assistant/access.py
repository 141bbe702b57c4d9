"""Who may use a session, decided on every use.

A session's mode decides how far a user may use it (``ModeBehaviour.session_access``:
``Access.NONE``, ``READ`` or ``WRITE``) and which of its sessions a user may list
(``ModeBehaviour.visible_sessions``). Every read, send, apply, retry, cancel, model call,
tool call and open stream asks again, so a user who lost access (removed from a project,
demoted to viewer, deactivated, logged out, a session made private) loses it at once.
Staff with the ``assistant.view_chatsession`` permission may read every session.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.db.models import Q, QuerySet
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from .access_levels import NOT_THE_OWNER_TEXT, REVOKED_TEXT, Access, AccessRevoked
from .exceptions import NotFound, PermissionDenied
from .models import ChatMessage, ChatSession

__all__ = ["NOT_THE_OWNER_TEXT", "REVOKED_TEXT", "Access", "AccessRevoked"]


READ_ALL_PERMISSION = "assistant.view_chatsession"


def _mode(mode_id: str):
    from modes.registry import NotRegistered, site

    try:
        return site.get(mode_id)
    except NotRegistered:
        return None


def reads_every_session(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(READ_ALL_PERMISSION))


def session_access(*, user, session: ChatSession) -> Access:
    """How far ``user`` may use ``session`` now (its mode decides)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Access.NONE
    mode = _mode(session.mode)
    access = mode.session_access(user=user, session=session) if mode is not None else Access.NONE
    if access is Access.NONE and reads_every_session(user):
        return Access.READ
    return Access(access)


def sessions_visible_to(user) -> QuerySet[ChatSession]:
    """The sessions ``user`` may read, as one queryset: each enabled mode's
    ``visible_sessions`` filter; every session for staff who may read them all."""
    if reads_every_session(user):
        return ChatSession.objects.all()
    from modes.registry import site

    filters = [Q(mode=mode.id) & mode.visible_sessions(user=user) for mode in site.all()]
    if not user.is_active or not filters:
        return ChatSession.objects.none()
    return ChatSession.objects.filter(reduce(operator.or_, filters))


def session_for(*, user, session_id, need: Access = Access.READ) -> ChatSession:
    """The session, if ``user`` may use it as far as ``need``: 404 when they may not
    see it (or it does not exist), 403 when they may see it but not change it."""
    session = ChatSession.objects.select_related("user").filter(pk=session_id).first()
    access = session_access(user=user, session=session) if session is not None else Access.NONE
    if access is Access.NONE:
        raise NotFound()
    if access < need:
        raise PermissionDenied(NOT_THE_OWNER_TEXT)
    return session


def message_for(*, user, message_id, need: Access = Access.WRITE) -> ChatMessage:
    """A message of a session ``user`` may use as far as ``need`` (404 or 403 as
    ``session_for``)."""
    message = ChatMessage.objects.filter(pk=message_id).only("id", "session_id").first()
    if message is None:
        raise NotFound()
    session_for(user=user, session_id=message.session_id, need=need)
    return ChatMessage.objects.select_related("session").get(pk=message.pk)


def check_still_writable(*, user, session: ChatSession, just_read: bool = False) -> None:
    """Raise ``AccessRevoked`` unless ``user`` may still ask in ``session`` (read
    again from the database, unless the caller ``just_read`` both). Run before the
    model is asked and before each tool call."""
    fresh, current = session, user
    if not just_read:
        from django.contrib.auth import get_user_model

        fresh = ChatSession.objects.filter(pk=session.pk).first()
        current = get_user_model().objects.filter(pk=user.pk).first()
    if fresh is None or current is None or session_access(user=current, session=fresh) < Access.WRITE:
        raise AccessRevoked(REVOKED_TEXT)


# --- Open streams ------------------------------------------------------------------------

#: Fields of tool events only the session's owner receives: what a tool was asked and
#: what it read may be about objects other viewers may not see.
TOOL_EVENT_PRIVATE_FIELDS = ("arguments", "preview", "result", "error")


@dataclass(frozen=True)
class StreamCredentials:
    """How an open stream authenticated, so that it can be checked again later: the
    access JWT it presented, or the browser session it came with."""

    user_id: int
    token: str | None = None
    session_key: str | None = None

    @property
    def expires_at(self) -> float | None:
        """When the token expires (a UNIX time), or None for a browser session."""
        if self.token is None:
            return None
        try:
            return float(AccessToken(self.token, verify=False)["exp"])
        except (TokenError, KeyError, TypeError, ValueError):
            return 0.0


def credentials_user(credentials: StreamCredentials):
    """The user the credentials still stand for, or None: the token expired or was
    ended (logout, password change), the browser session was logged out, or the user
    was deactivated."""
    if credentials.token is not None:
        from accounts.tokens import user_for_access_token

        user = user_for_access_token(credentials.token)
    elif credentials.session_key is not None:
        from django.contrib import auth

        engine = import_module(settings.SESSION_ENGINE)
        user = auth.get_user(SimpleNamespace(session=engine.SessionStore(credentials.session_key)))
    else:
        return None
    if user is None or not user.is_authenticated or not user.is_active or user.pk != credentials.user_id:
        return None
    return user


def stream_access(*, credentials: StreamCredentials, session_id) -> tuple[object | None, Access, bool]:
    """(user, access, is_owner) for an open stream now, read afresh from the database."""
    user = credentials_user(credentials)
    session = ChatSession.objects.filter(pk=session_id).first()
    if user is None or session is None:
        return None, Access.NONE, False
    return user, session_access(user=user, session=session), session.user_id == user.pk


def _redacted_tools(meta: dict) -> dict:
    tools = meta.get("tools")
    if not isinstance(tools, list):
        return meta
    return {
        **meta,
        "tools": [
            {**{k: v for k, v in call.items() if k not in TOOL_EVENT_PRIVATE_FIELDS}, "redacted": True}
            for call in tools
            if isinstance(call, dict)
        ],
    }


def redact_message_for_viewer(message: dict) -> dict:
    """A message (as clients see it) for a viewer who is not the session's owner: the
    saved tool calls without their arguments and results."""
    meta = message.get("meta")
    return (
        {**message, "meta": _redacted_tools(meta)} if isinstance(meta, dict) and "tools" in meta else message
    )


def redact_for_viewer(event: dict) -> dict:
    """An event as a viewer who is not the session's owner receives it: tool events
    and the saved reply's tool calls without what the tools were asked and read."""
    if event.get("type") == "message.completed" and isinstance(event.get("message"), dict):
        return {**event, "message": redact_message_for_viewer(event["message"])}
    if not event.get("type", "").startswith("tool.") or not any(
        k in event for k in TOOL_EVENT_PRIVATE_FIELDS
    ):
        return event
    return {**{k: v for k, v in event.items() if k not in TOOL_EVENT_PRIVATE_FIELDS}, "redacted": True}
