"""Tokens that are broken in one way each, for the auth tests."""

from datetime import timedelta

import jwt
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken


def expired_access(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    return str(token)


def expired_refresh(user) -> str:
    token = RefreshToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    return str(token)


def wrong_key(user) -> str:
    payload = dict(AccessToken.for_user(user).payload)
    return jwt.encode(payload, "not-the-signing-key-but-long-enough-for-hs256", algorithm="HS256")


def unsigned(user) -> str:
    payload = dict(AccessToken.for_user(user).payload)
    return jwt.encode(payload, None, algorithm="none")


def tampered(user, other_user) -> str:
    """A valid token whose payload was swapped for another user's, signature kept."""
    header, _, signature = str(AccessToken.for_user(user)).split(".")
    _, payload, _ = str(AccessToken.for_user(other_user)).split(".")
    return f"{header}.{payload}.{signature}"


def signing_key() -> str:
    return settings.SIMPLE_JWT["SIGNING_KEY"]
