"""The staff dashboard in headless Chromium against the served product (web process,
and with the services its Celery worker), on the demo model."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from playwright.sync_api import expect

from agents import services as agent_services
from agents.models import WorkerTask
from assistant.models import ChatMessage
from events import services as event_services
from events.models import Event as EventRow
from events.types import Event
from tests import factories as f
from tests.conftest import PASSWORD
from tests.permissions import DASHBOARD_PERMISSIONS, grant

pytestmark = pytest.mark.django_db(transaction=True)

#: Long enough for a worker to handle an event or answer a message.
HANDLED_TIMEOUT = 30_000


@pytest.fixture
def staff(make_user):
    """A staff member with every dashboard permission (not a superuser)."""
    return grant(make_user("root", is_staff=True), *DASHBOARD_PERMISSIONS)


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


def test_cancel_a_schedule_and_see_it_cancelled(page, console, served, staff, user):
    event = Event(type="user.message", source="tests", userID="alice", metadata={"text": "Stand-up"})
    schedule = event_services.schedule_create(user=user, event=event, cron="0 0 1 1 *", tz="Europe/Berlin")
    open_dashboard(page, served.url)
    page.evaluate("window.sameDocument = true")

    active = page.locator(f'#schedules-table tr[data-id="{schedule.pk}"]')
    expect(active).to_contain_text("0 0 1 1 * (Europe/Berlin)")
    expect(active).to_contain_text("user.message")
    expect(active).to_contain_text("alice")
    expect(active.locator("td.next-run")).to_have_attribute("title", schedule.next_run_at.isoformat())
    expect(active.locator("td.next-run")).not_to_be_empty()
    expect(page.locator('#schedule-counts [data-count="active"] .count-value')).to_have_text("1")
    expect(page.locator("#finished-schedules-empty")).to_be_visible()

    button = active.get_by_role("button", name=re.compile("^Cancel"))
    page.once("dialog", lambda dialog: dialog.dismiss())  # changed their mind
    button.click()
    page.wait_for_timeout(300)
    schedule.refresh_from_db()
    assert schedule.status == "active"

    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    expect(page.locator("#notice")).to_contain_text("cancelled")
    finished = page.locator(f'#finished-schedules-table tr[data-id="{schedule.pk}"]')
    expect(finished.locator("td.status")).to_have_text("cancelled")
    expect(active).to_have_count(0)
    expect(page.locator("#schedules-empty")).to_be_visible()
    expect(page.locator('#schedule-counts [data-count="active"] .count-value')).to_have_text("0")
    expect(page.locator('#schedule-counts [data-count="cancelled"] .count-value')).to_have_text("1")
    assert page.evaluate("window.sameDocument") is True
    schedule.refresh_from_db()
    assert schedule.status == "cancelled" and schedule.periodic_task_id is None
    assert not PeriodicTask.objects.filter(name=f"event schedule {schedule.pk}").exists()
    assert page.outside_requests == [] and page.errors == [] and console == []


def test_run_a_worker_task_and_see_its_log(page, console, served, staff):
    open_dashboard(page, served.url)
    page.evaluate("window.sameDocument = true")
    expect(page.locator("#tasks-empty")).to_be_visible()

    page.fill("#event-type", "worker.task")
    page.fill("#event-metadata", json.dumps({"agent": "usage_report", "input": {"days": 7}}))
    page.click("#event-submit")
    expect(page.locator("#event-form-done")).to_contain_text("queued")
    task = WorkerTask.objects.get()
    assert (task.agent, task.user, task.input) == ("usage_report", staff, {"days": 7})

    shown = page.locator(f'#tasks-table tr[data-id="{task.pk}"]')
    expect(shown.locator("td.status")).to_have_text("succeeded", timeout=HANDLED_TIMEOUT)
    expect(shown.locator("td.agent")).to_have_text("usage_report")
    expect(shown).to_contain_text("100%")
    expect(shown).to_have_class("fresh")
    log = shown.locator("ol.log li.log-line")
    expect(log.first).to_contain_text("Reading your usage")
    task.refresh_from_db()
    assert task.status == "succeeded"
    lines = list(task.log_lines.order_by("seq").values_list("seq", flat=True))
    expect(log).to_have_count(min(len(lines), 20))  # the lines shown once, in order
    assert log.evaluate_all("items => items.map(item => Number(item.dataset.seq))") == lines[-20:]
    expect(page.locator('#task-counts [data-count="succeeded"] .count-value')).to_have_text("1")
    expect(page.locator("#tasks-empty")).to_be_hidden()
    page.wait_for_timeout(2500)  # another snapshot: nothing is added twice
    expect(log).to_have_count(min(len(lines), 20))
    assert page.evaluate("window.sameDocument") is True
    assert page.outside_requests == [] and page.errors == [] and console == []


def test_a_scrolled_log_keeps_its_place_as_lines_come(page, served, staff):
    """A log the user scrolled up stays put while new lines are appended; one at its
    end follows them."""
    # Stored, not routed: the test writes the task's lines itself.
    row = EventRow.objects.create(
        type="worker.task", source="tests", user=staff, timestamp=timezone.now(), status="handled",
        metadata={"agent": "usage_report", "input": {"days": 7}},
    )  # fmt: skip
    task = WorkerTask.objects.get(pk=row.pk)
    WorkerTask.objects.filter(pk=task.pk).update(status="running", started_at=timezone.now())
    seq = 0

    def add_lines(n: int) -> None:
        nonlocal seq
        for _ in range(n):
            seq += 1
            agent_services.task_log(task=task, text=f"step {seq}", seq=seq)

    add_lines(30)
    open_dashboard(page, served.url)
    log = page.locator(f'#tasks-table tr[data-id="{task.pk}"] ol.log')
    expect(log.locator("li.log-line").first).to_have_text("info step 11")  # the last 20
    expect(log.locator("li.log-gap")).to_have_text("… 10 lines not shown")
    expect(log.locator("li.log-line")).to_have_count(20)
    assert log.evaluate("list => list.scrollHeight > list.clientHeight"), "the log does not scroll"
    at_end = "list => list.scrollHeight - list.scrollTop - list.clientHeight < 8"
    assert log.evaluate(at_end)  # it starts at its end

    log.evaluate("list => { list.scrollTop = 40; }")  # the user scrolls up
    add_lines(3)
    expect(log.locator("li.log-line")).to_have_count(23)
    expect(log.locator("li.log-line").last).to_have_text("info step 33")
    assert log.evaluate("list => list.scrollTop") == 40

    log.evaluate("list => { list.scrollTop = list.scrollHeight; }")  # back to the end
    add_lines(25)  # more than a snapshot shows: a gap
    expect(log.locator("li.log-line").last).to_have_text("info step 58")
    expect(log.locator("li.log-gap").last).to_have_text("… 5 lines not shown")
    assert log.evaluate(at_end)
    assert page.errors == []


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


def test_a_staff_member_who_may_only_view_events_sees_only_them(page, console, served, make_user, user):
    grant(make_user("viewer", is_staff=True), "events.view_event", "events.view_schedule")
    f.event(user=user, type="user.message")
    event_services.schedule_create(
        user=user, event=Event(type="user.message", source="tests", userID="alice"), cron="0 9 * * *"
    )
    open_dashboard(page, served.url, username="viewer")
    expect(page.locator("#events-table tbody tr")).to_have_count(1)
    expect(page.locator("#schedules-table tbody tr")).to_have_count(1)
    expect(page.locator("#schedules-table button.cancel")).to_have_count(0)  # no change permission
    for absent in ("#event-form", "#messages", "#tasks"):
        expect(page.locator(absent)).to_have_count(0)
    expect(page.locator("#updated")).to_have_text(re.compile("^Updated"))
    assert console == [] and page.errors == []


def test_see_the_feedback_on_answers_and_filter_it(page, console, served, staff, user, enqueued):
    from assistant import services
    from assistant.models import Feedback

    for model, rating, comment in [
        ("fast", "up", ""),
        ("fast", "down", "Wrong adaptor"),
        ("thinker", "down", ""),
    ]:
        session = f.job_session(user=user, content=f"Question for {model}")
        answer = services.message_save(
            session=session, role="assistant", content=f"Answer by {model}", reply_to=f.first_message(session)
        )
        Feedback.objects.create(message=answer, user=user, rating=rating, comment=comment, model=model)
    open_dashboard(page, served.url)
    rows = page.locator("#feedback-table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator('#feedback-counts [data-count="down"] .count-value')).to_have_text("2")
    expect(page.locator("#feedback-by-model")).to_have_text("fast: 1 👍 1 👎 · thinker: 0 👍 1 👎")
    page.select_option("#feedback-rating", "down")
    expect(rows).to_have_count(2)
    page.select_option("#feedback-model", "fast")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Wrong adaptor")
    expect(rows.first).to_contain_text("Question for fast")
    assert page.outside_requests == [] and page.errors == [] and console == []
