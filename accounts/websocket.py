"""Websocket authentication: a JWT in ``?token=`` (or an Authorization header), checked
as the API checks it (``accounts.tokens``), or the session cookie of a page served from
the site's own origin. Anything else is accepted only to be closed at once with code
4401, so that clients can tell why."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from .tokens import user_for_access_token

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


_DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def _origin(scheme: str, netloc: str) -> Origin | None:
    """``(scheme, host, port)``, with the scheme's default port filled in."""
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS or not netloc:
        return None
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return (scheme, parts.hostname, port) if parts.hostname else None


def _parse_origin(value: str) -> Origin | None:
    """An ``Origin`` header (or a CSRF_TRUSTED_ORIGINS entry): ``scheme://host[:port]``."""
    parts = urlsplit(value)
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return _origin(parts.scheme, parts.netloc)


def _http_scheme(scope) -> str:
    """The scheme of the page that shares the socket's origin: ws -> http, wss -> https,
    or what SECURE_PROXY_SSL_HEADER says, as Django decides it for HTTP requests."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure = settings.SECURE_PROXY_SSL_HEADER
        name = header.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        value = _header(scope, name)
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure else "http"
    return "https" if scope.get("scheme", "ws") in ("wss", "https") else "http"


def _own_origin(scope) -> Origin | None:
    """The origin the socket's own request was made to, when its Host is one we serve."""
    host = _header(scope, b"host") or ""
    domain, _port = split_domain_port(host)
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if not domain or not validate_host(domain, allowed):
        return None
    return _origin(_http_scheme(scope), host)


def _trusted_origin(origin: Origin, netloc: str) -> bool:
    for trusted in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        parts = urlsplit(trusted)
        if parts.netloc.startswith("*."):
            # "https://*.example.com": any subdomain, on the scheme's default port (as Django's CSRF check)
            if parts.scheme.lower() == origin[0] and is_same_domain(netloc.lower(), parts.netloc[1:].lower()):
                return True
        elif _parse_origin(trusted) == origin:
            return True
    return False


def origin_allowed(scope) -> bool:
    """True when the page that opened the socket has the site's own origin: the same
    scheme, host and port as the socket's request (its Host one of ALLOWED_HOSTS), or
    one of CSRF_TRUSTED_ORIGINS. A browser always sends ``Origin`` on a websocket."""
    raw = _header(scope, b"origin")
    origin = _parse_origin(raw) if raw else None
    if origin is None:
        return False
    return origin == _own_origin(scope) or _trusted_origin(origin, urlsplit(raw).netloc)


class WebsocketAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` or closes the socket with 4401.

    ``scope["auth_token"]`` is the raw access token the socket authenticated with
    (``None`` for cookie auth): pass it to ``accounts.tokens.user_for_access_token`` to
    re-check the socket's credentials while it stays open.
    """

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope["auth_token"] = _bearer_token(scope)
        user = await self.authenticate(scope)
        if user is None:
            return await self.deny(receive, send)
        scope["user"] = user
        return await super().__call__(scope, receive, send)

    async def authenticate(self, scope):
        raw = scope["auth_token"]
        if raw is not None:
            return await database_sync_to_async(user_for_access_token)(raw)
        if "session" in scope and origin_allowed(scope):
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
