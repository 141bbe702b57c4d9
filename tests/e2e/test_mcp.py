"""``/mcp/`` of the served product, driven by the official ``mcp`` client over
Streamable HTTP: list, call, bad arguments, another user's object, writes, and keys."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from assistant.models import ToolCall
from assistant.tools import REJECTED_TEXT
from projects.models import Job
from tests import factories as f
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.asynccontextmanager
async def mcp_client(url: str, credential: str | None, mode: str = "auto", statuses: list | None = None):
    """The official client; ``mode="legacy"`` speaks the initialize handshake of the
    protocol versions before 2026-07-28 (which still have ``ping``). ``statuses`` gets
    the HTTP status of every answer."""
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}

    async def record(response):
        if statuses is not None:
            statuses.append(response.status_code)

    async with (
        httpx2.AsyncClient(headers=headers, timeout=20, event_hooks={"response": [record]}) as http,
        Client(streamable_http_client(f"{url}/mcp/", http_client=http), mode=mode) as client,
    ):
        yield client


def run(coroutine):
    return asyncio.run(coroutine)


def token_of(served, username: str) -> str:
    response = httpx.post(f"{served.url}/api/token", json={"userID": username, "password": PASSWORD})
    return response.json()["token"]


def api_key(served, username: str, *, can_write: bool = False) -> str:
    with httpx.Client(base_url=served.url, timeout=10) as http:
        token = token_of(served, username)
        made = http.post(
            "/api/keys/",
            json={"name": "agent", "can_write": can_write},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text
        return made.json()["key"]


@pytest.fixture
def alices_job(user):
    project = f.project(members=[user], name="Clinic")
    return f.job(workflow_=f.workflow(project_=project, name="Intake"), name="Fetch patients", code="old();")


@pytest.fixture
def bobs_job(make_user):
    bob = make_user("bob")
    return f.job(workflow_=f.workflow(project_=f.project(members=[bob])), name="Bob's secret job")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_list_and_call_tools_as_the_key_owner(served, user, alices_job, bobs_job, mode):
    key = api_key(served, "alice")

    async def session():
        async with mcp_client(served.url, key, mode) as client:
            if mode == "legacy":
                await client.send_ping()
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            found = await client.call_tool("find_jobs", {})
            stolen = await client.call_tool("find_jobs", {"id": bobs_job.pk})
            other = await client.call_tool("read_job", {"job_id": bobs_job.pk})
            bad = await client.call_tool("find_jobs", {"limit": "many"})
            with pytest.raises(MCPError) as unknown:
                await client.call_tool("drop_tables", {})
            return tools, found, stolen, other, bad, unknown.value

    tools, found, stolen, other, bad, unknown = run(session())
    assert {"find_projects", "find_jobs", "read_job", "recent_runs", "run_log", "update_job_code"} <= set(
        tools
    )
    assert tools["find_jobs"].input_schema["properties"]["limit"]["maximum"] == 50
    assert not found.is_error
    assert [job["name"] for job in found.structured_content["results"]] == ["Fetch patients"]
    assert stolen.structured_content["results"] == []
    assert other.is_error and other.content[0].text == f"You have no job {bobs_job.pk}."
    assert bad.is_error and bad.content[0].text == "The argument limit must be of type integer."
    assert "There is no tool named 'drop_tables'" in unknown.message


def test_no_bad_or_revoked_credentials_get_401(served, user):
    key = api_key(served, "alice")
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic YWxpY2U6eA=="}):
        response = httpx.post(f"{served.url}/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                              headers=headers)  # fmt: skip
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
        assert response.headers["www-authenticate"].startswith("Bearer")

    with httpx.Client(base_url=served.url, timeout=10) as http:
        token = http.post("/api/token", json={"userID": "alice", "password": PASSWORD}).json()["token"]
        [listed] = http.get("/api/keys/", headers={"Authorization": f"Bearer {token}"}).json()
        assert "key" not in listed and key.startswith(listed["hint"])
        revoked = http.delete(f"/api/keys/{listed['id']}/", headers={"Authorization": f"Bearer {token}"})
        assert revoked.status_code == 204

    statuses = []

    async def with_revoked_key():
        async with mcp_client(served.url, key, statuses=statuses) as client:
            await client.list_tools()

    with pytest.raises(BaseException, match="TaskGroup|error"):  # the client gives up
        run(with_revoked_key())
    assert statuses and set(statuses) == {401}

    async def with_a_token():  # an access JWT works as well as a key
        async with mcp_client(served.url, token) as client:
            return [tool.name for tool in (await client.list_tools()).tools]

    assert "find_jobs" in run(with_a_token())


def test_a_write_over_a_key_with_write_permission_runs_at_once(served, user, alices_job):
    async def call():
        async with mcp_client(served.url, api_key(served, "alice", can_write=True)) as client:
            return await client.call_tool("update_job_code", {"job_id": alices_job.pk, "code": "new();"})

    done = run(call())
    assert not done.is_error and done.structured_content == {"job_id": alices_job.pk, "updated": True}
    assert Job.objects.get(pk=alices_job.pk).code == "new();"
    assert not ToolCall.objects.exists()


class Waiting:
    """An MCP call made in a thread of its own, to be decided on meanwhile."""

    def __init__(self, served, key, arguments):
        self.result = None

        async def call():
            async with mcp_client(served.url, key) as client:
                return await client.call_tool("update_job_code", arguments)

        self.thread = threading.Thread(target=lambda: setattr(self, "result", run(call())), daemon=True)
        self.thread.start()

    def call(self) -> ToolCall:
        deadline = time.monotonic() + 20
        while not (found := ToolCall.objects.filter(status="pending").first()):
            assert time.monotonic() < deadline and self.thread.is_alive(), "no call waits"
            time.sleep(0.1)
        return found

    def done(self):
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.result


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_write_over_any_other_credential_waits_for_the_users_decision(
    served, user, make_user, alices_job, decision
):
    make_user("mallory")
    waiting = Waiting(served, api_key(served, "alice"), {"job_id": alices_job.pk, "code": "new();"})
    call = waiting.call()
    assert Job.objects.get(pk=alices_job.pk).code == "old();"  # nothing yet

    async def meanwhile():  # a waiting write holds up no other call
        async with mcp_client(served.url, api_key(served, "alice")) as client:
            return await asyncio.wait_for(client.call_tool("find_jobs", {}), timeout=10)

    assert [job["name"] for job in run(meanwhile()).structured_content["results"]] == ["Fetch patients"]
    alice = {"Authorization": f"Bearer {token_of(served, 'alice')}"}
    mallory = {"Authorization": f"Bearer {token_of(served, 'mallory')}"}
    with httpx.Client(base_url=served.url, timeout=10) as http:
        [listed] = http.get("/api/tool-calls/", headers=alice).json()
        assert (listed["id"], listed["name"], listed["message_id"]) == (str(call.pk), "update_job_code", None)
        assert "+new();" in listed["preview"]["diff"]
        assert http.get("/api/tool-calls/", headers=mallory).json() == []
        assert http.post(f"/api/tool-calls/{call.pk}/approve/", headers=mallory).status_code == 404
        decided = http.post(f"/api/tool-calls/{call.pk}/{decision}/", headers=alice)
        assert decided.status_code == 200
        result = waiting.done()
        again = http.post(f"/api/tool-calls/{call.pk}/approve/", headers=alice)
        assert again.status_code == 409
    if decision == "approve":
        assert not result.is_error and result.structured_content == {"job_id": alices_job.pk, "updated": True}
        assert Job.objects.get(pk=alices_job.pk).code == "new();"
        assert ToolCall.objects.get().outcome["ok"] is True
    else:
        assert result.is_error and result.content[0].text == REJECTED_TEXT
        assert Job.objects.get(pk=alices_job.pk).code == "old();"


def test_a_write_to_another_users_job_changes_nothing(served, user, bobs_job):
    async def call():
        async with mcp_client(served.url, api_key(served, "alice", can_write=True)) as client:
            return await client.call_tool("update_job_code", {"job_id": bobs_job.pk, "code": "pwned();"})

    result = run(call())
    assert result.is_error and result.content[0].text == f"You have no job {bobs_job.pk}."
    assert Job.objects.get(pk=bobs_job.pk).code != "pwned();"


def test_semantic_search_finds_the_callers_rows_only(served, user, alices_job, bobs_job):
    key = api_key(served, "alice")

    async def search():
        async with mcp_client(served.url, key) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            deadline = time.monotonic() + 30
            while True:  # the jobs are embedded in the background
                found = await client.call_tool(
                    "semantic_search", {"query": "patients", "model": "projects.job"}
                )
                if found.structured_content["results"] or time.monotonic() > deadline:
                    return tools, found
                await asyncio.sleep(0.2)

    tools, found = run(search())
    assert "projects.job" in tools["semantic_search"].input_schema["properties"]["model"]["enum"]
    assert not found.is_error
    assert [row["id"] for row in found.structured_content["results"]] == [alices_job.pk]
    assert found.structured_content["results"][0]["name"] == "Fetch patients"
