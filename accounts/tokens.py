"""Logins and the JWTs they give.

``POST /api/token`` starts a :class:`~accounts.models.Login`; its tokens carry two claims
besides simplejwt's own, and every refresh (``/api/refresh``, ``/api/token/refresh/``)
keeps them:

- ``login``: the login's id. The token is valid only while that login exists and has
  not expired. Logging out (``/api/token/blacklist/``) deletes the row, which ends
  every access and refresh token of the login at once.
- ``pwd``: a keyed hash of the user's password hash (as Django's session auth hash),
  so that changing the password by any path (the admin, ``changepassword``,
  ``set_password``) ends every token issued before, without a write.

A deactivated or deleted user's tokens are refused too. Tokens without these claims
are refused. The check is one query (the login joined with its user), and it replaces
the user lookup simplejwt does anyway: :class:`LoginJWTAuthentication` takes the user
the token check found.

Call :func:`user_for_access_token` to re-check a raw access token later, e.g. for a
websocket that stays open (``scope["auth_token"]`` holds the raw token).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenBlacklistSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from .models import Login

LOGIN_CLAIM = "login"
PASSWORD_CLAIM = "pwd"
_LOGIN_CLAIMS = (LOGIN_CLAIM, PASSWORD_CLAIM)


def password_stamp(user) -> str:
    """Changes whenever the user's password changes; reveals nothing about it."""
    return salted_hmac("accounts.tokens.password_stamp", user.password, algorithm="sha256").hexdigest()


def _expiry(token: Token) -> datetime:
    return datetime.fromtimestamp(token["exp"], tz=UTC)


def login_user(token: Token):
    """The user of the live login ``token`` belongs to; ``TokenError`` when there is none:
    no login claims, the login ended or expired, the password changed, the user is
    inactive or gone."""
    login_id, stamp = token.get(LOGIN_CLAIM), token.get(PASSWORD_CLAIM)
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    if not (isinstance(login_id, str) and isinstance(stamp, str) and user_id):
        raise TokenError("Token belongs to no login; request a new token.")
    try:
        uuid.UUID(login_id)
    except ValueError:
        raise TokenError("Token belongs to no login; request a new token.") from None
    login = (
        Login.objects.select_related("user")
        .filter(pk=login_id, user_id=user_id, user__is_active=True, expires_at__gt=timezone.now())
        .first()
    )
    if login is None or not constant_time_compare(stamp, password_stamp(login.user)):
        raise TokenError("The login has ended; request a new token.")
    return login.user


class LoginAccessToken(AccessToken):
    """An access token that verifies only while its login lasts. ``.user`` is its user."""

    def verify(self) -> None:
        super().verify()
        self.user = login_user(self)


class LoginRefreshToken(RefreshToken):
    """A refresh token that verifies only while its login lasts (and is not blacklisted)."""

    def verify(self) -> None:
        super().verify()
        self.user = login_user(self)


def issue(user) -> RefreshToken:
    """Start a login for ``user``: its refresh token (``.access_token`` gives the access)."""
    refresh = RefreshToken.for_user(user)
    now = timezone.now()
    # A user's lapsed logins go when they log in again.
    Login.objects.filter(user=user, expires_at__lte=now).delete()
    login = Login.objects.create(user=user, expires_at=_expiry(refresh))
    refresh[LOGIN_CLAIM] = str(login.pk)
    refresh[PASSWORD_CLAIM] = password_stamp(user)
    return refresh


def access_for_same_login(token: Token, user) -> AccessToken:
    """A fresh access token of the login ``token`` belongs to."""
    fresh = AccessToken.for_user(user)
    for claim in _LOGIN_CLAIMS:
        fresh[claim] = token[claim]
    return fresh


def end_login(token: Token) -> None:
    """Log out: every token of ``token``'s login stops working."""
    login_id = token.get(LOGIN_CLAIM)
    try:
        uuid.UUID(str(login_id))
    except ValueError:
        return
    Login.objects.filter(pk=login_id).delete()


def user_for_access_token(raw: str):
    """The user a raw access JWT authenticates, or ``None`` when it doesn't (any more):
    malformed, badly signed, expired, not an access token, its login ended (logout),
    the password changed since, or the user is inactive or deleted. One query.

    The websocket middleware keeps the raw token of a socket authenticated by token in
    ``scope["auth_token"]`` (``None`` for cookie auth), so that a long-lived socket can
    call this again and close when it gives ``None``. Call it from sync code (or wrap it
    in ``database_sync_to_async``).
    """
    try:
        return LoginAccessToken(raw).user
    except TokenError:
        return None


class LoginJWTAuthentication(JWTAuthentication):
    """DRF's Bearer auth with the login checks; no query beyond the token check's one."""

    def get_user(self, validated_token):
        user = getattr(validated_token, "user", None)
        if user is not None:
            return user
        try:
            return login_user(validated_token)
        except TokenError as exc:
            raise InvalidToken(str(exc)) from None


class LoginRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's rotation, for live logins only; the login follows its newest token."""

    token_class = LoginRefreshToken

    def validate(self, attrs):
        data = super().validate(attrs)
        if "refresh" in data:
            rotated = RefreshToken(data["refresh"], verify=False)
            Login.objects.filter(pk=rotated[LOGIN_CLAIM]).update(expires_at=_expiry(rotated))
        return data


class LogoutSerializer(TokenBlacklistSerializer):
    """Blacklists the refresh token and ends its login, with every token it gave."""

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])
        with transaction.atomic():
            refresh.blacklist()
            end_login(refresh)
        return {}


__all__ = [
    "LOGIN_CLAIM",
    "PASSWORD_CLAIM",
    "LoginAccessToken",
    "LoginJWTAuthentication",
    "LoginRefreshSerializer",
    "LoginRefreshToken",
    "LogoutSerializer",
    "access_for_same_login",
    "end_login",
    "issue",
    "user_for_access_token",
]
