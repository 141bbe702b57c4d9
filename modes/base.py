"""``ModeBehaviour``: what an assistant mode can decide, each callback with a default
that calls the assistant's services, so a mode overrides only what differs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from rest_framework import serializers

from assistant import llm, model_choice, prompts, selectors, services
from assistant.access_levels import Access
from assistant.exceptions import USAGE_LIMIT_TEXT, Conflict, InvalidInput, PermissionDenied
from assistant.models import ChatMessage, ChatSession
from assistant.tools import OnTool, Tool
from assistant.tools import site as tool_site

DEFAULT_PLACEHOLDER = "Open a previous session or send a message to start a new one"


def about(objects: QuerySet) -> Q:
    """The sessions about any row of ``objects``, as a filter (one subquery): for a
    mode's ``visible_sessions`` and ``filter_sessions``."""
    keys = objects.order_by().annotate(subject_key=Cast("pk", CharField())).values("subject_key")
    return Q(subject_type=ContentType.objects.get_for_model(objects.model), subject_id__in=keys)


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
        may hold ``user``, ``session`` and the mode's own objects (``context_objects``)."""
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
        scope = getattr(session, "scope", "") or context.get("scope", "")
        if user is not None and services.usage_limit_reached(user=user, scope=scope):
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

    def form_fields(self) -> dict[str, serializers.Field]:
        """The fields of a new session's form besides ``mode``, ``content`` and ``meta``
        (for the API's schema; ``validate_form`` reads them). Default: none."""
        return {}

    def context_objects(self, *, user, ids: dict[str, Any]) -> dict[str, Any]:
        """The objects named by a request's ids (a new session's form, the modes list's
        ``?job=`` or ``?project=``) that ``user`` may see, by name; an id of one they may
        not see is bad input (``ValidationError``). Default: none."""
        return {}

    def validate_form(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check the mode's part of a new session's form; return the ``subject`` (the
        object the session is about) and ``scope`` of the session, as far as it has
        them. Raise ``ValidationError`` for bad input."""
        return {}

    def create_session(self, *, user, content: str, params: dict[str, Any], meta=None) -> ChatSession:
        cleaned = self.validate_form(params)
        if (
            self.session_access(user=user, session=ChatSession(mode=self.id, user=user, **cleaned))
            < Access.WRITE
        ):
            raise PermissionDenied("You can't start a conversation about this.")
        session = services.session_create(mode=self.id, user=user, content=content, meta=meta, **cleaned)
        self.on_session_start(session)
        return session

    def on_session_start(self, session: ChatSession) -> None:
        """Called once a new session and its first message are saved."""

    def get_session(self, *, session_id) -> ChatSession:
        """The session with its visible messages (for the detail view, after the access
        check)."""
        return selectors.session_get(session_id=session_id)

    def session_fields(self) -> dict[str, serializers.Field]:
        """Fields the mode adds to its sessions' shape (for the API's schema); their
        values come from ``session_values``. Default: none."""
        return {}

    def session_values(self, session: ChatSession) -> dict[str, Any]:
        """The values of the ``session_fields`` of one session, read from the session
        row without queries (it is called for every session of a list)."""
        return {}

    def list_filters(self) -> dict[str, serializers.Field]:
        """The filters of ``GET /api/sessions/`` the mode understands besides ``mode``
        and ``search``; a list filtered by one it does not understand has none of its
        sessions."""
        return {}

    def filter_sessions(self, params: dict[str, Any]) -> Q:
        """The mode's sessions that match the list filters ``params`` (of
        ``list_filters``), as a filter."""
        return Q()

    def list_sessions(
        self, *, user, visible, params: dict[str, Any], search=None, sort="desc", offset=0, limit=20
    ) -> dict[str, Any]:
        """A page of this mode's sessions among ``visible`` (those ``user`` may read),
        filtered by ``params``: ``{"sessions", "pagination"}``."""
        return selectors.session_search(
            sessions=visible.filter(Q(mode=self.id) & self.filter_sessions(params)),
            search=search,
            sort=sort,
            offset=offset,
            limit=limit,
        )

    def more_sessions(self, *, user, params: dict[str, Any], current_count: int, total: int) -> bool:
        """Whether a list that showed ``current_count`` of the ``total`` sessions has
        more to load."""
        return current_count < total

    # --- Messages and the model -----------------------------------------------------

    def query_options(self, form: dict[str, Any] | None) -> dict[str, Any]:
        """Per-message options from the send form; the default mode has none."""
        if form:
            raise InvalidInput({"options": ["This mode takes no options."]})
        return {}

    def save_message(self, *, session: ChatSession, user, content: str, options=None) -> ChatMessage:
        """Save the question; its options' ``model`` and ``reasoning_effort`` (any mode's)
        are taken out before the mode's own ``query_options`` reads the rest."""
        options = dict(options) if isinstance(options, dict) else options
        choice = model_choice.pop_choice(options)
        return services.message_send(
            session=session,
            user=user,
            content=content,
            options=self.query_options(options) or None,
            choice=choice,
        )

    #: The registered tools (``assistant.tools``, each app's ``ai_tools``) the model may
    #: call in this mode's conversations.
    tool_names: Sequence[str] = ()

    def tools(self, *, session: ChatSession, message: ChatMessage) -> list[Tool]:
        """The tools the model may call while it answers ``message``. Default: the
        registered tools named by ``tool_names``."""
        return tool_site.named(self.tool_names)

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
