"""Tokens that are broken in one way each, for the auth tests. Each starts as a real
login's token (``accounts.tokens.issue``), so only the one flaw makes it fail."""

from datetime import timedelta

import jwt
from django.conf import settings

from accounts.tokens import issue


def _access(user):
    return issue(user).access_token


def expired_access(user) -> str:
    token = _access(user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    return str(token)


def expired_refresh(user) -> str:
    token = issue(user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    return str(token)


def wrong_key(user) -> str:
    payload = dict(_access(user).payload)
    return jwt.encode(payload, "not-the-signing-key-but-long-enough-for-hs256", algorithm="HS256")


def unsigned(user) -> str:
    payload = dict(_access(user).payload)
    return jwt.encode(payload, None, algorithm="none")


def tampered(user, other_user) -> str:
    """A valid token whose payload was swapped for another user's, signature kept."""
    header, _, signature = str(_access(user)).split(".")
    _, payload, _ = str(_access(other_user)).split(".")
    return f"{header}.{payload}.{signature}"


def signing_key() -> str:
    return settings.SIMPLE_JWT["SIGNING_KEY"]
