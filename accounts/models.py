import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A site user. ``username`` is the API's ``userID``."""

    display_name = models.CharField(max_length=150, blank=True)
    preferences = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username


class Login(models.Model):
    """One sign-in at ``POST /api/token``. Every token refreshed from it, access or
    refresh, carries its id (the ``login`` claim) and is valid only while this row
    exists and has not expired: logging out deletes it. ``expires_at`` follows the
    login's newest refresh token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="logins")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M}"


class ApiKey(models.Model):
    """A personal key an outside agent authenticates with (``Authorization: Bearer``, on
    ``/mcp/``): shown once when made, kept only as its SHA-256, revoked by its user.
    ``can_write`` lets writing tools run over it without asking for approval."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    #: The key's first characters, to tell keys apart (not enough to use one).
    hint = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    can_write = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="api_key_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"
