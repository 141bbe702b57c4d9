"""``ModeBehaviour``: what an assistant mode can decide, each callback with a default
that calls the assistant's services, so a mode overrides only what differs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.db.models import Q
from rest_framework import exceptions

from assistant import llm, prompts, selectors, services
from assistant.access import Access
from assistant.errors import Conflict
from assistant.exceptions import USAGE_LIMIT_TEXT
from assistant.models import ChatMessage, ChatSession
from assistant.tools import OnTool, Tool

DEFAULT_PLACEHOLDER = "Open a previous session or send a message to start a new one"


class ModeBehaviour:
    id: ClassVar[str] = ""
    name: ClassVar[str] = "Assistant"
    description: ClassVar[str] = "Chat with the AI assistant."
    icon: ClassVar[str] = "chat"
    category: ClassVar[str] = "general"
    features: ClassVar[list[str]] = []

    # --- What the UI shows -------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "icon": self.icon,
            "category": self.category,
            "features": list(self.features),
            "placeholder": self.input_placeholder(),
            "supports_template_generation": self.supports_template_generation(),
            "enable_attachment_options": self.enable_attachment_options(),
        }

    def chat_title(self, session: ChatSession) -> str:
        return session.title or "Untitled Chat"

    def input_placeholder(self) -> str:
        return DEFAULT_PLACEHOLDER

    def chat_input_disabled(self, context: dict[str, Any]) -> str | None:
        """Why the user can't send a message now, or None when they can. ``context``
        may hold ``user``, ``session``, ``project`` and the mode's own objects."""
        if not services.assistant_enabled():
            return "The AI assistant is not configured."
        if not services.assistant_endpoint_available():
            return "The AI assistant is unavailable right now. Please try again later."
        session = context.get("session")
        if (
            session is not None
            and session.messages.filter(
                role=ChatMessage.Role.USER,
                status__in=[ChatMessage.Status.PENDING, ChatMessage.Status.PROCESSING],
            ).exists()
        ):
            return "Wait for the assistant to finish its reply."
        user = context.get("user")
        if user is not None and services.usage_limit_reached(user=user, project=context.get("project")):
            return USAGE_LIMIT_TEXT
        return None

    def supports_template_generation(self) -> bool:
        return False

    def enable_attachment_options(self) -> bool:
        return False

    # --- Who may use a session ------------------------------------------------------

    def session_access(self, *, user, session: ChatSession) -> Access:
        """How far ``user`` may use ``session`` now: ``Access.WRITE`` (read, ask, retry,
        cancel, apply, rename, delete), ``READ`` (watch it) or ``NONE`` (it does not
        exist for them). Asked on every use, and for a new session before it is saved.
        Default: the owner may write; nobody else sees it."""
        return Access.WRITE if session.user_id == user.pk else Access.NONE

    def visible_sessions(self, *, user) -> Q:
        """The sessions of this mode ``user`` may list, as a filter; it must agree with
        ``session_access`` (every session it lets through has at least READ)."""
        return Q(user=user)

    # --- Sessions -----------------------------------------------------------------

    def context_objects(self, *, user, ids: dict[str, Any]) -> dict[str, Any]:
        """The objects named by a request's ids (a new session's form, the modes list's
        ``?job=`` or ``?project=``) that ``user`` may see, by name; an id of one they may
        not see is bad input (``ValidationError``). Default: none."""
        return {}

    def validate_form(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check the mode's part of a new session's form; return what
        ``create_session`` needs. Raise DRF's ``ValidationError`` for bad input."""
        return {}

    def create_session(self, *, user, content: str, params: dict[str, Any], meta=None) -> ChatSession:
        cleaned = self.validate_form(params)
        if (
            self.session_access(user=user, session=ChatSession(mode=self.id, user=user, **cleaned))
            < Access.WRITE
        ):
            raise exceptions.PermissionDenied("You can't start a conversation about this.")
        session = services.session_create(mode=self.id, user=user, content=content, meta=meta, **cleaned)
        self.on_session_start(session)
        return session

    def on_session_start(self, session: ChatSession) -> None:
        """Called once a new session and its first message are saved."""

    def get_session(self, *, session_id) -> ChatSession:
        return selectors.session_get(session_id=session_id)

    def list_sessions(self, *, params: dict[str, Any], sort="desc", offset=0, limit=20, queryset=None):
        return selectors.session_list(sort=sort, offset=offset, limit=limit, queryset=queryset, **params)

    def more_sessions(self, *, params: dict[str, Any], current_count: int) -> bool:
        return selectors.session_has_more(current_count=current_count, **params)

    # --- Messages and the model -----------------------------------------------------

    def query_options(self, form: dict[str, Any] | None) -> dict[str, Any]:
        """Per-message options from the send form; the default mode has none."""
        if form:
            raise exceptions.ValidationError({"options": ["This mode takes no options."]})
        return {}

    def save_message(self, *, session: ChatSession, user, content: str, options=None) -> ChatMessage:
        return services.message_send(
            session=session, user=user, content=content, options=self.query_options(options) or None
        )

    def tools(self, *, session: ChatSession, message: ChatMessage) -> list[Tool]:
        """The tools the model may call while it answers ``message``. Default: none."""
        return []

    def query(
        self,
        *,
        session: ChatSession,
        message: ChatMessage,
        on_delta: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_tool: OnTool | None = None,
    ) -> llm.ChatResult:
        """Ask the model about ``message`` with the mode's ``tools``; returns an
        ``llm.ChatResult``. ``on_tool`` is told of every tool call (``tool.start``,
        ``tool.end``); a mode whose ``query`` does not take it still works, without
        tool events."""
        return services.ai_query(
            session=session,
            message=message,
            messages=prompts.plain_messages(session, message),
            tools=self.tools(session=session, message=message),
            on_delta=on_delta,
            should_stop=should_stop,
            on_tool=on_tool,
        )

    def apply(self, *, session: ChatSession, message_id=None, dry_run: bool = False) -> dict[str, Any]:
        """Apply what the session produced (``POST /api/sessions/{id}/apply/``): the reply
        ``message_id``, else the latest one; with ``dry_run``, only say what would change.
        Returns a JSON report of the changes. Default: this mode has nothing to apply."""
        raise Conflict("This kind of conversation has nothing to apply.")

    def handle_response_generated(
        self, *, session: ChatSession, message: ChatMessage, result
    ) -> dict[str, Any]:
        """Fields for the reply before it is saved: ``code`` and ``meta`` (for
        instance a template extracted from the answer). Default: none."""
        return {}
