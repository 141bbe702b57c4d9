"""Every URL of the assistant works under the prefix a site mounts it at."""

import pytest
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from tests import factories as f
from tests.permissions import DASHBOARD_PERMISSIONS, grant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.prefixed_urls")]


@pytest.fixture
def staff_user(make_user):
    return grant(make_user("root", is_staff=True), *DASHBOARD_PERMISSIONS, group="Operators")


def test_the_pages_the_api_and_its_docs_answer_under_the_prefix(client, user, staff_user):
    assert reverse("home") == "/ai/"
    assert client.get("/ai/").status_code == 302
    assert client.get("/ai/").headers["Location"].startswith("/ai/accounts/login/")
    assert client.get("/ai/accounts/login/").status_code == 200
    assert client.get("/ai/api/health/").json()["enabled"] is True
    assert client.get("/ai/api/schema/").status_code == 200
    assert client.get("/ai/api/docs/").status_code == 200
    assert client.get("/api/health/").status_code == 404
    client.force_login(user)
    page = client.get("/ai/").content.decode()
    # The page's scripts build every request and socket from this root.
    assert '<meta name="assistant-root" content="/ai/">' in page
    assert '<meta name="login-url" content="/ai/accounts/login/">' in page
    assert client.get("/ai/api/sessions/").status_code == 200
    assert client.get("/ai/api/projects/").status_code == 200
    client.force_login(staff_user)
    assert client.get("/ai/dashboard/").status_code == 200
    assert client.get("/ai/dashboard/state").status_code == 200


async def test_the_session_socket_answers_under_the_prefix(user, job):
    from asgiref.sync import sync_to_async

    from accounts.services import tokens_for_user

    session = await sync_to_async(f.job_session)(user=user, job_=job, content="Hi")
    token = (await sync_to_async(tokens_for_user)(user))["access"]
    from django.core.asgi import get_asgi_application

    from assistant.asgi import with_assistant

    # What a site's asgi.py does.
    application = with_assistant(get_asgi_application(), prefix="ai/")
    socket = WebsocketCommunicator(application, f"/ai/ws/sessions/{session.pk}/?token={token}")
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"action": "resume", "after": 0})
    frame = await socket.receive_json_from(timeout=5)
    assert frame["seq"] >= 1
    await socket.disconnect()
    elsewhere = WebsocketCommunicator(application, f"/ws/sessions/{session.pk}/?token={token}")
    with pytest.raises(ValueError, match="No route found"):
        await elsewhere.connect()


def test_an_api_error_under_the_prefix_is_json(client, user):
    client.force_login(user)
    response = client.get("/ai/api/sessions/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
