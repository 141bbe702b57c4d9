"""The assistant's REST API: thin views over the services and selectors."""

from __future__ import annotations

import operator
from functools import reduce

from django.db.models import Q
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import StrictCharField
from modes.registry import NotRegistered, site

from . import (
    actions,
    dispatch,
    embeddings,
    export,
    idempotency,
    llm,
    model_choice,
    realtime,
    selectors,
    services,
)
from .access import (
    Access,
    message_for,
    redact_message_for_viewer,
    session_access,
    session_for,
    sessions_visible_to,
)
from .api_shapes import ChatSessionDetailSerializer, ChatSessionSerializer, ModeField
from .conf import assistant_settings
from .errors import ServiceUnavailable
from .exceptions import AssistantNotConfigured, InvalidInput, NotFound, QueueUnavailable
from .models import ChatMessage, ChatSession
from .openapi import ASK_LIMITS, ASK_UNAVAILABLE, DISCLAIMER, READ_ONLY, errors
from .serializers import ChatMessageSerializer, FeedbackSerializer, ObjectField, ToolCallSerializer
from .strict_input import JSONBodySerializer, QueryParamsSerializer


class HealthView(APIView):
    """Whether the assistant is configured and its model endpoint answers. No auth."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {
                "enabled": serializers.BooleanField(),
                "endpoint_available": serializers.BooleanField(),
            },
        ),
        summary="Assistant health",
    )
    def get(self, request):
        return Response(
            {
                "enabled": services.assistant_enabled(),
                "endpoint_available": services.assistant_endpoint_available(),
            }
        )


def _require_configured() -> None:
    if not services.assistant_enabled():
        raise AssistantNotConfigured()


def _mode(mode_id):
    try:
        return site.get(mode_id)
    except NotRegistered:
        raise exceptions.ValidationError({"mode": [f"No mode {mode_id!r} is enabled."]}) from None


def _session_for(request, session_id, *, change: bool = False) -> ChatSession:
    """The session if the user may see it now (404 otherwise) and change it (403)."""
    return session_for(user=request.user, session_id=session_id, need=Access.WRITE if change else Access.READ)


def _message_for(request, message_id) -> ChatMessage:
    """A message of a session the user may change now (404 or 403)."""
    return message_for(user=request.user, message_id=message_id, need=Access.WRITE)


class ModeSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    icon = serializers.CharField()
    category = serializers.CharField()
    features = serializers.ListField(child=serializers.CharField())
    placeholder = serializers.CharField()
    supports_template_generation = serializers.BooleanField()
    enable_attachment_options = serializers.BooleanField()
    input_disabled = serializers.CharField(
        allow_null=True, help_text="Why a message can't be sent in this mode now, or null."
    )


class PaginationSerializer(serializers.Serializer):
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    current_page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    total_count = serializers.IntegerField()
    has_next_page = serializers.BooleanField()
    has_prev_page = serializers.BooleanField()


class SessionPageSerializer(serializers.Serializer):
    sessions = ChatSessionSerializer(many=True)
    pagination = PaginationSerializer()


class DisclaimerSerializer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True)
    text = serializers.CharField(required=False)
    accepted = serializers.BooleanField()


def _modes_fields(callback: str) -> dict[str, serializers.Field]:
    """The fields the enabled modes declare with ``callback`` (``form_fields`` or
    ``list_filters``), by name: the first mode that declares a name gives its type."""
    fields: dict[str, serializers.Field] = {}
    for mode in site.all():
        for name, field in getattr(mode, callback)().items():
            fields.setdefault(name, field)
    return fields


class WithModesFields(serializers.Serializer):
    """A serializer whose fields are its own and those the enabled modes declare with
    ``modes_callback``."""

    modes_callback = "form_fields"

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, field in _modes_fields(self.modes_callback).items():
            fields.setdefault(name, field)
        return fields


class ModesContextSerializer(QueryParamsSerializer, WithModesFields):
    """The ids of the objects to ask about (the modes' form fields: ``?job=``,
    ``?project=``)."""


class ModesView(APIView):
    @extend_schema(
        parameters=[ModesContextSerializer],
        responses=inline_serializer("Modes", {"modes": ModeSerializer(many=True)}),
        summary="The enabled assistant modes with their metadata, placeholders, and whether "
        "a message can be sent about the given job or project",
    )
    def get(self, request):
        params = ModesContextSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        context = {"user": request.user}
        # Modes that share a lookup (the built-in ones share the projects') run it once.
        lookups = {type(mode).context_objects: mode for mode in site.all()}
        for mode in lookups.values():
            context.update(mode.context_objects(user=request.user, ids=params.validated_data))
        return Response(
            {
                "modes": [
                    {**mode.metadata(), "input_disabled": mode.chat_input_disabled(context)}
                    for mode in site.all()
                ]
            }
        )


class SessionListSerializer(QueryParamsSerializer, WithModesFields):
    """The list's own parameters, and the filters the enabled modes understand."""

    modes_callback = "list_filters"

    mode = ModeField(required=False)
    search = serializers.CharField(required=False, max_length=200)
    sort = serializers.ChoiceField(["asc", "desc"], default="desc")
    offset = serializers.IntegerField(default=0, min_value=0)
    limit = serializers.IntegerField(default=selectors.DEFAULT_LIMIT, min_value=1, max_value=100)


class SessionCreateSerializer(JSONBodySerializer, WithModesFields):
    """A mode, the first message, and the mode's form (its ``form_fields``)."""

    mode = ModeField()
    content = StrictCharField(max_length=ChatMessage.MAX_LENGTH, trim_whitespace=False)
    meta = serializers.DictField(required=False)


def _page(result, *, has_next_page: bool | None = None) -> dict:
    pagination = result["pagination"].as_dict()
    if has_next_page is not None:
        pagination["has_next_page"] = has_next_page
    return {"sessions": ChatSessionSerializer(result["sessions"], many=True).data, "pagination": pagination}


def _filtered(sessions, filters: dict):
    """The sessions that match ``filters``: of each enabled mode that understands every
    one of them, those its ``filter_sessions`` lets through."""
    if not filters:
        return sessions
    matching = [
        Q(mode=mode.id) & mode.filter_sessions(filters)
        for mode in site.all()
        if set(filters) <= set(mode.list_filters())
    ]
    return sessions.filter(reduce(operator.or_, matching)) if matching else sessions.none()


class SessionsView(APIView):
    @extend_schema(
        parameters=[SessionListSerializer],
        responses=SessionPageSerializer,
        operation_id="sessions_list",
        summary="Your sessions, filtered and paginated",
    )
    def get(self, request):
        params = SessionListSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        mode_id, search = values.pop("mode", None), values.pop("search", None)
        page = {"sort": values.pop("sort"), "offset": values.pop("offset"), "limit": values.pop("limit")}
        filters = {name: value for name, value in values.items() if value is not None}
        visible = sessions_visible_to(request.user)
        if not mode_id:
            return Response(
                _page(selectors.session_search(sessions=_filtered(visible, filters), search=search, **page))
            )
        mode = site.get(mode_id)
        unknown = set(filters) - set(mode.list_filters())
        if unknown:
            # Filters of other modes: none of this mode's sessions has them.
            return Response(_page(selectors.session_search(sessions=visible.none(), **page)))
        result = mode.list_sessions(user=request.user, visible=visible, params=filters, search=search, **page)
        more = mode.more_sessions(
            user=request.user,
            params=filters,
            current_count=page["offset"] + len(result["sessions"]),
            total=result["pagination"].total_count,
        )
        return Response(_page(result, has_next_page=more))

    @extend_schema(
        request=SessionCreateSerializer,
        parameters=[idempotency.PARAMETER],
        responses={
            201: ChatSessionDetailSerializer,
            **idempotency.RESPONSES,
            **errors(
                {
                    403: "Your role can't start a conversation about this (a viewer). " + DISCLAIMER,
                    429: ASK_LIMITS,
                    503: ASK_UNAVAILABLE,
                }
            ),
        },
    )
    @idempotency.creating
    def post(self, request):
        data = SessionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        mode = _mode(values.pop("mode"))
        _require_configured()
        services.disclaimer_check(user=request.user)
        content, meta = values.pop("content"), values.pop("meta", None)
        params = {k: v for k, v in values.items() if v is not None}
        mode.context_objects(user=request.user, ids=params)
        session = mode.create_session(user=request.user, content=content, params=params, meta=meta)
        session = mode.get_session(session_id=session.pk)
        return Response(ChatSessionDetailSerializer(session).data, status=status.HTTP_201_CREATED)


class SearchParamsSerializer(QueryParamsSerializer):
    q = serializers.CharField(max_length=200, help_text="Words the messages say (the last may be cut short).")
    offset = serializers.IntegerField(default=0, min_value=0)
    limit = serializers.IntegerField(default=selectors.DEFAULT_LIMIT, min_value=1, max_value=50)


class SearchHitSerializer(serializers.Serializer):
    session = ChatSessionSerializer()
    message = serializers.UUIDField(
        source="match.message_id", help_text="The session's best-matching message."
    )
    role = serializers.ChoiceField(ChatMessage.Role.choices, source="match.role")
    snippet = serializers.CharField(
        source="match.snippet",
        help_text="HTML: the message's words around the match, escaped, matches in <mark>.",
    )


class SearchPageSerializer(serializers.Serializer):
    results = SearchHitSerializer(many=True)
    pagination = PaginationSerializer()


class SearchView(APIView):
    @extend_schema(
        parameters=[SearchParamsSerializer],
        responses=SearchPageSerializer,
        summary="Your conversations that said these words, best match first, with snippets",
    )
    def get(self, request):
        params = SearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = selectors.message_search(
            sessions=sessions_visible_to(request.user),
            query=params.validated_data["q"],
            offset=params.validated_data["offset"],
            limit=params.validated_data["limit"],
        )
        hits = [{"session": session, "match": match} for session, match in found["results"]]
        return Response(
            {
                "results": SearchHitSerializer(hits, many=True).data,
                "pagination": found["pagination"].as_dict(),
            }
        )


class SemanticSearchParamsSerializer(QueryParamsSerializer):
    q = serializers.CharField(max_length=1000, help_text="What to look for, in your own words.")
    model = serializers.CharField(
        max_length=100, help_text="The embedded model to search, as app_label.model (projects.job)."
    )
    limit = serializers.IntegerField(default=10, min_value=1, max_value=embeddings.searching.MAX_K)

    def validate_model(self, value: str) -> str:
        label = value.lower()
        if label not in embeddings.site:
            known = ", ".join(embeddings.site.labels()) or "none"
            raise serializers.ValidationError(f"Not an embedded model; one of: {known}.")
        return label


class SemanticHitSerializer(serializers.Serializer):
    score = serializers.FloatField(help_text="Cosine similarity to the query, -1 to 1; higher is nearer.")
    object = ObjectField(source="row", help_text="The row's values that the model's declaration shows.")


class SemanticSearchResultSerializer(serializers.Serializer):
    model = serializers.CharField()
    results = SemanticHitSerializer(many=True)


class SemanticSearchView(APIView):
    @extend_schema(
        parameters=[SemanticSearchParamsSerializer],
        responses={
            200: SemanticSearchResultSerializer,
            **errors(
                {400: "No query, or not an embedded model.", 503: "The embedding model is unavailable."}
            ),
        },
        summary="The rows of an embedded model you may see that are nearest in meaning to a query",
    )
    def get(self, request):
        params = SemanticSearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        label = params.validated_data["model"]
        try:
            hits = embeddings.nearest(
                embeddings.site.get(label),
                user=request.user,
                query=params.validated_data["q"],
                k=params.validated_data["limit"],
            )
        except llm.LLMError as exc:
            raise ServiceUnavailable(exc.message) from None
        return Response(SemanticSearchResultSerializer({"model": label, "results": hits}).data)


class SessionUpdateSerializer(JSONBodySerializer):
    title = StrictCharField(max_length=100, required=False)
    is_public = serializers.BooleanField(required=False)


class SessionWithInputSerializer(ChatSessionDetailSerializer):
    input_disabled = serializers.CharField(
        read_only=True, allow_null=True, help_text="Why you can't send a message now, or null."
    )
    tool_calls = ToolCallSerializer(
        many=True, read_only=True, help_text="Your writing tools' calls here: waiting for you, or decided."
    )
    feedback = FeedbackSerializer(many=True, read_only=True, help_text="Your ratings of the answers here.")
    leaf = serializers.UUIDField(
        source="leaf_id", read_only=True, allow_null=True, help_text="The question ending the branch shown."
    )
    seq = serializers.IntegerField(
        read_only=True,
        help_text="Where the session's event stream stood when this was read: resume the websocket "
        "or SSE stream after it to get every later change and nothing this already shows.",
    )

    class Meta(ChatSessionDetailSerializer.Meta):
        fields = [
            *ChatSessionDetailSerializer.Meta.fields,
            "input_disabled",
            "tool_calls",
            "feedback",
            "leaf",
            "seq",
        ]
        read_only_fields = fields


class SessionExportView(APIView):
    """The conversation as a file. ``format`` chooses it (not the renderer)."""

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, enum=list(export.FORMATS), description="markdown (default) or json"
            )
        ],
        responses={
            (200, "text/markdown"): str,
            (200, "application/json"): ChatSessionDetailSerializer,
            **errors({400: "Not one of the formats."}),
        },
        summary="Export a session as Markdown or JSON",
    )
    def get(self, request, session_id):
        chosen = request.query_params.get("format", "markdown")
        if chosen not in export.FORMATS:
            raise InvalidInput({"format": [f"Choose one of: {', '.join(export.FORMATS)}."]})
        session = selectors.session_get(session_id=_session_for(request, session_id).pk)
        data = dict(ChatSessionDetailSerializer(session).data)
        if session.user_id != request.user.pk:
            data["messages"] = [redact_message_for_viewer(message) for message in data["messages"]]
        if chosen == "json":
            response = Response(data)
            name = export.filename(session, "json")
        else:
            text = export.as_markdown(session, data["messages"], session.conversation)
            response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
            name = export.filename(session, "md")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ShareLinkSerializer(serializers.Serializer):
    shared = serializers.BooleanField(help_text="Whether a link opens the conversation now.")
    created_at = serializers.DateTimeField(allow_null=True)
    url = serializers.URLField(
        required=False, help_text="The link: only in the answer that made it (only its hash is kept)."
    )


def share_url(request, token: str) -> str:
    return request.build_absolute_uri(reverse("shared-page", args=[token]))


class SessionShareView(APIView):
    """A read-only link to the conversation, for anyone holding it: logged in or not,
    without joining anyone's list, without tool arguments and results."""

    @extend_schema(
        responses={200: ShareLinkSerializer, **errors({403: READ_ONLY})},
        summary="Whether the session is shared by link",
    )
    def get(self, request, session_id):
        link = selectors.share_link_active(session=_session_for(request, session_id, change=True))
        return Response({"shared": link is not None, "created_at": link.created_at if link else None})

    @extend_schema(
        request=None,
        responses={201: ShareLinkSerializer, **errors({403: READ_ONLY})},
        summary="Share by link (replaces the last)",
    )
    def post(self, request, session_id):
        session = _session_for(request, session_id, change=True)
        link, token = services.share_link_create(session=session, user=request.user)
        body = {"shared": True, "created_at": link.created_at, "url": share_url(request, token)}
        return Response(ShareLinkSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={204: None, **errors({403: READ_ONLY})}, summary="Stop sharing: the link stops working"
    )
    def delete(self, request, session_id):
        services.share_link_revoke(session=_session_for(request, session_id, change=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedSessionSerializer(serializers.Serializer):
    title = serializers.CharField()
    created_at = serializers.DateTimeField()
    messages = ChatMessageSerializer(many=True, source="conversation")


def shared_data(token: str) -> dict:
    """What a share link shows: the title and the branch shown, tool calls without
    their arguments and results. ``NotFound`` for a revoked or unknown link."""
    link = selectors.share_link_of(token=token)
    # Decided now: a link stops when its maker may no longer read the session.
    if link is None or session_access(user=link.created_by, session=link.session) < Access.READ:
        raise NotFound()
    session = selectors.session_get(session_id=link.session_id)
    data = dict(SharedSessionSerializer(session).data)
    data["messages"] = [redact_message_for_viewer(message) for message in data["messages"]]
    return data


class SharedSessionView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        responses={200: SharedSessionSerializer, **errors({404: "No link works with this token."})},
        summary="A conversation shared by link (no login)",
    )
    def get(self, request, token):
        return Response(shared_data(token))


class SessionDetailView(APIView):
    @extend_schema(responses=SessionWithInputSerializer, summary="A session with its messages")
    def get(self, request, session_id):
        session = _session_for(request, session_id)
        seq = realtime.last_seq(session.pk)  # before the state is read: nothing is missed
        try:
            session = site.get(session.mode).get_session(session_id=session.pk)
        except NotRegistered:
            session = selectors.session_get(session_id=session.pk)
        session.input_disabled = _input_disabled(request.user, session)
        session.tool_calls = selectors.session_tool_calls(session=session, user=request.user)
        session.feedback = selectors.session_feedback(session=session, user=request.user)
        session.seq = seq
        data = SessionWithInputSerializer(session).data
        if session.user_id != request.user.pk:
            data["messages"] = [redact_message_for_viewer(message) for message in data["messages"]]
        return Response(data)

    @extend_schema(
        request=SessionUpdateSerializer,
        responses={200: ChatSessionSerializer, **errors({403: READ_ONLY})},
        summary="Rename, or make public or private",
    )
    def patch(self, request, session_id):
        session = _session_for(request, session_id, change=True)
        data = SessionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "title" in data.validated_data:
            services.session_rename(session=session, title=data.validated_data["title"])
        if "is_public" in data.validated_data:
            services.session_set_public(session=session, is_public=data.validated_data["is_public"])
        return Response(ChatSessionSerializer(session).data)

    @extend_schema(responses={204: None, **errors({403: READ_ONLY})}, summary="Delete a session")
    def delete(self, request, session_id):
        services.session_delete(session=_session_for(request, session_id, change=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _input_disabled(user, session: ChatSession) -> str | None:
    if session_access(user=user, session=session) < Access.WRITE:
        return "This session is read-only for you: you can't send messages in it."
    try:
        mode = site.get(session.mode)
    except NotRegistered:
        return "This assistant mode is not available any more."
    return mode.chat_input_disabled({"user": user, "session": session})


class MessageCreateSerializer(JSONBodySerializer):
    content = StrictCharField(max_length=ChatMessage.MAX_LENGTH, trim_whitespace=False)
    options = serializers.DictField(required=False)


class SessionMessagesView(APIView):
    @extend_schema(
        request=MessageCreateSerializer,
        parameters=[idempotency.PARAMETER],
        responses={
            202: ChatMessageSerializer,
            **idempotency.RESPONSES,
            **errors({403: f"{READ_ONLY} {DISCLAIMER}", 429: ASK_LIMITS, 503: ASK_UNAVAILABLE}),
        },
    )
    @idempotency.creating
    def post(self, request, session_id):
        session = _session_for(request, session_id, change=True)
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mode = _mode(session.mode)
        _require_configured()
        services.disclaimer_check(user=request.user)
        message = mode.save_message(
            session=session,
            user=request.user,
            content=data.validated_data["content"],
            options=data.validated_data.get("options"),
        )
        return Response(ChatMessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class ApplyRequestSerializer(JSONBodySerializer):
    dry_run = serializers.BooleanField(
        default=False, help_text="Report what applying would change, and change nothing."
    )
    message = serializers.UUIDField(
        required=False, help_text="The reply whose template to apply; the session's last one by default."
    )


class AppliedWorkflowSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="Null in a dry run that would create it.")
    name = serializers.CharField()
    created = serializers.BooleanField()
    renamed_from = serializers.CharField(allow_null=True)
    spec_changed = serializers.BooleanField()


class AppliedJobsSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())


class ApplyChangesSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    workflow = AppliedWorkflowSerializer()
    jobs = AppliedJobsSerializer(help_text="Job names; jobs are matched by name.")
    removed_history = inline_serializer(
        "RemovedHistory", {"runs": serializers.IntegerField(), "conversations": serializers.IntegerField()}
    )
    summary = serializers.CharField()


class SessionAppliedSerializer(ChatSessionSerializer):
    changes = ApplyChangesSerializer(read_only=True)

    class Meta(ChatSessionSerializer.Meta):
        fields = [*ChatSessionSerializer.Meta.fields, "changes"]
        read_only_fields = fields


class SessionApplyView(APIView):
    @extend_schema(
        request=ApplyRequestSerializer,
        responses={
            200: SessionAppliedSerializer,
            **errors(
                {
                    400: "message is not a workflow template reply of the session.",
                    403: READ_ONLY,
                    409: "No template to apply, the template is invalid, or another workflow of the "
                    "project already has its name.",
                }
            ),
        },
        summary="Apply a workflow template of the session (or, with dry_run, report what it would change)",
    )
    def post(self, request, session_id):
        session = _session_for(request, session_id, change=True)
        data = ApplyRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dry_run, chosen = data.validated_data["dry_run"], data.validated_data.get("message")
        session.changes = site.get(session.mode).apply(session=session, message_id=chosen, dry_run=dry_run)
        return Response(SessionAppliedSerializer(session).data)


class MessageRetryView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: ChatMessageSerializer,
            **errors(
                {
                    403: f"{READ_ONLY} {DISCLAIMER}",
                    409: "Not a failed or cancelled question.",
                    429: ASK_LIMITS,
                    503: ASK_UNAVAILABLE,
                }
            ),
        },
        summary="A failed or cancelled question back to pending",
    )
    def post(self, request, message_id):
        message = _message_for(request, message_id)
        response = _queued(request, lambda: services.message_retry(message=message))
        response.status_code = status.HTTP_200_OK
        return response


class ChoiceSerializer(JSONBodySerializer):
    options = serializers.DictField(
        required=False, help_text="The model choice for the new answer: `model`, `reasoning_effort`."
    )


class MessageEditSerializer(ChoiceSerializer):
    content = StrictCharField(max_length=ChatMessage.MAX_LENGTH, trim_whitespace=False)


def _queued(request, start) -> Response:
    """Run ``start`` (a service that queues a question) and answer with the question;
    503 with it when no worker could be told (the sweeper hands it on)."""
    _require_configured()
    services.disclaimer_check(user=request.user)
    with dispatch.tracking_unqueued() as unqueued:
        message = start()
    data = ChatMessageSerializer(message).data
    if unqueued:
        raise QueueUnavailable(result=data)
    return Response(data, status=status.HTTP_202_ACCEPTED)


class MessageRegenerateView(APIView):
    @extend_schema(
        request=ChoiceSerializer,
        responses={
            202: ChatMessageSerializer,
            **errors(
                {
                    403: f"{READ_ONLY} {DISCLAIMER}",
                    409: "Not an answer, or its question is being answered.",
                    429: ASK_LIMITS,
                    503: ASK_UNAVAILABLE,
                }
            ),
        },
        summary="A new answer to an answer's question (the earlier ones stay as versions)",
    )
    def post(self, request, message_id):
        message = _message_for(request, message_id)
        data = ChoiceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        choice = data.validated_data.get("options")
        return _queued(request, lambda: services.message_regenerate(message=message, choice=choice))


class MessageEditView(APIView):
    @extend_schema(
        request=MessageEditSerializer,
        responses={
            202: ChatMessageSerializer,
            **errors(
                {
                    403: f"{READ_ONLY} {DISCLAIMER}",
                    409: "Not a question.",
                    429: ASK_LIMITS,
                    503: ASK_UNAVAILABLE,
                }
            ),
        },
        summary="Ask a question again, changed: a new branch from there",
    )
    def post(self, request, message_id):
        message = _message_for(request, message_id)
        data = MessageEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _queued(
            request,
            lambda: services.message_edit(
                message=message,
                user=request.user,
                content=data.validated_data["content"],
                choice=data.validated_data.get("options"),
            ),
        )


class MessageShowView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: SessionWithInputSerializer,
            **errors({403: READ_ONLY, 409: "The turn has no other versions, or it is being answered."}),
        },
        summary="Show this version of its turn (an answer, or a question's branch)",
    )
    def post(self, request, message_id):
        message = _message_for(request, message_id)
        services.message_show(message=message)
        return SessionDetailView().get(request, message.session_id)


class MessageCancelView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: ChatMessageSerializer,
            **errors({403: READ_ONLY, 409: "Not a pending or processing message."}),
        },
        summary="Cancel a pending or processing message",
    )
    def post(self, request, message_id):
        message = services.message_cancel(message=_message_for(request, message_id))
        return Response(ChatMessageSerializer(message).data)


class FeedbackView(APIView):
    """Your thumbs up or down on an answer you may read, with an optional comment."""

    def _answer(self, request, message_id) -> ChatMessage:
        return message_for(user=request.user, message_id=message_id, need=Access.READ)

    @extend_schema(
        request=FeedbackSerializer,
        responses={200: FeedbackSerializer, **errors({400: "A question, or not up or down."})},
        summary="Rate an answer",
    )
    def put(self, request, message_id):
        message = self._answer(request, message_id)
        data = FeedbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_give(message=message, user=request.user, **data.validated_data)
        return Response(FeedbackSerializer(feedback).data)

    @extend_schema(responses={204: None}, summary="Take your rating back")
    def delete(self, request, message_id):
        services.feedback_withdraw(message=self._answer(request, message_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _ToolCallDecisionView(APIView):
    approve: bool

    def post(self, request, message_id, call_id):
        call = services.tool_call_decide(
            user=request.user,
            message=_message_for(request, message_id),
            call_id=call_id,
            approve=self.approve,
        )
        return Response(ToolCallSerializer(call).data)


#: The statuses of a decision on a writing tool's call.
DECISION = {
    200: ToolCallSerializer,
    **errors(
        {
            404: "No such call waiting for you (only the asker decides).",
            409: "Already decided, or it expired.",
        }
    ),
}


@extend_schema_view(
    post=extend_schema(
        request=None,
        responses={**DECISION, **errors({403: READ_ONLY})},
        summary="Approve a writing tool's call the answer waits on",
    )
)
class ToolCallApproveView(_ToolCallDecisionView):
    approve = True


@extend_schema_view(
    post=extend_schema(
        request=None,
        responses={**DECISION, **errors({403: READ_ONLY})},
        summary="Reject a writing tool call",
    )
)
class ToolCallRejectView(_ToolCallDecisionView):
    approve = False


class AgentToolCallsView(APIView):
    @extend_schema(
        responses=ToolCallSerializer(many=True),
        summary="Writing tools' calls outside agents made over MCP, waiting for your decision",
    )
    def get(self, request):
        return Response(
            ToolCallSerializer(selectors.agent_tool_calls_waiting(user=request.user), many=True).data
        )


class _AgentToolCallDecisionView(APIView):
    approve: bool

    def post(self, request, tool_call_id):
        call = services.tool_call_decide_for_agent(
            user=request.user, tool_call_id=tool_call_id, approve=self.approve
        )
        return Response(ToolCallSerializer(call).data)


@extend_schema_view(post=extend_schema(request=None, responses=DECISION, summary="Approve an agent's call"))
class AgentToolCallApproveView(_AgentToolCallDecisionView):
    approve = True


@extend_schema_view(post=extend_schema(request=None, responses=DECISION, summary="Reject an agent's call"))
class AgentToolCallRejectView(_AgentToolCallDecisionView):
    approve = False


class ModelUsageSerializer(serializers.Serializer):
    model = serializers.CharField()
    tokens = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    period = serializers.ChoiceField(["day", "month"], help_text="What the limit counts over (UTC).")
    period_start = serializers.DateTimeField()
    resets_at = serializers.DateTimeField(help_text="When the count starts again.")
    used = serializers.IntegerField(help_text="Your tokens this period.")
    limit = serializers.IntegerField(allow_null=True, help_text="Your limit per period; null: none.")
    by_model = ModelUsageSerializer(many=True)


class UsageView(APIView):
    @extend_schema(responses=UsageSerializer, summary="Your tokens this period, against your limit")
    def get(self, request):
        start = services.usage_period_start()
        body = {
            "period": assistant_settings.USAGE_PERIOD,
            "period_start": start,
            "resets_at": services.usage_period_end(start),
            "limit": assistant_settings.USER_TOKEN_LIMIT,
            **selectors.usage_of(user=request.user, since=start),
        }
        return Response(UsageSerializer(body).data)


class ModelOptionSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()
    reasoning = serializers.BooleanField(help_text="Whether it takes options.reasoning_effort.")


class ModelsView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "ModelList",
            {
                "models": ModelOptionSerializer(many=True),
                "default": serializers.CharField(),
                "reasoning_efforts": serializers.ListField(child=serializers.CharField()),
            },
        ),
        summary="The models you may pick for a message (options.model)",
    )
    def get(self, request):
        return Response(
            {
                "models": [option.as_dict() for option in model_choice.available()],
                "default": model_choice.default().id,
                "reasoning_efforts": list(model_choice.REASONING_EFFORTS),
            }
        )


class ActionSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    input_schema = ObjectField(help_text="The JSON schema of its input.")
    output_schema = ObjectField(help_text="The JSON schema of its result.")


class ActionsView(APIView):
    @extend_schema(responses=ActionSerializer(many=True), summary="The prompt-backed actions")
    def get(self, request):
        return Response(ActionSerializer(actions.site.all(), many=True).data)


class ActionRunView(APIView):
    @extend_schema(
        request=inline_serializer("ActionInput", {}),
        responses={
            200: inline_serializer(
                "ActionResult", {"result": ObjectField(help_text="Its output schema's object.")}
            ),
            **errors(
                {
                    400: "The input does not match the action's input schema.",
                    404: "No action has this name.",
                    502: "The model's answer did not match the output schema, even after a repair.",
                    503: "The model is unavailable.",
                }
            ),
        },
        summary="Run a prompt-backed action: its input in, its typed result out",
    )
    def post(self, request, name):
        try:
            action = actions.site.get(name)
        except NotRegistered:
            raise NotFound(f"There is no action {name!r}.") from None
        if not isinstance(request.data, dict):
            raise InvalidInput("The input is a JSON object.")
        try:
            result = actions.run(action, user=request.user, arguments=dict(request.data))
        except llm.LLMError as exc:
            raise ServiceUnavailable(exc.message) from None
        return Response({"result": result})


class DisclaimerView(APIView):
    @extend_schema(
        responses=DisclaimerSerializer, summary="The current disclaimer and whether you accepted it recently"
    )
    def get(self, request):
        disclaimer = services.disclaimer_active()
        return Response(
            {
                "version": disclaimer.version if disclaimer else None,
                "text": disclaimer.text if disclaimer else "",
                "accepted": services.disclaimer_read_recently(user=request.user),
            }
        )

    @extend_schema(
        request=None,
        responses={200: DisclaimerSerializer, **errors({409: "There is no active disclaimer to accept."})},
        summary="Accept the current disclaimer",
    )
    def post(self, request):
        acceptance = services.disclaimer_mark_read(user=request.user)
        return Response({"version": acceptance.disclaimer.version, "accepted": True})
