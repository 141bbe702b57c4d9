"""The chat page in headless Chromium against the served product (web process, and
with the services its Celery worker), answered by the scripted model server."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from assistant import services
from assistant.models import (
    AIUsage,
    ChatMessage,
    ChatSession,
    Disclaimer,
    DisclaimerAcceptance,
)
from projects.models import Job, Workflow
from tests import factories as f
from tests.conftest import serve
from tests.llm_server import Reply
from tests.projects.test_template_safety import alias_bomb

from .conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = [f"word{i} " for i in range(40)]
SLOW = Reply(chunks=WORDS, chunk_delay=0.1)


@pytest.fixture
def job(user):
    project = f.project(members=[user], name="Clinic")
    return f.job(workflow_=f.workflow(project_=project, name="Intake"), name="Fetch patients")


@pytest.fixture(autouse=True)
def disclaimer():
    """The active disclaimer (its migration's row does not outlive a flushed database)."""
    found, _ = Disclaimer.objects.update_or_create(
        version=1, defaults={"text": "Answers come from an **AI model** and may be wrong.", "is_active": True}
    )
    return found


@pytest.fixture
def accepted(user, disclaimer):
    services.disclaimer_mark_read(user=user)


def assistant_text(page) -> str:
    return page.locator(".message.assistant:not(.streaming) .markdown").inner_text().strip()


def send(page, text: str) -> None:
    page.fill("#message-input", text)
    page.keyboard.press("Enter")


def wait_for_streamed_text(page, at_least: int = 1) -> str:
    """The text of the answer still streaming, once it has ``at_least`` characters."""
    streaming = page.locator(".message.streaming .markdown")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if streaming.count():
            text = streaming.inner_text()
            if len(text) >= at_least:
                return text
        page.wait_for_timeout(30)
    raise AssertionError("no answer streamed")


def reply_of(user_message: ChatMessage) -> ChatMessage:
    return ChatMessage.objects.get(reply_to=user_message)


def test_log_in_accept_the_disclaimer_and_watch_an_answer_stream(
    page, served_with_model, model_server, user, job
):
    chunks = [f"part{i} " for i in range(30)]
    model_server.script(Reply(chunks=chunks, chunk_delay=0.05))
    log_in(page, served_with_model.url, "alice")

    expect(page.locator("#disclaimer")).to_be_visible()
    expect(page.locator("#disclaimer-text strong")).to_have_text("AI model")  # rendered Markdown
    expect(page.locator("#workspace")).to_be_hidden()
    page.click("#disclaimer-accept")
    expect(page.locator("#workspace")).to_be_visible()
    assert DisclaimerAcceptance.objects.filter(user=user).exists()

    expect(page.locator("#mode-job_code")).to_be_checked()
    expect(page.locator("#pick-job")).to_have_value(str(job.pk))
    expect(page.locator("#message-input")).to_have_attribute("placeholder", re.compile("job code"))
    send(page, "Why does it fail?")

    partial = wait_for_streamed_text(page, 5)
    full = "".join(chunks).strip()
    assert full.startswith(partial.strip()) and len(partial.strip()) < len(full)
    expect(page.locator(".message.user .badge")).to_have_text("Processing")
    expect(page.locator("#cancel")).to_be_visible()
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1)
    assert assistant_text(page) == full
    expect(page.locator(".message.streaming")).to_have_count(0)
    expect(page.locator(".message.user .badge")).to_have_count(0)
    question = ChatMessage.objects.get(role="user")
    assert question.status == "success" and reply_of(question).content.strip() == full

    expect(page.locator(".session-item")).to_have_count(1)
    expect(page.locator(".session-title")).to_have_text("Why does it fail")
    page.reload()  # the conversation reopens, the disclaimer stays accepted
    expect(page.locator("#disclaimer")).to_be_hidden()
    expect(page.locator(".message")).to_have_count(2)
    assert assistant_text(page) == full
    assert page.outside_requests == [] and page.errors == []


@pytest.mark.parametrize("interruption", ["reload", "dropped connection"])
def test_an_interrupted_page_shows_the_whole_answer_once(
    page, served_with_model, model_server, user, job, accepted, interruption
):
    model_server.script(SLOW)
    log_in(page, served_with_model.url, "alice")
    send(page, "Explain the job")
    wait_for_streamed_text(page, 20)
    if interruption == "reload":
        page.reload()
    else:
        page.evaluate("window.assistantChat.dropConnection()")
        expect(page.locator("#app")).to_have_attribute("data-connection", "closed")
        wait_for_streamed_text(page, 1)
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)
    full = "".join(WORDS).strip()
    assert assistant_text(page) == full
    expect(page.locator(".message.streaming")).to_have_count(0)
    expect(page.locator("#app")).to_have_attribute("data-connection", "open")
    assert page.errors == []


def test_cancel_stops_the_answer_and_retry_asks_again(
    page, served_with_model, model_server, user, job, accepted
):
    model_server.script(Reply(chunks=WORDS * 3, chunk_delay=0.1), Reply(text="A second answer."))
    log_in(page, served_with_model.url, "alice")
    send(page, "A long answer, please")
    wait_for_streamed_text(page, 10)
    page.click("#cancel")
    expect(page.locator(".message.user .badge")).to_have_text("Cancelled")
    expect(page.locator(".message.streaming")).to_have_count(0)
    expect(page.locator("#cancel")).to_be_hidden()
    expect(page.locator("#message-input")).to_be_enabled()
    question = ChatMessage.objects.get(role="user")
    assert question.status == "cancelled"
    assert not ChatMessage.objects.filter(role="assistant").exists()

    page.click(".message.user .retry")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)
    assert assistant_text(page) == "A second answer."


def test_a_model_error_shows_failed_and_retry_recovers(
    page, served_with_model, model_server, user, job, accepted
):
    model_server.script(Reply(status=400, error="The model rejected the request."), Reply(text="Recovered."))
    log_in(page, served_with_model.url, "alice")
    send(page, "Hello")
    expect(page.locator(".message.user .badge")).to_have_text("Failed")
    expect(page.locator(".message.user p.error")).to_have_text("The model rejected the request.")
    page.click(".message.user .retry")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1)
    assert assistant_text(page) == "Recovered."
    expect(page.locator(".message.user .badge")).to_have_count(0)


XSS_ANSWER = """Here you go.

<script>window.__pwned = "script"</script>
<img src="x" onerror="window.__pwned = 'onerror'">
<svg onload="window.__pwned = 'svg'"><circle r="1"/></svg>
<iframe src="javascript:window.__pwned = 'iframe'"></iframe>
<a href="#" onclick="window.__pwned = 'onclick'" id="evil-click">click me</a>
[a javascript link](javascript:window.__pwned='link')
<a href="javascript:window.__pwned='raw-link'" id="evil-link">raw link</a>
![remote picture](http://203.0.113.9/track.png)
<img src="https://203.0.113.9/pixel.gif">
<form action="/api/sessions/"><button formaction="javascript:alert(1)">go</button></form>
<div style="background:url(http://203.0.113.9/bg.png)">styled</div>

```html
<script>alert("shown as code")</script>
```
"""


def test_an_answer_full_of_xss_payloads_stays_inert(
    page, served_with_model, model_server, user, job, accepted
):
    model_server.script(
        Reply(text=XSS_ANSWER, chunks=[XSS_ANSWER[i : i + 7] for i in range(0, len(XSS_ANSWER), 7)])
    )
    log_in(page, served_with_model.url, "alice")
    send(page, "Show me HTML")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1)
    answer = page.locator(".message.assistant .markdown")
    expect(answer).to_contain_text("Here you go.")
    expect(answer.locator("code")).to_contain_text('<script>alert("shown as code")</script>')
    for link in answer.locator("a").all():
        link.click(no_wait_after=True)
    page.wait_for_timeout(300)
    found = page.evaluate(
        """() => {
          const root = document.querySelector('.message.assistant .markdown');
          const handlers = [...root.querySelectorAll('*')].flatMap(
            (node) => [...node.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.name));
          return {
            pwned: window.__pwned || null,
            // The page's own Copy buttons on code blocks are the only buttons.
            scripts: root.querySelectorAll('script, iframe, svg, form, button:not(.copy-code), style').length,
            copies: [root.querySelectorAll('button.copy-code').length, root.querySelectorAll('pre').length],
            images: [...root.querySelectorAll('img')].map((img) => img.src),
            hrefs: [...root.querySelectorAll('a')].map((a) => a.getAttribute('href')),
            styled: root.querySelectorAll('[style]').length,
            handlers,
          };
        }"""
    )
    assert found["pwned"] is None
    assert found["scripts"] == 0 and found["styled"] == 0 and found["handlers"] == []
    assert found["copies"][0] == found["copies"][1]
    assert found["images"] == []
    assert all(href is None or href.startswith(("#", "http")) for href in found["hrefs"])
    assert page.outside_requests == []
    assert page.url.startswith(served_with_model.url)


#: A first answer the worker must refuse, not expand: a YAML alias bomb.
INVALID_YAML = f"```yaml\n{alias_bomb(5)}```\n"
VALID_YAML = """```yaml
name: Daily sync
jobs:
  Fetch:
    name: Fetch
    adaptor: "@openfn/language-http@latest"
    body: |
      get('https://example.org/items');
triggers:
  daily:
    type: cron
    cron_expression: "0 6 * * *"
    enabled: false
edges:
  daily->Fetch:
    source_trigger: daily
    target_job: Fetch
    condition_type: always
    enabled: true
```
"""
REPLACING_YAML = """```yaml
name: Intake v2
jobs:
  Send:
    name: Send
    adaptor: "@openfn/language-common@latest"
    body: fn(state => state);
triggers:
  webhook:
    type: webhook
    enabled: true
edges:
  webhook->Send:
    source_trigger: webhook
    target_job: Send
    condition_type: always
    enabled: true
```
"""


def test_a_workflow_template_is_corrected_and_applied_to_a_new_workflow(
    page, served_with_model, model_server, user, job, accepted
):
    model_server.script(Reply(text=f"A first try:\n\n{INVALID_YAML}"), Reply(text=f"Fixed:\n\n{VALID_YAML}"))
    log_in(page, served_with_model.url, "alice")
    expect(page.locator("#pick-workflow")).to_have_value(str(job.workflow_id))  # job help: Intake
    page.click("label[for=mode-workflow_template]")
    expect(page.locator("#pick-job-row")).to_be_hidden()
    expect(page.locator("#pick-project")).to_have_value(str(job.workflow.project_id))
    expect(page.locator("#pick-workflow")).to_have_value("")  # a new request: a new workflow
    send(page, "Sync patients every morning")

    expect(page.locator(".validation-errors li").first).to_contain_text(
        "aliases are not allowed", timeout=30_000
    )
    expect(page.locator(".apply")).to_have_count(0)
    send(page, "Please fix it")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(2, timeout=30_000)
    expect(page.locator(".message.assistant .markdown").last).to_contain_text("cron_expression")
    expect(page.locator(".message.assistant").last.locator("pre")).to_have_count(1)  # the YAML, once
    page.click(".apply")
    expect(page.locator("#notice")).to_have_text("Created workflow “Daily sync”: added Fetch.")
    expect(page.locator(".apply-preview")).to_have_count(0)  # nothing to confirm for a new one
    workflow = Workflow.objects.get(project=job.workflow.project, name="Daily sync")
    assert list(workflow.jobs.values_list("name", flat=True)) == ["Fetch"]
    assert ChatSession.objects.get().subject == workflow
    assert list(job.workflow.jobs.values_list("name", flat=True)) == ["Fetch patients"]  # Intake untouched


def test_applying_to_an_existing_workflow_shows_the_changes_and_asks_first(
    page, served_with_model, model_server, user, job, accepted
):
    model_server.script(Reply(text=f"Here:\n\n{REPLACING_YAML}"))
    log_in(page, served_with_model.url, "alice")
    page.click("label[for=mode-workflow_template]")
    expect(page.locator("#pick-workflow")).to_have_value("")  # the builder's list is in
    page.select_option("#pick-workflow", str(job.workflow_id))
    send(page, "Replace the intake with a webhook that sends")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)

    page.click(".apply")
    preview = page.locator(".apply-preview")
    expect(preview).to_contain_text("existing workflow “Intake”")
    expect(preview.locator("li")).to_have_text([
        "Renames the workflow “Intake” to “Intake v2”.",
        "Adds 1 job: Send.",
        "Removes 1 job: Fetch patients.",
    ])  # fmt: skip
    page.click(".apply-cancel")
    expect(preview).to_have_count(0)
    job.workflow.refresh_from_db()
    assert job.workflow.name == "Intake" and Job.objects.filter(pk=job.pk).exists()

    page.click(".apply")
    page.click(".apply-confirm")
    expect(page.locator("#notice")).to_have_text(
        "Updated workflow “Intake v2” (renamed from “Intake”): added Send; removed Fetch patients."
    )
    expect(preview).to_have_count(0)
    job.workflow.refresh_from_db()
    assert job.workflow.name == "Intake v2"
    assert list(job.workflow.jobs.values_list("name", flat=True)) == ["Send"]


def test_after_a_reload_or_from_a_link_the_conversation_goes_on(
    page, served_with_model, model_server, user, job, accepted
):
    model_server.script(
        Reply(text="First answer."), Reply(text="Second answer."), Reply(text="Third answer.")
    )
    log_in(page, served_with_model.url, "alice")
    send(page, "First question")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1)

    page.reload()
    expect(page.locator(".message")).to_have_count(2)
    expect(page.locator("#message-input")).to_be_visible()
    expect(page.locator("#message-input")).to_be_enabled()
    send(page, "Second question")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(2)
    expect(page.locator(".message.assistant .markdown").last).to_have_text("Second answer.")

    linked = page.context.new_page()  # the #session= link opened on its own
    linked.goto(page.url)
    expect(linked.locator(".message")).to_have_count(4)
    send(linked, "Third question")
    expect(linked.locator(".message.assistant:not(.streaming)")).to_have_count(3)
    expect(linked.locator(".message.assistant .markdown").last).to_have_text("Third answer.")
    assert ChatMessage.objects.filter(role="user").count() == 3
    assert page.errors == []


def test_the_conversation_list_pages_sorts_searches_renames_and_deletes(
    page, served, user, job, accepted, make_user
):
    for i in range(25):
        ChatSession.objects.create(mode="job_code", user=user, **f.about(job), title=f"Chat {i:02d}")
    seventh = ChatSession.objects.get(title="Chat 07")
    services.message_save(session=seventh, role="assistant", content="The patients registry timed out.")
    ChatSession.objects.filter(pk=seventh.pk).update(
        updated_at=ChatSession.objects.get(title="Chat 06").updated_at
    )
    stranger = make_user("mallory")
    hidden = ChatSession.objects.create(
        mode="job_code", user=stranger, **f.about(job), title="Mallory's secret"
    )
    log_in(page, served.url, "alice")
    items = page.locator(".session-item")
    expect(items).to_have_count(20)
    expect(items.first).to_contain_text("Chat 24")
    expect(page.locator("#load-more")).to_have_text("Load more conversations (5 remaining)")
    page.click("#load-more")
    expect(items).to_have_count(25)
    expect(page.locator("#load-more")).to_be_hidden()
    expect(page.locator("#session-list")).not_to_contain_text("Mallory")

    page.select_option("#session-sort", "asc")
    expect(items.first).to_contain_text("Chat 00")
    page.fill("#session-search", "registr")  # a word of what was said, as it is typed
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Chat 07")
    expect(items.first.locator(".session-snippet mark")).to_have_text("registry")

    items.first.get_by_role("button", name="Rename").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Renamed chat")
    page.keyboard.press("Enter")
    expect(items.first).to_contain_text("Renamed chat")
    assert ChatSession.objects.filter(user=user, title="Renamed chat").count() == 1

    page.once("dialog", lambda dialog: dialog.accept())
    items.first.get_by_role("button", name="Delete").click()
    expect(page.locator("#notice")).to_have_text("Conversation deleted.")
    assert ChatSession.objects.filter(user=user).count() == 24

    page.goto(f"{served.url}/#session={hidden.pk}")  # another user's conversation
    expect(page.locator("#notice")).to_have_text("Not found.")
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Mallory's secret")


@pytest.fixture
def limited_server(process_env, tmp_path):
    yield from serve({**process_env, "AI_USER_TOKEN_LIMIT": "100"}, tmp_path)


def test_the_input_is_disabled_with_the_reason_when_the_usage_limit_is_reached(
    page, limited_server, user, job, accepted
):
    AIUsage.objects.create(user=user, scope=f.about(job)["scope"], total_tokens=150)
    log_in(page, limited_server.url, "alice")
    expect(page.locator("#input-disabled")).to_have_text("AI usage limit reached. Please try again later.")
    expect(page.locator("#message-input")).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()
    # The user sees how far they are: 150 of the 100 tokens of this month.
    expect(page.locator("#usage-text")).to_have_text(re.compile(r"^150 of 100 tokens this month \(resets "))
    expect(page.locator("#usage-meter")).to_have_attribute("max", "100")


def test_a_new_disclaimer_is_asked_for_before_the_next_question(
    page, served_with_model, model_server, user, job, accepted
):
    log_in(page, served_with_model.url, "alice")
    send(page, "First question")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1)
    newer = Disclaimer.objects.create(version=2, text="New terms: answers are **checked** by nobody.")
    services.disclaimer_activate(disclaimer=newer)
    send(page, "Second question")
    expect(page.locator("#disclaimer")).to_be_visible()
    expect(page.locator("#disclaimer-text strong")).to_have_text("checked")
    assert ChatMessage.objects.filter(role="user").count() == 1  # the API refused it
    page.click("#disclaimer-accept")
    expect(page.locator("#message-input")).to_be_enabled()
    send(page, "Second question")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(2)
    assert ChatMessage.objects.filter(role="user", content="Second question").count() == 1


def test_a_conversation_made_private_closes_on_the_other_members_page(
    page, served_with_model, model_server, user, job, accepted, make_user
):
    import httpx

    from accounts.services import tokens_for_user

    owner = make_user("olga")
    f.member(job.workflow.project, owner)
    services.disclaimer_mark_read(user=owner)
    session = f.job_session(user=owner, job_=job, content="Olga asks")
    ChatMessage.objects.filter(session=session).update(status="success")
    services.session_set_public(session=session, is_public=True)
    log_in(page, served_with_model.url, "alice")
    page.goto(f"{served_with_model.url}/#session={session.pk}")
    page.reload()
    expect(page.locator(".message.user")).to_have_count(1)
    expect(page.locator("#message-input")).to_be_disabled()  # read-only for alice
    # Olga makes it private through the served product, then asks something private.
    olga = httpx.Client(
        base_url=served_with_model.url,
        headers={"Authorization": f"Bearer {tokens_for_user(owner)['access']}"},
        timeout=10,
    )
    assert olga.patch(f"/api/sessions/{session.pk}/", json={"is_public": False}).status_code == 200
    expect(page.locator("#notice")).to_contain_text("not available to you any more")
    model_server.script(Reply(text="The private answer."))
    posted = olga.post(f"/api/sessions/{session.pk}/messages/", json={"content": "A private question"})
    assert posted.status_code == 202
    page.wait_for_timeout(1500)
    expect(page.locator(".message.user")).to_have_count(1)
    assert "private" not in page.locator("#messages").inner_text()


def proposes_new_code(model_server, job, code):
    arguments = json.dumps({"job_id": job.pk, "code": code})
    model_server.script(
        Reply(text="", tool_calls=[{"id": "call_w", "name": "update_job_code", "arguments": arguments}]),
        Reply(text="Your job is changed as you decided."),
    )


def test_a_proposed_change_is_shown_as_a_diff_survives_a_reload_and_is_applied_once_approved(
    page, served_with_model, model_server, user, job, accepted
):
    Job.objects.filter(pk=job.pk).update(code="get('/patients');")
    proposes_new_code(model_server, job, "get('/patients?active=true');")
    log_in(page, served_with_model.url, "alice")
    send(page, "Only fetch active patients")
    waiting = page.locator(".tool.waiting")
    expect(waiting).to_be_visible(timeout=20_000)
    expect(waiting.locator(".diff .removed")).to_have_text("-get('/patients');\n")
    expect(waiting.locator(".diff .added")).to_have_text("+get('/patients?active=true');\n")
    assert Job.objects.get(pk=job.pk).code == "get('/patients');"

    page.reload()  # the answer waits on; the page asks again
    expect(page.locator(".tool.waiting")).to_be_visible(timeout=20_000)
    page.locator(".tool.waiting button", has_text="Approve").click()
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)
    assert assistant_text(page) == "Your job is changed as you decided."
    assert Job.objects.get(pk=job.pk).code == "get('/patients?active=true');"

    page.reload()  # the reply keeps the call it made, collapsed
    saved = page.locator(".message.assistant .tool.done")
    expect(saved).to_have_count(1)
    expect(saved.locator("summary")).to_have_text("Used update_job_code")
    assert saved.get_attribute("open") is None
    saved.locator("summary").click()
    expect(saved.locator(".tool-arguments")).to_contain_text("active=true")
    expect(saved.locator(".tool-result")).to_contain_text('"updated": true')
    assert page.errors == []


def test_a_rejected_change_leaves_the_job_as_it_was(
    page, served_with_model, model_server, user, job, accepted
):
    Job.objects.filter(pk=job.pk).update(code="get('/patients');")
    proposes_new_code(model_server, job, "remove('/patients');")
    log_in(page, served_with_model.url, "alice")
    send(page, "Clean up")
    page.locator(".tool.waiting button", has_text="Reject").click(timeout=20_000)
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)
    assert Job.objects.get(pk=job.pk).code == "get('/patients');"
    [request] = [r for r in model_server.requests if r["messages"][-1]["role"] == "tool"]
    assert "rejected" in request["messages"][-1]["content"]
    assert page.errors == []


def test_make_an_api_key_see_it_once_and_revoke_it(page, served, user, accepted):
    from accounts.models import ApiKey
    from assistant.mcp_server import authenticate

    log_in(page, served.url, "alice")
    page.locator("#api-keys summary").click()
    expect(page.locator("#mcp-url")).to_have_text(f"{served.url}/mcp/")
    page.fill("#key-name", "laptop agent")
    page.locator("#key-form button[type=submit]").click()
    shown = page.locator("#new-key code")
    expect(shown).to_have_text(re.compile(r"^aak_\S{30,}$"))
    raw = shown.inner_text()
    expect(page.locator(".key-item")).to_have_count(1)
    expect(page.locator(".key-item")).to_contain_text("laptop agent")
    assert raw not in page.locator("#key-list").inner_text()  # the list shows a hint only
    key = ApiKey.objects.get()
    assert (key.user, key.can_write) == (user, False)
    assert authenticate(f"Bearer {raw}").user_id == user.pk

    page.locator(".key-item button", has_text="Revoke").click()
    expect(page.locator(".key-item")).to_have_count(0)
    assert authenticate(f"Bearer {raw}") is None
    assert page.errors == []


def test_an_agents_write_waiting_for_approval_is_shown_and_approved(page, served, user, job, accepted):
    from assistant.models import ToolCall

    call = services.tool_call_propose_for_agent(
        user=user,
        name="update_job_code",
        arguments={"job_id": job.pk, "code": "new();"},
        preview={"job_id": job.pk, "job": job.name, "diff": "--- now\n+++ proposed\n-old();\n+new();"},
        expires_in=600,
    )
    log_in(page, served.url, "alice")
    waiting = page.locator("#agent-calls .agent-call")
    expect(waiting).to_have_count(1)
    expect(waiting.locator(".diff .added")).to_have_text("+new();\n")
    waiting.locator("button", has_text="Approve").click()
    expect(page.locator("#agent-calls")).to_be_hidden()
    assert ToolCall.objects.get(pk=call.pk).status == "approved"
    assert page.errors == []


@pytest.fixture
def served_with_models(process_env, model_server, tmp_path):
    env = {
        **process_env,
        "OPENAI_BASE_URL": model_server.url,
        "OPENAI_API_KEY": "test-key",
        "AI_MODELS": json.dumps(
            [{"id": "fast", "label": "Fast"}, {"id": "thinker", "label": "Thinker", "reasoning": True}]
        ),
    }
    yield from serve(env, tmp_path)


def test_pick_a_model_and_an_effort_and_the_conversation_keeps_them(
    page, served_with_models, model_server, user, job, accepted
):
    model_server.script(Reply(text="Thought hard."), Reply(text="Still the thinker."))
    log_in(page, served_with_models.url, "alice")
    expect(page.locator("#model-picker")).to_be_visible()
    expect(page.locator("#effort-picker")).to_be_hidden()  # Fast takes none
    page.select_option("#model-picker", "thinker")
    expect(page.locator("#effort-picker")).to_be_visible()
    page.select_option("#effort-picker", "high")
    send(page, "Think about my job")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)
    assert (model_server.requests[0]["model"], model_server.requests[0]["reasoning_effort"]) == (
        "thinker",
        "high",
    )

    page.reload()  # the conversation remembers the choice
    expect(page.locator("#model-picker")).to_have_value("thinker")
    expect(page.locator("#effort-picker")).to_have_value("high")
    send(page, "And again")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(2, timeout=30_000)
    assert model_server.requests[1]["model"] == "thinker"
    assert page.errors == []


def test_the_conversation_downloads_as_markdown(page, served_with_model, model_server, user, job, accepted):
    model_server.script(Reply(text="Check **state.data**."))
    log_in(page, served_with_model.url, "alice")
    send(page, "Why does it fail?")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)
    with page.expect_download() as download:
        page.click("#export-markdown")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == "why-does-it-fail.md"
    assert "## You · " in text and "Why does it fail?" in text and "Check **state.data**." in text
    assert page.errors == []


def test_rate_an_answer_with_a_comment_and_see_it_after_a_reload(
    page, served_with_model, model_server, user, job, accepted
):
    from assistant.models import Feedback

    model_server.script(Reply(text="Check state.data."))
    log_in(page, served_with_model.url, "alice")
    send(page, "Why does it fail?")
    answer = page.locator(".message.assistant:not(.streaming)")
    expect(answer).to_have_count(1, timeout=30_000)
    answer.get_by_role("button", name="Bad answer").click()
    expect(answer.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "true")
    answer.locator(".feedback-comment").fill("It was state.body.")
    answer.locator(".save-comment").click()
    expect(page.locator("#notice")).to_have_text("Thanks for your feedback.")
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment, feedback.user) == ("down", "It was state.body.", user)
    page.reload()
    answer = page.locator(".message.assistant")
    expect(answer.get_by_role("button", name="Bad answer")).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".feedback-comment")).to_have_value("It was state.body.")
    assert page.errors == []


def test_regenerate_and_switch_versions_then_edit_and_switch_branches(
    page, served_with_model, model_server, user, job, accepted
):
    model_server.script(
        Reply(text="First answer."),
        Reply(chunks=["Second ", "answer."], chunk_delay=0.2),
        Reply(text="Answer to the edit."),
    )
    log_in(page, served_with_model.url, "alice")
    send(page, "Why does it fail?")
    answer = page.locator(".message.assistant:not(.streaming)")
    expect(answer).to_have_text(re.compile("First answer."), timeout=30_000)

    answer.get_by_role("button", name="Regenerate").click()
    expect(page.locator(".message.streaming")).to_have_count(1, timeout=10_000)
    expect(answer).to_have_text(re.compile("Second answer."), timeout=30_000)
    expect(answer.locator(".versions")).to_have_text("2 / 2")
    answer.get_by_role("button", name="Previous version").click()
    expect(answer).to_have_text(re.compile("First answer."))
    expect(answer.locator(".versions")).to_have_text("1 / 2")
    page.reload()  # the version shown is kept
    expect(page.locator(".message.assistant")).to_have_text(re.compile("First answer."))
    question = ChatMessage.objects.get(role="user")
    assert question.reply.content == "First answer."

    page.locator(".message.user").get_by_role("button", name="Edit").click()
    page.fill(".edit-input", "Why does it fail on Mondays?")
    page.locator(".edit-form").get_by_role("button", name="Send").click()
    expect(page.locator(".message.user .text")).to_have_text("Why does it fail on Mondays?", timeout=10_000)
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_text(
        re.compile("Answer to the edit."), timeout=30_000
    )
    expect(page.locator(".message.user .versions")).to_have_text("2 / 2")
    # The model saw the edited question without the first branch's turns.
    sent = [m["content"] for m in model_server.requests[-1]["messages"]]
    assert not any("First answer." in text or "Second answer." in text for text in sent)

    page.locator(".message.user").get_by_role("button", name="Previous version").click()
    expect(page.locator(".message.user .text")).to_have_text("Why does it fail?")
    expect(page.locator(".message.assistant")).to_have_text(re.compile("First answer."))
    expect(page.locator(".message.user .versions")).to_have_text("1 / 2")
    assert page.errors == []


def test_share_a_conversation_open_the_link_logged_out_and_revoke_it(
    page, browser, served_with_model, model_server, user, job, accepted
):
    model_server.script(Reply(text="Check **state.data** first."))
    log_in(page, served_with_model.url, "alice")
    send(page, "Why does it fail?")
    expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)
    page.click("#share")
    link = page.locator("#share-url")
    expect(link).to_have_value(re.compile(r"/share/[\w-]{20,}/$"))
    url = link.input_value()

    stranger = browser.new_context()  # logged out, another browser
    try:
        shared = stranger.new_page()
        shared.goto(url)
        expect(shared.locator("#shared-title")).to_have_text("Why does it fail")
        expect(shared.locator(".message.assistant strong")).to_have_text("state.data")  # Markdown
        expect(shared.locator(".message")).to_have_count(2)
        expect(shared.locator("#message-input")).to_have_count(0)  # read-only

        page.reload()  # the link is not shown again, only that there is one
        expect(page.locator("#share-state")).to_have_text("Shared by link.")
        page.click("#share-stop")
        expect(page.locator("#notice")).to_have_text("The link no longer opens this conversation.")
        expect(page.locator("#share")).to_be_visible()
        shared.reload()
        expect(shared.locator("h1")).to_have_text("This link does not open a conversation")
        expect(shared.locator(".message")).to_have_count(0)
    finally:
        stranger.close()
    assert page.errors == []


CODE_ANSWER = (
    "Try this:\n\n```js\nconst patients = state.data.filter(p => p.appointment);\n```\n\nThen run it again."
)


def test_the_page_a_chat_user_expects(page, browser, served_with_model, model_server, user, job, accepted):
    """Copy buttons, highlighted code, timestamps and date groups, the growing input,
    the scroll-to-bottom button, the job-context switches, a favicon."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    failed_run = f.run(job_=job, log="[JOB] ✘ TypeError: state.data is undefined")
    model_server.script(
        Reply(text=CODE_ANSWER), *[Reply(text=f"Answer {n}. " + "Long line. " * 60) for n in range(6)]
    )
    log_in(page, served_with_model.url, "alice")
    send(page, "Why does my job fail on the filter?")
    answer = page.locator(".message.assistant:not(.streaming)")
    expect(answer).to_have_count(1, timeout=30_000)
    expect(answer.locator("pre code.hljs .hljs-keyword").first).to_have_text("const")  # highlighted
    answer.locator(".copy-code").click()
    expect(answer.locator(".copy-code")).to_have_text("Copied")
    assert (
        page.evaluate("navigator.clipboard.readText()")
        == "const patients = state.data.filter(p => p.appointment);\n"
    )
    answer.locator(".copy-answer").click()
    assert page.evaluate("navigator.clipboard.readText()") == CODE_ANSWER
    expect(page.locator(".message.user .who time")).to_have_count(1)
    expect(page.locator(".session-group").first).to_have_text("Today")
    expect(page.locator(".session-item .session-mode time")).to_have_count(1)

    # The job's context switches and the run to read go with the question.
    expect(page.locator("#context-switches")).to_be_visible()
    expect(page.locator("#context-run option")).to_have_count(2)  # no run, and the job's one
    expect(page.locator("#context-run")).to_have_value(str(failed_run.pk))
    page.locator("#context-switches input[name=logs]").check()
    send(page, "And with the logs?")
    expect(answer).to_have_count(2, timeout=30_000)
    asked = ChatMessage.objects.filter(role="user").order_by("-created_at").first()
    assert asked.meta["options"] == {
        "code": True,
        "logs": True,
        "input": False,
        "output": False,
        "run": failed_run.pk,
    }
    assert "TypeError: state.data is undefined" in model_server.requests[-1]["messages"][0]["content"]

    # The box grows with what is typed.
    before = page.locator("#message-input").bounding_box()["height"]
    page.fill("#message-input", "\n".join(f"line {n}" for n in range(8)))
    page.locator("#message-input").dispatch_event("input")
    assert page.locator("#message-input").bounding_box()["height"] > before + 20
    page.fill("#message-input", "")

    for n in range(4):  # enough to scroll
        send(page, f"Question {n}")
        expect(answer).to_have_count(3 + n, timeout=30_000)
    expect(page.locator("#to-bottom")).to_be_hidden()
    page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(page.locator("#to-bottom")).to_be_visible()
    page.click("#to-bottom")
    expect(page.locator("#to-bottom")).to_be_hidden()

    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{served_with_model.url}{icon}").status == 200
    assert page.errors == []


def test_at_390_pixels_nothing_overflows_and_dark_mode_follows_the_system(
    browser, served_with_model, model_server, user, job, accepted
):
    model_server.script(Reply(text=CODE_ANSWER + " " + "averyveryverylongwordwithoutanybreaks" * 4))
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    try:
        page = context.new_page()
        log_in(page, served_with_model.url, "alice")
        send(page, "Why does my job fail? " + "x" * 200)
        expect(page.locator(".message.assistant:not(.streaming)")).to_have_count(1, timeout=30_000)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide at 390"
        for selector in ("#chat-title", ".session-title"):
            assert (
                page.locator(selector).first.evaluate("n => getComputedStyle(n).textOverflow") == "ellipsis"
            )
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 21, 27)", background  # the dark palette
    finally:
        context.close()
