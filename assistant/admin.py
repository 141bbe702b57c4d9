from django import forms
from django.contrib import admin, messages
from django.db.models import Count

from accounts.admin import RecordAdmin

from . import services
from .exceptions import Conflict
from .models import AIUsage, ChatMessage, ChatSession, Disclaimer, Feedback, ToolCall


class ChatMessageInline(admin.TabularInline):
    model = ChatMessage
    fk_name = "session"
    extra = 0
    can_delete = False
    fields = ("created_at", "role", "status", "content", "code", "error", "usage")
    readonly_fields = fields
    ordering = ("created_at",)
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "mode",
        "user",
        "subject_type",
        "subject_id",
        "scope",
        "message_count",
        "updated_at",
    )
    list_filter = ("mode", "is_public", "subject_type")
    list_select_related = ("user", "subject_type")
    search_fields = ("title", "messages__content", "scope")
    raw_id_fields = ("user",)
    readonly_fields = ("id", "subject_type", "subject_id", "scope", "created_at", "updated_at")
    inlines = [ChatMessageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_message_count=Count("messages"))

    @admin.display(ordering="_message_count", description="messages")
    def message_count(self, obj) -> int:
        return obj._message_count


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("short_content", "role", "status", "mode", "session", "attempts", "created_at")
    list_filter = ("status", "role", ("session__mode", admin.AllValuesFieldListFilter))
    list_select_related = ("session",)
    search_fields = ("content", "session__title")
    raw_id_fields = ("session", "user", "reply_to")
    readonly_fields = (
        "id", "created_at", "updated_at", "processing_started_at", "processing_completed_at",
        "heartbeat_at", "attempts", "usage", "partial",
    )  # fmt: skip
    actions = ["retry_messages", "cancel_messages"]

    @admin.display(description="content")
    def short_content(self, obj) -> str:
        return obj.content[:80]

    @admin.display(ordering="session__mode", description="mode")
    def mode(self, obj) -> str:
        return obj.session.mode

    def _apply(self, request, queryset, action, verb: str) -> None:
        done, refused = 0, 0
        for message in queryset:
            try:
                action(message=message)
                done += 1
            except Conflict:
                refused += 1
        self.message_user(request, f"{verb} {done} message(s).")
        if refused:
            self.message_user(request, f"{refused} message(s) could not be {verb.lower()}.", messages.WARNING)

    @admin.action(description="Retry the selected failed or cancelled messages", permissions=["change"])
    def retry_messages(self, request, queryset):
        self._apply(request, queryset, services.message_retry, "Retried")

    @admin.action(description="Cancel the selected pending or processing messages", permissions=["change"])
    def cancel_messages(self, request, queryset):
        self._apply(request, queryset, services.message_cancel, "Cancelled")


class DisclaimerForm(forms.ModelForm):
    activate = forms.BooleanField(required=False, label="Make this the active disclaimer")

    class Meta:
        model = Disclaimer
        fields = ["version", "text"]


@admin.register(Disclaimer)
class DisclaimerAdmin(admin.ModelAdmin):
    form = DisclaimerForm
    list_display = ("version", "is_active", "created_at")
    readonly_fields = ("is_active",)
    actions = ["activate"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not self.has_change_permission(request):
            # Activating one deactivates the current one: a change, offered with that permission.
            form.base_fields.pop("activate", None)
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("activate") and self.has_change_permission(request):
            services.disclaimer_activate(disclaimer=obj)

    @admin.action(description="Make the selected disclaimer the active one", permissions=["change"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one disclaimer.", messages.WARNING)
            return
        services.disclaimer_activate(disclaimer=queryset.get())


@admin.register(AIUsage)
class AIUsageAdmin(RecordAdmin):
    list_display = ("created_at", "user", "scope", "source", "model", "total_tokens")
    list_filter = ("source", "model")
    list_select_related = ("user",)
    search_fields = ("user__username", "model", "scope")
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ToolCall)
class ToolCallAdmin(RecordAdmin):
    """Writing tools' calls and their decisions: a record, not something to edit."""

    list_display = ("created_at", "name", "status", "user", "decided_at", "message")
    list_filter = ("status", "name")
    list_select_related = ("user",)
    search_fields = ("user__username", "name", "call_id")
    readonly_fields = ("message", "user", "call_id", "name", "arguments", "preview", "status", "outcome",
                       "decided_at", "expires_at", "created_at")  # fmt: skip
    date_hierarchy = "created_at"


@admin.register(Feedback)
class FeedbackAdmin(RecordAdmin):
    """Users' ratings of answers; ``manage.py export_feedback`` writes them as JSONL."""

    list_display = ("created_at", "rating", "model", "user", "comment", "message")
    list_filter = ("rating", "model", ("comment", admin.EmptyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("user__username", "comment", "model")
    readonly_fields = ("message", "user", "rating", "comment", "model", "created_at", "updated_at")
    date_hierarchy = "created_at"
