"""The README's "Add it to your site", done as a new user would: a brand-new site from
``django-admin startproject``, the package installed from a wheel built from this
repository into a fresh virtualenv, the README's lines appended to its three files
exactly as written there, an app of the site's own with a model and the README's
one-file mode about it, migrated, served with ``manage.py serve``, and driven over HTTP,
the websocket and Chromium under its prefix, answered by the scripted model server.

The fresh virtualenv gets the package alone (``pip install --no-deps`` of the wheel);
its dependencies are read from this test's own environment through a ``.pth`` line, so
the test needs no network, while the package itself (code, templates, static files,
migrations) can only come from the wheel.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import ROOT, serve, services_configured
from tests.llm_server import ModelServer, Reply

# The new site runs on its own embedded default whatever this run's services are, so
# the services run has nothing to add to the embedded run's.
pytestmark = pytest.mark.skipif(
    services_configured(), reason="the new site runs on its embedded default: tested in the embedded run"
)

README = ROOT / "README.md"
SITE_FILES = {"mysite/settings.py", "mysite/urls.py", "mysite/asgi.py"}
#: The site's own app: a model, and the README's mode about it.
LIBRARY_MODELS = """\
from django.conf import settings
from django.db import models


class Book(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    summary = models.TextField()
"""


def readme_lines() -> dict[str, str]:
    """The code blocks of the README's "Add it to your site" (and its subsections), by
    the file each names."""
    text = README.read_text()
    section = text.split("## Add it to your site", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n# (\S+)\n(.*?)```", section, re.S)
    return {name: code for name, code in blocks}


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def site_env() -> dict[str, str]:
    """A new user's environment: none of this repository's or the tests' variables, so
    the site runs on its embedded default."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "TEST_", "ASSISTANT_"))
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PYTHONPATH"):
        env.pop(name, None)
    return {**env, "ENV_FILE": ""}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A new site with the package installed and the README's lines applied, migrated."""
    root = tmp_path_factory.mktemp("site")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "TEST_", "ASSISTANT_"))
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PYTHONPATH"):
        env.pop(name, None)
    env["ENV_FILE"] = ""
    # The wheel is built from a copy of the sources, so that nothing left in the
    # checkout (an earlier build/, an untracked file) can end up in it.
    source = root / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".data", "build", "*.egg-info", "__pycache__", "tests"
        ),
    )
    wheels = root / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)], root, env)
    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root, env)
    python = venv / "bin" / "python"
    packages = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env
        ).strip()
    )
    (packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("*.whl"))
    run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        root,
        env,
    )
    where = run([str(python), "-c", "import assistant, sys; print(assistant.__file__)"], root / "wheels", env)
    assert where.startswith(str(packages)), where  # the wheel's copy, not this repository's
    project = root / "site"
    project.mkdir()
    run([str(python), "-m", "django", "startproject", "mysite", str(project)], root, env)
    blocks = readme_lines()
    assert set(blocks) == {*SITE_FILES, "library/ai_modes.py", "library/ai_tools.py"}
    lines = {name: code for name, code in blocks.items() if name in SITE_FILES}
    added = {name: [line for line in code.splitlines() if line.strip()] for name, code in lines.items()}
    assert len(added["mysite/settings.py"]) <= 5
    assert len(added["mysite/urls.py"]) <= 2
    assert len(added["mysite/asgi.py"]) <= 3
    for name, code in lines.items():
        with (project / name).open("a") as out:
            out.write("\n" + code)
    # The site's own app: its model, the README's mode, and its place in the settings.
    library = project / "library"
    library.mkdir()
    (library / "__init__.py").write_text("")
    (library / "models.py").write_text(LIBRARY_MODELS)
    (library / "ai_modes.py").write_text(blocks["library/ai_modes.py"])
    (library / "ai_tools.py").write_text(blocks["library/ai_tools.py"])
    with (project / "mysite" / "settings.py").open("a") as out:
        out.write('\nINSTALLED_APPS += ["library"]\n')
    run([str(python), "manage.py", "makemigrations", "library", "-v0"], project, env)
    run([str(python), "manage.py", "migrate", "--noinput", "-v0"], project, env)
    # A reader with a book, who has accepted the disclaimer, and another user.
    run(
        [str(python), "manage.py", "shell", "-c",
         "from django.contrib.auth import get_user_model;"
         "from assistant import services;"
         "from library.models import Book;"
         "User = get_user_model();"
         "alice = User.objects.create_user(username='alice', password='a-long-enough-password');"
         "User.objects.create_user(username='mallory', password='a-long-enough-password');"
         "Book.objects.create(owner=alice, title='Dune', summary='Spice, sand and a desert planet.');"
         "Book.objects.create(owner=User.objects.get(username='mallory'), title='Secret diary', summary='');"
         "services.disclaimer_mark_read(user=alice)"],
        project,
        env,
    )  # fmt: skip
    return project


@pytest.fixture(scope="module")
def model():
    """The scripted model server the new site asks."""
    with ModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def served_site(site, model, tmp_path_factory):
    python = str(site.parent / "venv" / "bin" / "python")
    env = {
        **site_env(),
        "OPENAI_BASE_URL": model.url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_MODEL": "scripted",
    }
    served = serve(env, tmp_path_factory.mktemp("logs"), python=python, site=site, prefix="ai/")
    yield next(served).url
    next(served, None)


def token(url: str, username: str) -> str:
    response = httpx.post(
        f"{url}/ai/api/token", json={"userID": username, "password": "a-long-enough-password"}
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def test_the_new_site_serves_the_assistant_under_its_prefix(served_site):
    url = served_site
    assert httpx.get(f"{url}/ai/api/health/").json() == {"enabled": True, "endpoint_available": True}
    page = httpx.get(f"{url}/ai/")
    assert page.status_code == 302 and page.headers["location"].startswith("/ai/accounts/login/")
    login = httpx.get(f"{url}/ai/accounts/login/")
    assert login.status_code == 200
    # The page's styles come from the wheel's static files.
    stylesheet = re.search(r'href="(/static/assistant/css/[^"]+)"', login.text).group(1)
    assert httpx.get(f"{url}{stylesheet}").status_code == 200
    assert httpx.get(f"{url}/ai/api/docs/").status_code == 200
    assert httpx.get(f"{url}/api/health/").status_code == 404  # nothing outside the prefix


def test_a_question_about_the_sites_own_object_calls_its_tool_and_streams(served_site, model):
    url = served_site
    access = token(url, "alice")
    client = httpx.Client(base_url=f"{url}/ai", headers={"Authorization": f"Bearer {access}"}, timeout=10)
    modes = client.get("/api/modes/").json()["modes"]
    assert [mode["id"] for mode in modes] == ["book"]  # the site's mode only: no demo domain
    model.script(
        Reply(text="", tool_calls=[{"id": "call_1", "name": "read_book", "arguments": "{}"}]),
        Reply(chunks=["It is ", "about ", "spice ", "and sand."]),
    )
    created = client.post("/api/sessions/", json={"mode": "book", "book": 1, "content": "What is it about?"})
    assert created.status_code == 201, created.text
    assert created.json()["subject"] == {"type": "library.book", "id": "1"}
    session = created.json()["id"]

    async def watch() -> list[dict]:
        frames = []
        async with websockets.connect(
            f"ws://{url.split('://')[1]}/ai/ws/sessions/{session}/?token={access}"
        ) as socket:
            await socket.send(json.dumps({"action": "resume", "after": 0}))
            while not frames or frames[-1]["type"] not in ("message.completed", "message.error"):
                frames.append(json.loads(await asyncio.wait_for(socket.recv(), 20)))
        return frames

    frames = asyncio.run(watch())
    assert frames[-1]["type"] == "message.completed", frames[-1]
    assert frames[-1]["message"]["content"] == "It is about spice and sand."
    tool = [frame for frame in frames if frame["type"] in ("tool.start", "tool.end")]
    assert [(frame["type"], frame["name"]) for frame in tool] == [
        ("tool.start", "read_book"),
        ("tool.end", "read_book"),
    ]
    assert tool[1]["ok"] is True and "desert planet" in tool[1]["result"]
    assert sum(frame["type"] == "token" for frame in frames) > 1  # streamed, not in one piece
    assert json.loads(model.requests[1]["messages"][-1]["content"])["title"] == "Dune"
    assert client.get(f"/api/sessions/{session}/").json()["messages"][-1]["status"] == "success"
    assert client.post("/api/sessions/", json={"mode": "book", "book": 99, "content": "?"}).status_code == 400

    other = httpx.Client(base_url=f"{url}/ai", headers={"Authorization": f"Bearer {token(url, 'mallory')}"})
    assert other.get(f"/api/sessions/{session}/").status_code == 404
    refused = other.post("/api/sessions/", json={"mode": "book", "book": 1, "content": "Mine?"})
    assert refused.status_code == 403  # not her book
    assert other.post(f"/api/sessions/{session}/messages/", json={"content": "Mine now"}).status_code == 404
    assert other.get("/api/sessions/").json()["pagination"]["total_count"] == 0

    async def refused() -> int:
        mallory = token(url, "mallory")
        async with websockets.connect(
            f"ws://{url.split('://')[1]}/ai/ws/sessions/{session}/?token={mallory}"
        ) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
            return closed.value.rcvd.code

    assert asyncio.run(refused()) == 4403


def test_the_chat_page_works_under_the_prefix_in_chromium(served_site):
    from tests.browser.conftest import CHROMIUM_ARGS, chromium_or_skip

    executable = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors, requests = [], []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{served_site}/ai/")
        page.wait_for_url(re.compile(r"/ai/accounts/login/"))
        page.fill("#id_username", "alice")
        page.fill("#id_password", "a-long-enough-password")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/ai/(#.*)?$"))
        page.wait_for_selector("#app[data-ready]", state="attached", timeout=20_000)
        expect(page.locator("#notice")).to_be_hidden()
        browser.close()
    assert errors == []
    assert f"{served_site}/ai/api/modes/" in requests
    assert not [url for url in requests if "/api/" in url and "/ai/api/" not in url]


def test_the_sites_own_tool_answers_outside_agents_over_mcp_under_the_prefix(served_site):
    """The README's ``library/ai_tools.py``, through the official MCP client: each user
    finds only their own books, and nobody without a credential gets in."""
    import asyncio

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def find_books(username):
        headers = {"Authorization": f"Bearer {token(served_site, username)}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=20) as http,
            Client(streamable_http_client(f"{served_site}/ai/mcp/", http_client=http)) as client,
        ):
            tools = {tool.name for tool in (await client.list_tools()).tools}
            found = await client.call_tool("find_books", {"title__icontains": ""})
            return tools, [book["title"] for book in found.structured_content["results"]]

    tools, alices = asyncio.run(find_books("alice"))
    assert "find_books" in tools
    assert alices == ["Dune"]
    assert asyncio.run(find_books("mallory"))[1] == ["Secret diary"]
    assert (
        httpx.post(
            f"{served_site}/ai/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        ).status_code
        == 401
    )
    assert httpx.post(f"{served_site}/mcp/", json={}).status_code == 404  # only under the prefix
