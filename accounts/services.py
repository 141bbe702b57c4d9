"""Registration and JWT issuing. Views call these; they hold no logic of their own."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, password_validation
from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import exceptions
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken

from config.errors import Conflict

User = get_user_model()

#: Claim with the time of the login a chain of refreshed tokens started from.
LOGIN_TIME_CLAIM = "orig_iat"


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


def _now() -> int:
    return int(datetime.now(tz=UTC).timestamp())


def tokens_for_user(user: User) -> dict[str, str]:
    """A fresh access/refresh pair; ``token`` is the access token, as the seed API names it."""
    refresh = RefreshToken.for_user(user)
    refresh[LOGIN_TIME_CLAIM] = _now()
    access = str(refresh.access_token)
    if jwt_settings.UPDATE_LAST_LOGIN:
        update_last_login(None, user)
    return {"token": access, "access": access, "refresh": str(refresh)}


def token_obtain(*, username: str, password: str) -> dict[str, str]:
    user = authenticate(username=username, password=password)
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

    An access token (the seed's ``token``) is exchanged once for a new access token,
    for as long as the login it came from is younger than the refresh lifetime. A
    refresh token is rotated as simplejwt's refresh endpoint does. Invalid, expired,
    blacklisted or out-of-date tokens raise ``InvalidToken`` (401).
    """
    try:
        token_type = UntypedToken(raw).get(jwt_settings.TOKEN_TYPE_CLAIM)
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None

    if token_type == RefreshToken.token_type:
        serializer = TokenRefreshSerializer(data={"refresh": raw})
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(str(exc)) from None
        data = serializer.validated_data
        return {"token": data["access"], **data}

    if token_type != AccessToken.token_type:
        raise InvalidToken("Token has wrong type.")
    token = AccessToken(raw)
    user = User.objects.filter(pk=token[jwt_settings.USER_ID_CLAIM], is_active=True).first()
    if user is None:
        raise InvalidToken("User not found or inactive.")
    login_time = token.get(LOGIN_TIME_CLAIM, token.get("iat", 0))
    max_age = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()
    if _now() - login_time > max_age:
        raise InvalidToken("Login is too old to refresh; request a new token.")
    _spend(token, raw, user)
    fresh = AccessToken.for_user(user)
    fresh[LOGIN_TIME_CLAIM] = login_time
    return {"token": str(fresh), "access": str(fresh)}


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
