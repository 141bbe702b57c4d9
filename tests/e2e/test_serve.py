"""`manage.py serve` (what `make run` starts), exercised over real sockets."""

import asyncio
import json
import os
import re
import signal
import time

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from events.delivery import deliver_to_user

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-enough-password"


def wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def test_register_token_refresh_and_admin_login_over_http(served, make_user):
    with httpx.Client(base_url=served.url, timeout=10) as http:
        assert http.get("/api/health/").json().keys() == {"enabled", "endpoint_available"}
        created = http.post("/api/register", json={"userID": "dora", "password": PASSWORD})
        assert created.status_code == 201, created.text
        assert http.post("/api/register", json={"userID": "dora", "password": PASSWORD}).status_code == 409

        tokens = http.post("/api/token", json={"userID": "dora", "password": PASSWORD}).json()
        me = http.get("/api/me", headers={"Authorization": f"Bearer {tokens['token']}"})
        assert me.json()["userID"] == "dora"
        fresh = http.post("/api/refresh", headers={"Authorization": f"Bearer {tokens['token']}"})
        assert fresh.status_code == 200
        assert fresh.json()["token"] != tokens["token"]
        again = http.post("/api/refresh", headers={"Authorization": f"Bearer {tokens['token']}"})
        assert again.status_code == 401

        assert http.get("/api/docs/").status_code == 200
        css = re.search(r'href="(/static/[^"]+swagger-ui\.css)"', http.get("/api/docs/").text)
        assert css and http.get(css.group(1)).status_code == 200

    make_user("root", is_staff=True, is_superuser=True, password=PASSWORD)
    with httpx.Client(base_url=served.url, timeout=10, follow_redirects=True) as browser:
        form = browser.get("/admin/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        page = browser.post(
            "/admin/login/?next=/admin/",
            data={"username": "root", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        )
        assert page.status_code == 200
        assert str(page.url).endswith("/admin/")
        assert "Site administration" in page.text


def test_websocket_auth_over_a_real_socket(served, user, tokens):
    async def scenario():
        async with websockets.connect(f"{served.ws_url}/ws/events/") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 4401
        async with websockets.connect(f"{served.ws_url}/ws/events/?token=not-a-token") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 4401
        async with websockets.connect(f"{served.ws_url}/ws/events/?token={tokens['access']}") as ws:
            await ws.send("{}")
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "error"

    asyncio.run(scenario())
    # The server logs each socket's path, but never the token in it.
    assert "/ws/events/?token=[redacted]" in served.output()
    assert tokens["access"] not in served.output()


@pytest.mark.services
def test_events_reach_the_users_socket_through_redis(served, user, tokens):
    async def scenario():
        async with websockets.connect(f"{served.ws_url}/ws/events/?token={tokens['access']}") as ws:
            await ws.send("{}")  # the reply proves the consumer joined its group
            await asyncio.wait_for(ws.recv(), 5)
            await asyncio.to_thread(
                deliver_to_user, user_id=user.pk, event={"type": "user.message", "text": "hi"}
            )
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {
                "type": "user.message",
                "text": "hi",
            }

    asyncio.run(scenario())


def test_ctrl_c_stops_every_process(served):
    pgid = os.getpgid(served.process.pid)
    served.process.send_signal(signal.SIGINT)
    served.process.wait(timeout=20)

    def group_gone():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        return False

    assert wait_for(group_gone, timeout=15), served.output()


@pytest.mark.services
def test_with_the_services_it_runs_web_worker_and_beat_with_prefixed_logs(served):
    def all_up():
        out = served.output()
        return "celery@" in out and " ready." in out and "beat: Starting" in out

    assert wait_for(all_up, timeout=60), served.output()
    out = served.output()
    for name in ("web", "worker", "beat"):
        assert re.search(rf"^\S+ {name}\s+\| ", out, re.MULTILINE), f"no {name} lines:\n{out}"


def test_the_served_product_uses_the_configured_deployment(served):
    out = served.output()
    assert "web started" in out
    if os.environ.get("REDIS_URL"):
        assert "worker started" in out and "beat started" in out
    else:
        assert "worker started" not in out
