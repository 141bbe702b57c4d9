"""The websocket auth middleware, through the project's real ASGI application."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.websocket import CLOSE_UNAUTHENTICATED
from config.asgi import application
from events.consumers import user_events_group

from . import tokens as broken

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
PATH = "/ws/events/"


@pytest.fixture
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def connect(path=PATH, headers=()):
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect()
    return communicator, connected


async def assert_closed_unauthenticated(communicator):
    message = await communicator.receive_output(timeout=2)
    assert message == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


async def assert_is_user(communicator, user):
    """Events sent to the user's group arrive on this socket."""
    await get_channel_layer().group_send(
        user_events_group(user.pk),
        {"type": "user.event", "event": {"type": "user.message", "n": 1}},
    )
    assert await communicator.receive_json_from(timeout=2) == {"type": "user.message", "n": 1}


async def test_a_token_in_the_query_string_authenticates(user, tokens):
    communicator, connected = await connect(f"{PATH}?token={tokens['access']}")
    assert connected
    await assert_is_user(communicator, user)
    await communicator.disconnect()


async def test_a_bearer_header_authenticates(user, tokens):
    communicator, connected = await connect(
        headers=[(b"authorization", f"Bearer {tokens['access']}".encode())]
    )
    assert connected
    await assert_is_user(communicator, user)
    await communicator.disconnect()


async def test_events_of_another_user_do_not_arrive(user, tokens, make_user):
    other = await _make(make_user, "bob")
    communicator, _ = await connect(f"{PATH}?token={tokens['access']}")
    await get_channel_layer().group_send(
        user_events_group(other.pk), {"type": "user.event", "event": {"type": "user.message"}}
    )
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_no_credentials_close_with_4401():
    communicator, connected = await connect()
    assert connected  # accepted only so that the close code reaches the client
    await assert_closed_unauthenticated(communicator)


@pytest.mark.parametrize(
    "make", [broken.expired_access, broken.wrong_key, broken.unsigned, broken.expired_refresh]
)
async def test_broken_tokens_close_with_4401(user, make):
    from asgiref.sync import sync_to_async

    raw = await sync_to_async(make)(user)
    communicator, _ = await connect(f"{PATH}?token={raw}")
    await assert_closed_unauthenticated(communicator)


async def test_a_refresh_token_is_not_accepted(tokens):
    communicator, _ = await connect(f"{PATH}?token={tokens['refresh']}")
    await assert_closed_unauthenticated(communicator)


async def test_an_inactive_users_token_is_refused(user, tokens):
    from asgiref.sync import sync_to_async

    user.is_active = False
    await sync_to_async(user.save)()
    communicator, _ = await connect(f"{PATH}?token={tokens['access']}")
    await assert_closed_unauthenticated(communicator)


async def test_a_session_cookie_from_our_own_page_authenticates(user, session_cookie):
    communicator, connected = await connect(
        headers=[
            (b"cookie", session_cookie),
            (b"origin", b"http://localhost:8000"),
            (b"host", b"localhost:8000"),
        ]
    )
    assert connected
    await assert_is_user(communicator, user)
    await communicator.disconnect()


@pytest.mark.parametrize(
    "origin",
    [
        b"https://evil.example",
        b"null",
        None,
        # The attacks: a page on another port of our host, or the host over another scheme.
        b"http://localhost:9999",
        b"https://localhost:8000",
        b"http://localhost",
    ],
)
async def test_a_session_cookie_from_another_origin_closes_with_4401(session_cookie, origin):
    headers = [(b"cookie", session_cookie), (b"host", b"localhost:8000")]
    if origin is not None:
        headers.append((b"origin", origin))
    communicator, _ = await connect(headers=headers)
    await assert_closed_unauthenticated(communicator)


async def test_a_forged_session_cookie_closes_with_4401():
    communicator, _ = await connect(
        headers=[(b"cookie", b"sessionid=forged"), (b"origin", b"http://localhost")]
    )
    await assert_closed_unauthenticated(communicator)


async def test_a_text_frame_on_the_events_socket_gets_an_error_and_stays_open(user, tokens):
    communicator, _ = await connect(f"{PATH}?token={tokens['access']}")
    await communicator.send_json_to({"hello": "there"})
    assert (await communicator.receive_json_from(timeout=2))["type"] == "error"
    await assert_is_user(communicator, user)
    await communicator.disconnect()


async def _make(make_user, name):
    from asgiref.sync import sync_to_async

    return await sync_to_async(make_user)(name)


async def _end_by(how, user, tokens):
    from asgiref.sync import sync_to_async
    from rest_framework.test import APIClient

    def end():
        if how == "logout":
            response = APIClient().post(
                "/api/token/blacklist/", {"refresh": tokens["refresh"]}, format="json"
            )
            assert response.status_code == 200
        elif how == "password":
            user.set_password("another-long-enough-password")
            user.save()
        else:
            user.is_active = False
            user.save()

    await sync_to_async(end)()


@pytest.mark.parametrize("how", ["logout", "password", "deactivation"])
async def test_a_token_of_an_ended_login_closes_with_4401(user, tokens, how):
    await _end_by(how, user, tokens)
    communicator, _ = await connect(f"{PATH}?token={tokens['access']}")
    await assert_closed_unauthenticated(communicator)


async def test_a_token_without_a_login_closes_with_4401(user):
    from asgiref.sync import sync_to_async
    from rest_framework_simplejwt.tokens import AccessToken

    legacy = await sync_to_async(AccessToken.for_user)(user)
    communicator, _ = await connect(f"{PATH}?token={legacy}")
    await assert_closed_unauthenticated(communicator)


async def _scope_of(headers=(), path="/ws/events/"):
    """The scope the auth middleware hands to the consumer."""
    from accounts.websocket import WebsocketAuthMiddlewareStack

    seen = {}

    async def inner(scope, receive, send):
        seen.update(scope)
        await receive()
        await send({"type": "websocket.accept"})

    communicator = WebsocketCommunicator(WebsocketAuthMiddlewareStack(inner), path, headers=list(headers))
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()
    return seen


async def test_the_raw_token_is_kept_in_the_scope(user, tokens):
    scope = await _scope_of(path=f"{PATH}?token={tokens['access']}")
    assert scope["auth_token"] == tokens["access"]
    assert scope["user"].pk == user.pk


async def test_cookie_auth_has_no_token_in_the_scope(user, session_cookie):
    scope = await _scope_of(
        headers=[
            (b"cookie", session_cookie),
            (b"origin", b"http://localhost:8000"),
            (b"host", b"localhost:8000"),
        ]
    )
    assert scope["auth_token"] is None
    assert scope["user"].pk == user.pk


@pytest.mark.parametrize("how", ["logout", "password", "deactivation"])
async def test_a_socket_can_re_check_its_token(user, tokens, how):
    """What the streaming code calls while a socket stays open."""
    from accounts.tokens import user_for_access_token

    check = database_sync_to_async(user_for_access_token)
    assert (await check(tokens["access"])).pk == user.pk
    await _end_by(how, user, tokens)
    assert await check(tokens["access"]) is None


@pytest.mark.parametrize("make", [broken.expired_access, broken.wrong_key, broken.expired_refresh])
async def test_a_broken_token_re_checks_as_nobody(user, make):
    from accounts.tokens import user_for_access_token

    raw = await database_sync_to_async(make)(user)
    assert await database_sync_to_async(user_for_access_token)(raw) is None
    assert await database_sync_to_async(user_for_access_token)("garbage") is None
