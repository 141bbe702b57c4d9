"""Which page origins may open a websocket with the session cookie: the socket's own
origin (scheme, host and port of its request, the host one of ALLOWED_HOSTS) and
CSRF_TRUSTED_ORIGINS; nothing else."""

import pytest

from accounts.websocket import origin_allowed


def scope(origin, host="127.0.0.1:8000", scheme="ws", **headers):
    raw = [(b"host", host.encode())] if host else []
    raw += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    if origin is not None:
        raw.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": raw}


@pytest.fixture(autouse=True)
def site(settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", ".example.net"]
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.SECURE_PROXY_SSL_HEADER = None


@pytest.mark.parametrize(
    "origin, host, scheme",
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws"),
        ("http://localhost:8000", "localhost:8000", "ws"),
        ("HTTP://LocalHost:8000", "localhost:8000", "ws"),
        ("http://localhost", "localhost", "ws"),
        ("http://localhost:80", "localhost", "ws"),
        ("https://app.example.net", "app.example.net", "wss"),
        ("https://app.example.net", "app.example.net:443", "wss"),
        ("http://[::1]:8000", "[::1]:8000", "ws"),
    ],
)
def test_the_sockets_own_origin_is_allowed(origin, host, scheme):
    assert origin_allowed(scope(origin, host, scheme))


@pytest.mark.parametrize(
    "origin, host, scheme",
    [
        # the reported attacks
        ("http://localhost:9999", "localhost:8000", "ws"),
        ("https://127.0.0.1", "127.0.0.1:8000", "ws"),
        # another scheme, port or host than the socket's
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "wss"),
        ("https://app.example.net", "app.example.net", "ws"),
        ("http://localhost:8000", "127.0.0.1:8000", "ws"),
        ("https://app.example.net:8443", "app.example.net", "wss"),
        ("http://localhost", "localhost:8000", "ws"),
        # a host we don't serve, even when the origin matches it
        ("http://evil.example", "evil.example", "ws"),
        ("http://evil.example:8000", "evil.example:8000", "ws"),
        # no origin, an opaque one, garbage, or no Host header
        (None, "localhost:8000", "ws"),
        ("null", "localhost:8000", "ws"),
        ("localhost:8000", "localhost:8000", "ws"),
        ("http://localhost:8000/path", "localhost:8000", "ws"),
        ("http://localhost:8000", "", "ws"),
        ("http://localhost:port", "localhost:port", "ws"),
    ],
)
def test_any_other_origin_is_refused(origin, host, scheme):
    assert not origin_allowed(scope(origin, host, scheme))


def test_csrf_trusted_origins_are_allowed_exactly(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.example.org"]
    assert origin_allowed(scope("https://app.example.com"))
    assert origin_allowed(scope("https://app.example.com:443"))
    assert origin_allowed(scope("https://eu.example.org"))
    assert not origin_allowed(scope("http://app.example.com"))
    assert not origin_allowed(scope("https://app.example.com:8443"))
    assert not origin_allowed(scope("https://example.org.evil.example"))
    assert not origin_allowed(scope("http://eu.example.org"))


def test_behind_a_tls_proxy_the_proxy_header_gives_the_scheme(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = scope("https://app.example.net", "app.example.net", "ws", x_forwarded_proto="https")
    assert origin_allowed(proxied)
    assert not origin_allowed(scope("https://app.example.net", "app.example.net", "ws"))
