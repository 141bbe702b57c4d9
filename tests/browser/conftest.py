"""Headless Chromium driven by Playwright against the served product.

The browser is Debian's ``chromium`` (``CHROMIUM`` names another binary); Playwright
never downloads one. CI installs it (``.ci/run``); elsewhere the tests skip without
it unless ``REQUIRE_SERVICES`` is set, as in CI. A failing test leaves a screenshot
in ``tests/artifacts/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD, ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
#: Chromium flags for a closed network: no background connections of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_or_skip() -> str:
    """Chromium's path; a skip without one, a failure when ``REQUIRE_SERVICES`` is set (CI)."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("Chromium is not installed (apt-get install chromium)")
        pytest.skip("needs Chromium (apt-get install chromium); runs in CI")
    return executable


@pytest.fixture(scope="module")
def browser(django_db_setup):
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread while the browser is
    # open; the tests' ORM calls between browser steps are synchronous all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request) -> Iterator:
    """A fresh browser context and page, which records requests to anywhere but this
    machine (the chat page makes none) and script errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    # Assertions wait as long as actions do: with the suite on two processes, an answer
    # through the worker can take more than Playwright's default 5 s on two cores.
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    opened = context.new_page()
    opened.outside_requests = []
    opened.errors = []
    local = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/|^(data|blob|about):")
    opened.on("request", lambda r: None if local.match(r.url) else opened.outside_requests.append(r.url))
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-120:]
        opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


def log_in(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"^https?://[^/]+/(#.*)?$"))
    page.wait_for_selector("#app[data-ready]", state="attached")


@pytest.fixture
def wait_for_worker() -> bool:
    """The page logs in and opens while the worker starts: a question waits in the queue."""
    return False


@pytest.fixture
def process_env(process_env) -> dict[str, str]:
    """The served product as users meet it: the disclaimer required before asking, and
    the default limits on answers in progress."""
    return {
        **process_env,
        "AI_REQUIRE_DISCLAIMER": "true",
        "AI_MAX_IN_FLIGHT_PER_USER": "5",
        "AI_MAX_IN_FLIGHT_PER_SESSION": "1",
    }
