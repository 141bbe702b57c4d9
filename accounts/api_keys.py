"""Personal API keys: made (the raw key is returned once), checked, revoked.

A key is ``aak_`` and 40 random URL-safe characters; only its SHA-256 is stored (a
random key of that length needs no slow hash), so a leaked database leaks no key."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from assistant.exceptions import InvalidInput, NotFound

from .models import ApiKey

PREFIX = "aak_"
#: A key's last use is written at most this often.
LAST_USED_EVERY = timedelta(minutes=1)
#: The most live keys a user may have.
MAX_KEYS = 20


def digest_of(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, user, name: str, can_write: bool = False) -> tuple[ApiKey, str]:
    """A new key of ``user``'s and its raw text (shown to them once, never stored)."""
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_KEYS:
        raise InvalidInput(f"You have {MAX_KEYS} keys already; revoke one first.")
    raw = PREFIX + secrets.token_urlsafe(30)
    key = ApiKey.objects.create(
        user=user, name=name, hint=raw[: len(PREFIX) + 6], digest=digest_of(raw), can_write=can_write
    )
    return key, raw


def api_key_revoke(*, user, key_id) -> ApiKey:
    """Revoke one of ``user``'s keys (404 for anyone else's); it stops working at once."""
    key = ApiKey.objects.filter(pk=key_id, user=user).first()
    if key is None:
        raise NotFound("You have no such key.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_keys_of(user):
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


def key_for(raw: str) -> ApiKey | None:
    """The live key ``raw`` is, with its active user; None otherwise. One query (and a
    write of its last use at most once a minute)."""
    if not raw.startswith(PREFIX) or len(raw) > 100:
        return None
    key = (
        ApiKey.objects.select_related("user")
        .filter(digest=digest_of(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if key is not None:
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
