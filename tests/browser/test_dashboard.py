"""The staff dashboard in headless Chromium against the served product (web process,
and with the services its Celery worker), on the demo model."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assistant.models import ChatMessage
from events.models import Event as EventRow
from tests import factories as f
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

#: Long enough for a worker to handle an event or answer a message.
HANDLED_TIMEOUT = 30_000


@pytest.fixture
def staff(make_user):
    return make_user("root", is_staff=True)


@pytest.fixture
def console(page) -> list[str]:
    """Errors and warnings the page logs (a Content-Security-Policy violation is one),
    but for the error statuses the tests provoke."""
    logged: list[str] = []

    def record(message) -> None:
        if message.type in ("error", "warning") and not message.text.startswith("Failed to load resource"):
            logged.append(message.text)

    page.on("console", record)
    return logged


def open_dashboard(page, base_url: str, username: str = "root") -> None:
    """Log in from the dashboard's own address and come back to it."""
    page.goto(f"{base_url}/dashboard/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dashboard/$"))
    page.wait_for_selector("#dashboard[data-ready]", state="attached")


def test_submit_an_event_and_see_it_handled(page, console, served, staff):
    open_dashboard(page, served.url)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    expect(page.locator("#events-empty")).to_be_visible()
    expect(page.locator("#event-user")).to_have_value("root")

    page.fill("#event-type", "user.message")
    page.fill("#event-metadata", '{"text": "Build finished"')
    page.click("#event-submit")
    expect(page.locator("#event-metadata-error")).to_contain_text("is not valid JSON")
    expect(page.locator("#event-metadata")).to_have_attribute("aria-invalid", "true")
    assert not EventRow.objects.exists()

    page.fill("#event-metadata", '{"text": "Build finished"}')
    page.click("#event-submit")
    expect(page.locator("#event-form-done")).to_contain_text("queued")
    expect(page.locator("#event-metadata-error")).to_be_hidden()
    row = EventRow.objects.get()
    assert (row.type, row.user, row.metadata) == ("user.message", staff, {"text": "Build finished"})

    shown = page.locator(f'#events-table tr[data-id="{row.pk}"]')
    expect(shown.locator("td.status")).to_have_text("handled", timeout=HANDLED_TIMEOUT)
    expect(shown.locator("td.handler")).to_have_text("UserMessenger")
    expect(shown.locator("td.attempts")).to_have_text("1")
    expect(shown).to_have_class("fresh")
    expect(page.locator('#event-counts [data-count="handled"] .count-value')).to_have_text("1")
    expect(page.locator("#events-empty")).to_be_hidden()
    assert page.evaluate("window.sameDocument") is True
    row.refresh_from_db()
    assert (row.status, row.handler, row.attempts) == ("handled", "UserMessenger", 1)
    assert page.outside_requests == [] and page.errors == [] and console == []


def test_retry_a_failed_message_and_see_it_answered(page, console, served, staff, user, enqueued):
    question = f.first_message(f.job_session(user=user, content="Why does it fail?"))
    ChatMessage.objects.filter(pk=question.pk).update(status="error", error="Request timed out.")
    open_dashboard(page, served.url)

    failed = page.locator(f'#failed-table tr[data-id="{question.pk}"]')
    expect(failed).to_contain_text("Request timed out.")
    expect(failed).to_contain_text("Why does it fail?")
    expect(page.locator('#message-counts [data-count="failed"] .count-value')).to_have_text("1")
    failed.get_by_role("button", name=re.compile("^Retry")).click()

    expect(page.locator("#notice")).to_contain_text("pending again")
    answered = page.locator(f'#durations-table tr[data-id="{question.pk}"]')
    expect(answered).to_be_visible(timeout=HANDLED_TIMEOUT)
    expect(failed).to_have_count(0)
    expect(page.locator('#message-counts [data-count="failed"] .count-value')).to_have_text("0")
    expect(page.locator("#failed-empty")).to_be_visible()
    question.refresh_from_db()
    assert question.status == "success" and ChatMessage.objects.filter(reply_to=question).exists()
    assert page.outside_requests == [] and page.errors == [] and console == []


def test_polling_pauses_while_the_tab_is_hidden(page, served, staff):
    open_dashboard(page, served.url)
    polled: list[str] = []
    page.on("request", lambda r: polled.append(r.url) if r.url.endswith("/dashboard/state") else None)
    page.wait_for_timeout(2500)
    assert polled, "the page does not poll"

    set_hidden = """hidden => {
        Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    page.evaluate(set_hidden, True)
    expect(page.locator("#updated")).to_have_text(re.compile("Paused"))
    page.wait_for_timeout(500)  # a request already on its way may still land
    polled.clear()
    page.wait_for_timeout(4500)
    assert polled == []

    page.evaluate(set_hidden, False)
    expect(page.locator("#updated")).to_have_text(re.compile("^Updated"))
    page.wait_for_timeout(500)
    assert polled
