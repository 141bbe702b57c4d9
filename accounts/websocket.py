"""Websocket authentication: a JWT in ``?token=`` (or an Authorization header), or the
session cookie of a page served from one of our own hosts. Anything else is accepted
only to be closed at once with code 4401, so that clients can tell why."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _bearer_token(scope) -> str | None:
    tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    if tokens:
        return tokens[-1]
    scheme, _, raw = (_header(scope, b"authorization") or "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" and raw.strip() else None


def origin_allowed(origin: str | None) -> bool:
    """True when the browser page that opened the socket came from one of our hosts."""
    if not origin:
        return False
    if origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        return True
    host = urlsplit(origin).netloc
    domain, _port = split_domain_port(host)
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


@database_sync_to_async
def _user_for_token(raw: str):
    try:
        token = AccessToken(raw)
    except TokenError:
        return None
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


class WebsocketAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` or closes the socket with 4401."""

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        user = await self.authenticate(scope)
        if user is None:
            return await self.deny(receive, send)
        scope["user"] = user
        return await super().__call__(scope, receive, send)

    async def authenticate(self, scope):
        raw = _bearer_token(scope)
        if raw is not None:
            return await _user_for_token(raw)
        if "session" in scope and origin_allowed(_header(scope, b"origin")):
            user = await get_user(scope)
            if user.is_authenticated:
                return user
        return None

    @staticmethod
    async def deny(receive, send) -> None:
        # A close before the handshake reaches the client as a bare HTTP 403;
        # accepting first lets the client read the 4401 code.
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED})


def WebsocketAuthMiddlewareStack(inner):  # noqa: N802  (named like Channels' stacks)
    return CookieMiddleware(SessionMiddleware(WebsocketAuthMiddleware(inner)))


__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_NOT_FOUND",
    "CLOSE_UNAUTHENTICATED",
    "WebsocketAuthMiddlewareStack",
    "origin_allowed",
]
