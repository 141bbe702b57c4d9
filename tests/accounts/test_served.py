"""The auth protections through the served product (``manage.py serve``: uvicorn with
the flags ``serve`` gives it), over real HTTP from 127.0.0.1."""

import re

import httpx
import pytest

from tests.conftest import PASSWORD, serve

#: /api/register and /api/token share one throttle (20 a minute per client); a bad
#: registration costs no password hashing, so 25 of them take no time.
BAD_REGISTRATION = {"userID": "", "password": ""}


@pytest.fixture
def start_web(process_env, tmp_path):
    """Starts the web process alone (no broker, no worker: what these tests need), with
    extra variables. The login lockout is out of the way, so that only the DRF throttle
    (20 a minute) answers."""
    env = {k: v for k, v in process_env.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env["LOGIN_FAILURE_LIMIT"] = "1000"
    running = []

    def start(**variables):
        server = serve({**env, **variables}, tmp_path)
        running.append(server)
        return next(server)

    yield start
    for server in running:
        next(server, None)  # stops it


def bad_requests(http, forwarded_for) -> list[int]:
    return [
        http.post("/api/register", json=BAD_REGISTRATION, headers={"X-Forwarded-For": xff}).status_code
        for xff in forwarded_for
    ]


def test_served_logout_and_a_made_up_x_forwarded_for(start_web, user):
    server = start_web()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        tokens = http.post("/api/token", json={"userID": "alice", "password": PASSWORD}).json()
        assert http.post("/api/token/blacklist/", json={"refresh": tokens["refresh"]}).status_code == 200
        bearer = {"Authorization": f"Bearer {tokens['access']}"}
        assert http.post("/api/refresh", headers=bearer).status_code == 401
        assert http.get("/api/me", headers=bearer).status_code == 401
        # 19 more auth requests are allowed this minute; a new X-Forwarded-For on each
        # changes nothing (neither uvicorn nor Django believes it).
        statuses = bad_requests(http, [f"203.0.113.{n}" for n in range(1, 25)])
    assert statuses[:19] == [400] * 19
    assert statuses[19:] == [429] * 5, statuses


def page_login(server, password, forwarded_for):
    """The browser login form, CSRF token and all."""
    with httpx.Client(base_url=server.url, timeout=10, headers={"X-Forwarded-For": forwarded_for}) as http:
        form = http.get("/accounts/login/").text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        body = {"username": "alice", "password": password, "csrfmiddlewaretoken": csrf}
        return http.post("/accounts/login/", data=body)


def test_behind_a_trusted_proxy_the_served_throttle_and_lockout_count_forwarded_clients(start_web, user):
    server = start_web(TRUSTED_PROXIES="127.0.0.1", LOGIN_FAILURE_LIMIT="3")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        statuses = bad_requests(http, ["6.6.6.6, 203.0.113.90"] * 21 + ["203.0.113.91"])
    assert statuses[:20] == [400] * 20
    assert statuses[20:] == [429, 400], statuses

    assert [page_login(server, "wrong-password", "203.0.113.77").status_code for _ in range(2)] == [200, 200]
    locked = page_login(server, "wrong-password", "203.0.113.77")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.text and locked.headers["Retry-After"] == "900"
    assert page_login(server, PASSWORD, "203.0.113.77").status_code == 429
    assert page_login(server, PASSWORD, "203.0.113.78").status_code == 302
