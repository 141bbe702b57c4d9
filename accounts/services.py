"""Registration and JWT issuing. Views call these; they hold no logic of their own."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth import authenticate, get_user_model, password_validation
from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import exceptions
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken

from assistant.errors import Conflict

from . import tokens
from .lockout import LockedOut

User = get_user_model()


def user_register(*, username: str, password: str) -> User:
    """Create a user; a taken userID (in any letter case) raises ``Conflict``."""
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("A user with that userID already exists.")
    user = User(username=username)
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({"password": list(exc.messages)}) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict("A user with that userID already exists.") from None
    return user


def tokens_for_user(user: User) -> dict[str, str]:
    """Log ``user`` in: a fresh access/refresh pair of a new login (``accounts.tokens``);
    ``token`` is the access token, as the seed API names it."""
    refresh = tokens.issue(user)
    access = str(refresh.access_token)
    if jwt_settings.UPDATE_LAST_LOGIN:
        update_last_login(None, user)
    return {"token": access, "access": access, "refresh": str(refresh)}


def token_obtain(*, request, username: str, password: str) -> dict[str, str]:
    """Log in with credentials. ``request`` lets the login lockout (django-axes) count
    the failures of the client address; a locked-out client gets ``LockedOut`` (429)."""
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut()
    if user is None or not user.is_active:
        raise exceptions.AuthenticationFailed(
            "No active account found with the given credentials.", code="invalid_credentials"
        )
    return tokens_for_user(user)


def _spend(token: AccessToken, raw: str, user: User) -> None:
    """Blacklist ``token`` so it can be exchanged once; a second exchange raises."""
    with transaction.atomic():
        outstanding, _ = OutstandingToken.objects.get_or_create(
            jti=token[jwt_settings.JTI_CLAIM],
            defaults={
                "user": user,
                "token": raw,
                "created_at": token.current_time,
                "expires_at": datetime.fromtimestamp(token["exp"], tz=UTC),
            },
        )
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    if not created:
        raise InvalidToken("Token is blacklisted.")


def token_refresh(*, raw: str) -> dict[str, str]:
    """Exchange the current token for a new one with a fresh expiry.

    An access token (the seed's ``token``) is exchanged once for a new access token of
    the same login, for as long as that login lasts: not logged out, its refresh token
    not expired, the password unchanged and the user active. A refresh token is
    rotated as simplejwt's refresh endpoint does. Invalid, expired, blacklisted or
    ended tokens raise ``InvalidToken`` (401).
    """
    try:
        token_type = UntypedToken(raw).get(jwt_settings.TOKEN_TYPE_CLAIM)
        if token_type == RefreshToken.token_type:
            serializer = tokens.LoginRefreshSerializer(data={"refresh": raw})
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            return {"token": data["access"], **data}
        if token_type != AccessToken.token_type:
            raise InvalidToken("Token has wrong type.")
        token = tokens.LoginAccessToken(raw)
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None
    _spend(token, raw, token.user)
    fresh = str(tokens.access_for_same_login(token, token.user))
    return {"token": fresh, "access": fresh}


def user_update(*, user: User, **fields) -> User:
    """Change the user's own profile fields (display name, email, preferences)."""
    allowed = {"display_name", "email", "preferences"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Not profile fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(user, name, value)
    if fields:
        user.save(update_fields=list(fields))
    return user


def logins_delete_expired(*, now=None, dry_run: bool = False) -> int:
    """Forget logins whose refresh lifetime is over (their tokens are refused anyway);
    the number of logins (that would go)."""
    from django.utils import timezone

    from .models import Login

    rows = Login.objects.filter(expires_at__lt=now or timezone.now())
    return rows.count() if dry_run else rows.delete()[0]
