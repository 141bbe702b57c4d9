from django.urls import path

from . import api, sse

urlpatterns = [
    path("health/", api.HealthView.as_view(), name="health"),
    path("modes/", api.ModesView.as_view(), name="modes"),
    path("sessions/", api.SessionsView.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>/", api.SessionDetailView.as_view(), name="session"),
    path("sessions/<uuid:session_id>/export", api.SessionExportView.as_view(), name="session-export"),
    path("sessions/<uuid:session_id>/messages/", api.SessionMessagesView.as_view(), name="session-messages"),
    path("sessions/<uuid:session_id>/events", sse.session_events, name="session-events"),
    path("sessions/<uuid:session_id>/share/", api.SessionShareView.as_view(), name="session-share"),
    path("shared/<str:token>/", api.SharedSessionView.as_view(), name="shared-session"),
    path("sessions/<uuid:session_id>/apply/", api.SessionApplyView.as_view(), name="session-apply"),
    path("messages/<uuid:message_id>/retry/", api.MessageRetryView.as_view(), name="message-retry"),
    path("messages/<uuid:message_id>/cancel/", api.MessageCancelView.as_view(), name="message-cancel"),
    path(
        "messages/<uuid:message_id>/regenerate/",
        api.MessageRegenerateView.as_view(),
        name="message-regenerate",
    ),
    path("messages/<uuid:message_id>/edit/", api.MessageEditView.as_view(), name="message-edit"),
    path("messages/<uuid:message_id>/show/", api.MessageShowView.as_view(), name="message-show"),
    path("messages/<uuid:message_id>/feedback/", api.FeedbackView.as_view(), name="message-feedback"),
    path("models/", api.ModelsView.as_view(), name="models"),
    path("search/", api.SearchView.as_view(), name="search"),
    path("search/semantic", api.SemanticSearchView.as_view(), name="semantic-search"),
    path("usage/", api.UsageView.as_view(), name="usage"),
    path("actions/", api.ActionsView.as_view(), name="actions"),
    path("tool-calls/", api.AgentToolCallsView.as_view(), name="agent-tool-calls"),
    path(
        "tool-calls/<uuid:tool_call_id>/approve/",
        api.AgentToolCallApproveView.as_view(),
        name="agent-tool-call-approve",
    ),
    path(
        "tool-calls/<uuid:tool_call_id>/reject/",
        api.AgentToolCallRejectView.as_view(),
        name="agent-tool-call-reject",
    ),
    path("actions/<str:name>/", api.ActionRunView.as_view(), name="action-run"),
    path(
        "messages/<uuid:message_id>/tools/<str:call_id>/approve/",
        api.ToolCallApproveView.as_view(),
        name="tool-call-approve",
    ),
    path(
        "messages/<uuid:message_id>/tools/<str:call_id>/reject/",
        api.ToolCallRejectView.as_view(),
        name="tool-call-reject",
    ),
    path("disclaimer/", api.DisclaimerView.as_view(), name="disclaimer"),
]
