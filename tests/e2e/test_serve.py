"""`manage.py serve` (what `make run` starts), exercised over real sockets."""

import asyncio
import json
import os
import re
import signal
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from events.delivery import deliver_to_user
from tests import factories as f
from tests.e2e.processes import alive, descendants, wait_for
from tests.e2e.test_api_flow import wait_for_reply
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-enough-password"


STARTED = re.compile(r"\| started (\w+) \(pid (\d+)\)$", re.MULTILINE)


def started_pids(served) -> dict[str, int]:
    """The pid each process of the served product was last started with (from its log)."""
    return {name: int(pid) for name, pid in STARTED.findall(served.output())}


@contextmanager
def answering_throughout(served):
    """Poll ``/api/health/`` every 50 ms while the block runs: every poll must answer 200."""
    failures, polls, done = [], [], threading.Event()

    def poll():
        with httpx.Client(base_url=served.url, timeout=2) as http:
            while not done.is_set():
                try:
                    status = http.get("/api/health/").status_code
                    if status != 200:
                        failures.append(status)
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                polls.append(time.monotonic())
                done.wait(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield
    finally:
        done.set()
        poller.join(5)
    assert len(polls) > 10 and not failures, (failures, served.output())


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


@pytest.mark.services
def test_with_the_services_it_runs_web_worker_and_beat_with_prefixed_logs(served):
    def all_up():
        out = served.output()
        return "celery@" in out and " ready." in out and "beat: Starting" in out

    assert wait_for(all_up, timeout=60), served.output()
    out = served.output()
    for name in ("web", "worker", "beat"):
        assert re.search(rf"^\S+ {name}\s+\| ", out, re.MULTILINE), f"no {name} lines:\n{out}"


def deployment() -> set[str]:
    """The processes `manage.py serve` runs in this test run's deployment."""
    return {"web", "worker", "beat"} if os.environ.get("REDIS_URL") else {"web"}


def test_the_served_product_uses_the_configured_deployment(served):
    assert started_pids(served).keys() == deployment(), served.output()


def stop_and_check_everything_is_gone(served, signum):
    """Send ``signum`` to ``manage.py serve``: it exits 0, and every process it started
    (and each one's own children, which they were asked to have) is gone."""
    pids = set(started_pids(served).values())
    assert pids, served.output()
    for pid in list(pids):
        pids |= descendants(pid)
    served.process.send_signal(signum)
    assert served.process.wait(timeout=20) == 0, served.output()
    assert wait_for(lambda: not any(alive(pid) for pid in pids), timeout=10), (
        [pid for pid in pids if alive(pid)],
        served.output(),
    )


def test_ctrl_c_stops_every_process(served):
    if "beat" in deployment():
        _wait_for_line(served, "beat: Starting")
    stop_and_check_everything_is_gone(served, signal.SIGINT)


def _wait_for_line(served, text, count=1, timeout=30):
    assert wait_for(lambda: served.output().count(text) >= count, timeout=timeout), (
        f"{text!r} not seen {count} times:\n{served.output()}"
    )


def _restarted(served, name, old_pid, timeout=10.0) -> int:
    """The pid of ``name``'s new process, started within ``timeout`` of its crash."""
    assert wait_for(lambda: started_pids(served).get(name, old_pid) != old_pid, timeout, 0.05), (
        f"{name} was not restarted:\n{served.output()}"
    )
    pid = started_pids(served)[name]
    assert re.search(
        rf"{name} \(pid {old_pid}\) was killed by SIGKILL after [\d.]+ s; "
        rf"restarting it in 1 s, at \d\d:\d\d:\d\d$",
        served.output(),
        re.MULTILINE,
    ), served.output()
    return pid


def _ask(served, tokens, job, question) -> str:
    with httpx.Client(
        base_url=served.url, timeout=10, headers={"Authorization": f"Bearer {tokens['access']}"}
    ) as http:
        created = http.post("/api/sessions/", json={"mode": "job_code", "job": job.pk, "content": question})
        assert created.status_code == 201, created.text
        return wait_for_reply(http, created.json()["id"], timeout=30)[1]["content"]


def _killed_while_the_site_answers(served, name, back_when) -> int:
    """SIGKILL ``name``'s process. Until it is back (``back_when`` once more in the log)
    every poll of the site answers and the others keep their pids. Its new pid."""
    before, seen = started_pids(served), served.output().count(back_when)
    with answering_throughout(served):
        os.kill(before[name], signal.SIGKILL)
        pid = _restarted(served, name, before[name])
        _wait_for_line(served, back_when, count=seen + 1)
    assert started_pids(served) == {**before, name: pid}
    return pid


def _health(served) -> int | None:
    try:
        return httpx.get(f"{served.url}/api/health/", timeout=2).status_code
    except httpx.HTTPError:
        return None


def test_a_killed_process_is_restarted_while_the_others_keep_serving(
    served_with_model, model_server, user, tokens
):
    served = served_with_model
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    assert wait_for(lambda: started_pids(served).keys() == deployment(), timeout=10), served.output()

    if "worker" in deployment():
        _wait_for_line(served, "beat: Starting")
        worker = _killed_while_the_site_answers(served, "worker", back_when=" ready.")
        model_server.script(Reply(text="Answered by the new worker."))
        assert _ask(served, tokens, job, "Still there?") == "Answered by the new worker."
        beat = _killed_while_the_site_answers(served, "beat", back_when="beat: Starting")
        assert alive(worker) and alive(beat)

    before = started_pids(served)
    os.kill(before["web"], signal.SIGKILL)
    web = _restarted(served, "web", before["web"])
    assert wait_for(lambda: _health(served) == 200, timeout=20), served.output()
    assert started_pids(served) == {**before, "web": web}
    model_server.script(Reply(text="Answered after the web process came back."))
    assert _ask(served, tokens, job, "And now?") == "Answered after the web process came back."

    stop_and_check_everything_is_gone(served, signal.SIGTERM)
