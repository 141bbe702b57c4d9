"""The assistant's own state: chat sessions and messages, disclaimers, and usage."""

import hashlib
import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.functional import cached_property

from . import branches


def title_max_length() -> int:
    """The longest a session title may be."""
    return 40


class ChatSession(models.Model):
    """A conversation of one user with the assistant, in one mode, about one object."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=title_max_length(), blank=True)
    mode = models.CharField(max_length=64, help_text="A registered mode id.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions")
    #: The object the conversation is about (any model of the site), set by its mode;
    #: none for a conversation about nothing in particular.
    subject_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject_id = models.CharField(max_length=64, blank=True, default="")
    subject = GenericForeignKey("subject_type", "subject_id")
    #: The group the conversation belongs to, set by its mode (the built-in modes: its
    #: project, ``"project:<id>"``): listed together, and limited together by
    #: ``SCOPE_TOKEN_LIMIT``.
    scope = models.CharField(max_length=100, blank=True, default="")
    is_public = models.BooleanField(default=False)
    meta = models.JSONField(default=dict, blank=True)
    #: The question at the end of the branch being shown and continued: a new question
    #: follows it, and the model sees the turns from the first question down to it.
    leaf = models.ForeignKey(
        "ChatMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "updated_at"], name="session_subject_updated"),
            models.Index(fields=["scope", "updated_at"], name="session_scope_updated"),
            models.Index(fields=["user", "updated_at"], name="session_user_updated"),
            models.Index(fields=["updated_at"], name="session_updated"),
        ]

    def __str__(self) -> str:
        return self.title or f"Session {self.pk}"

    @cached_property
    def conversation(self) -> list["ChatMessage"]:
        """The messages shown: the branch ending at ``leaf``, each question with its
        shown answer (``assistant.branches``), from the prefetched ``messages``."""
        return branches.conversation(list(self.messages.all()), self.leaf_id)


class ChatMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        SUCCESS = "success"
        ERROR = "error"
        CANCELLED = "cancelled"

    #: Longest content a user may send.
    MAX_LENGTH = 10_000

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    code = models.TextField(null=True, blank=True, help_text="YAML or suggested code.")  # noqa: DJ001
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="chat_messages",
    )
    error = models.TextField(blank=True)
    #: A user message's answer as streamed so far, saved at intervals while it streams;
    #: kept when processing stops half-way, emptied when a new attempt starts or the
    #: reply is saved.
    partial = models.TextField(blank=True, default="")
    meta = models.JSONField(default=dict, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    reply_to = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reply",
        help_text="The user message this assistant message answers.",
    )
    #: A user message: the question before it on its branch (none for a first question);
    #: questions with the same parent are versions of one turn (an edit starts another).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="followers"
    )
    #: An assistant message: the question it is a version of the answer to. The shown
    #: version is the one ``reply_to`` that question; regenerating keeps the others.
    version_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="answers"
    )
    #: Processing attempts since the message was last queued by a person: every claim
    #: adds one, and the claiming run's writes are conditional on its number.
    attempts = models.PositiveSmallIntegerField(default=0)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processing_completed_at = models.DateTimeField(null=True, blank=True)
    #: Touched by the worker's process every few seconds while it answers (whether or
    #: not the model is sending anything); a stale one means the worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    #: When a pending message's next try is due (a retry after a backoff); empty: when
    #: it was queued (``updated_at``). The sweeper requeues a pending message that is
    #: still waiting well after this, whose task died with its worker.
    due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    #: When the status last changed.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["session", "created_at"], name="message_session_created"),
            models.Index(
                fields=["status", "updated_at"],
                name="message_unfinished",
                condition=models.Q(status__in=["pending", "processing"]),
            ),
            models.Index(fields=["status", "created_at"], name="message_status_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="assistant") | models.Q(user__isnull=False),
                name="user_message_has_user",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "processing", "success", "error", "cancelled"]),
                name="message_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ToolCall(models.Model):
    """A call of a writing tool that the model proposed while answering ``message`` (or
    that an outside agent made over MCP, with no message): it runs only once ``user``
    (the asker, the key's owner) approves it; rejected or expired, it changes nothing.
    The decision and what came of it are kept with it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved"
        REJECTED = "rejected"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    #: The question being answered; empty for a call an outside agent made over MCP.
    message = models.ForeignKey(
        ChatMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="tool_calls"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    #: The model's id of the call.
    call_id = models.CharField(max_length=100)
    name = models.CharField(max_length=64)
    arguments = models.JSONField(default=dict)
    #: What the user is shown to decide (for code, a diff).
    preview = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    #: After an approval: ``{"ok": bool, "result" | "error": text}``.
    outcome = models.JSONField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["message", "call_id"], name="tool_call_once_per_message"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "rejected", "expired"]),
                name="tool_call_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class Feedback(models.Model):
    """A user's thumbs up or down on one answer, with an optional comment; one per user
    and answer (a second rating replaces the first)."""

    class Rating(models.TextChoices):
        UP = "up"
        DOWN = "down"

    COMMENT_MAX_LENGTH = 2_000

    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.CharField(max_length=8, choices=Rating.choices)
    comment = models.TextField(blank=True, default="")
    #: The model that wrote the answer, for evaluation by model.
    model = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="feedback_once_per_user"),
            models.CheckConstraint(
                condition=models.Q(rating__in=["up", "down"]), name="feedback_rating_valid"
            ),
        ]
        indexes = [models.Index(fields=["rating", "created_at"], name="feedback_rating_created")]

    def __str__(self) -> str:
        return f"{self.rating} on {self.message_id}"


class ShareLink(models.Model):
    """A read-only link to a conversation: anyone holding its token reads the branch
    shown, without tool arguments and results, for as long as the link is not revoked
    and its maker may still read the session. Only the token's hash is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_share_link_per_session",
            )
        ]

    def __str__(self) -> str:
        return f"Link to {self.session_id}" + (" (revoked)" if self.revoked_at else "")

    @staticmethod
    def hash_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class Disclaimer(models.Model):
    """The text a user accepts before using the assistant; one version is active."""

    version = models.PositiveIntegerField(unique=True)
    text = models.TextField()
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="one_active_disclaimer"
            )
        ]

    def __str__(self) -> str:
        return f"Disclaimer v{self.version}"


class DisclaimerAcceptance(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="disclaimer_acceptances"
    )
    disclaimer = models.ForeignKey(Disclaimer, on_delete=models.CASCADE, related_name="acceptances")
    accepted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "disclaimer"], name="one_acceptance_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.user} accepted v{self.disclaimer_id} at {self.accepted_at:%Y-%m-%d %H:%M}"


class AIUsage(models.Model):
    """Tokens one model call used; summed for limits and reports."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ai_usage")
    #: The session's scope when the tokens were used.
    scope = models.CharField(max_length=100, blank=True, default="")
    session = models.ForeignKey(
        ChatSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_rows"
    )
    message = models.ForeignKey(
        ChatMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_rows"
    )
    source = models.CharField(max_length=32, default="chat")
    model = models.CharField(max_length=255, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "AI usage"
        verbose_name_plural = "AI usage"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="usage_user_created"),
            models.Index(fields=["scope", "created_at"], name="usage_scope_created"),
        ]

    def __str__(self) -> str:
        return f"{self.total_tokens} tokens by {self.user}"


class IdempotencyKey(models.Model):
    """The stored answer to a creating POST sent with an ``Idempotency-Key`` header, so a
    retried request gets the first answer and creates nothing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    #: SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.key} of {self.user_id}"


class Embedding(models.Model):
    """The vector of one row's declared text (``assistant.embeddings``): which row, the
    embedding model that made it, a hash of the text it was made from (a row whose text
    is unchanged is not embedded again), and the vector, unit length, as little-endian
    float32 bytes."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    #: The row's primary key as the database casts it to text (how searches join it).
    object_id = models.CharField(max_length=64)
    model = models.CharField(max_length=255)
    dimensions = models.PositiveSmallIntegerField()
    text_hash = models.CharField(max_length=64)
    vector = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id"], name="embedding_per_row"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} ({self.model}, {self.dimensions})"
