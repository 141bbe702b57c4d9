"""A writing tool runs only once the asker approves it: the call is shown with a diff,
the answer waits, and goes on after the decision; rejected, expired or cancelled, it
changes nothing."""

import json
import threading
import time

import pytest

from assistant import processing, services
from assistant.exceptions import Conflict, NotFound
from assistant.models import ChatMessage, ToolCall
from assistant.tools import (
    EXPIRED_TEXT,
    NO_APPROVAL_TEXT,
    REJECTED_TEXT,
    ToolContext,
    ToolError,
    checking_access,
    stream_chat_with_tools,
)
from projects import ai_tools
from projects.models import Job, ProjectMembership
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db(transaction=True)
Status = ChatMessage.Status
NEW_CODE = "fn(state => ({ ...state, fixed: true }));\n"


@pytest.fixture
def job(user):
    return f.job(workflow_=f.workflow(project_=f.project(members=[user])), code="fn(state => state);\n")


@pytest.fixture
def question(user, enqueued, job):
    return f.first_message(f.job_session(user=user, job_=job, content="Fix my job"))


@pytest.fixture
def proposes_a_change(model_server, job):
    arguments = json.dumps({"job_id": job.pk, "code": NEW_CODE})
    model_server.script(
        Reply(text="", tool_calls=[{"id": "call_w", "name": "update_job_code", "arguments": arguments}]),
        Reply(text="Done."),
    )


class Answer:
    """The answer made in a thread of its own, as a worker makes it."""

    def __init__(self, message):
        self.outcome = None
        self.thread = threading.Thread(target=self._run, args=(message.pk,), daemon=True)
        self.thread.start()

    def _run(self, message_id):
        self.outcome = processing.message_process(message_id=message_id).state

    def waiting_call(self, timeout=10) -> ToolCall:
        deadline = time.monotonic() + timeout
        while not (call := ToolCall.objects.filter(status="pending").first()):
            assert self.thread.is_alive() and time.monotonic() < deadline, "no call waits for approval"
            time.sleep(0.05)
        return call

    def done(self, timeout=10) -> str:
        self.thread.join(timeout)
        assert not self.thread.is_alive()
        return self.outcome


def of_type(events, *types):
    return [e for e in events if e["type"] in types]


def test_an_approved_change_runs_and_the_answer_goes_on(
    question, job, user, proposes_a_change, events, model_server
):
    answer = Answer(question)
    call = answer.waiting_call()
    assert Job.objects.get(pk=job.pk).code == "fn(state => state);\n"  # nothing changed yet
    assert model_server.calls == 1
    [approval] = of_type(events, "tool.approval")
    assert approval == {
        **approval,
        "message_id": str(question.pk),
        "call_id": "call_w",
        "name": "update_job_code",
    }
    assert approval["arguments"] == {"job_id": job.pk, "code": NEW_CODE}
    assert "-fn(state => state);\n+fn(state => ({ ...state, fixed: true }));" in approval["preview"]["diff"]

    services.tool_call_decide(user=user, message=question, call_id="call_w", approve=True)
    assert answer.done() == "success"
    assert Job.objects.get(pk=job.pk).code == NEW_CODE
    [end] = of_type(events, "tool.end")
    assert (end["ok"], json.loads(end["result"])) == (True, {"job_id": job.pk, "updated": True})
    assert [e["type"] for e in of_type(events, "tool.start", "tool.approval", "tool.end")] == [
        "tool.start", "tool.approval", "tool.end"
    ]  # fmt: skip
    call.refresh_from_db()
    assert (call.status, call.outcome["ok"], call.decided_at is not None) == ("approved", True, True)
    question.refresh_from_db()
    assert question.reply.content == "Done."


def test_a_rejected_change_changes_nothing(question, job, user, proposes_a_change, events, model_server):
    answer = Answer(question)
    answer.waiting_call()
    services.tool_call_decide(user=user, message=question, call_id="call_w", approve=False)
    assert answer.done() == "success"
    assert Job.objects.get(pk=job.pk).code == "fn(state => state);\n"
    [end] = of_type(events, "tool.end")
    assert (end["ok"], end["error"]) == (False, REJECTED_TEXT)
    assert model_server.requests[1]["messages"][-1] == {"role": "tool", "tool_call_id": "call_w",
                                                       "content": REJECTED_TEXT}  # fmt: skip
    assert ToolCall.objects.get().status == "rejected"
    with pytest.raises(Conflict, match="already rejected"):
        services.tool_call_decide(user=user, message=question, call_id="call_w", approve=True)


def test_a_change_nobody_decides_on_expires(question, job, user, proposes_a_change, events, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "APPROVAL_TIMEOUT": 0.5}
    answer = Answer(question)
    assert answer.done() == "success"
    [end] = of_type(events, "tool.end")
    assert (end["ok"], end["error"]) == (False, EXPIRED_TEXT)
    assert ToolCall.objects.get().status == "expired"
    with pytest.raises(Conflict, match="no longer waiting"):
        services.tool_call_decide(user=user, message=question, call_id="call_w", approve=True)
    assert Job.objects.get(pk=job.pk).code == "fn(state => state);\n"


def test_cancelling_while_a_change_waits_changes_nothing(question, job, user, proposes_a_change):
    answer = Answer(question)
    answer.waiting_call()
    services.message_cancel(message=question)
    assert answer.done() == "cancelled"
    assert ToolCall.objects.get().status == "expired"
    with pytest.raises(Conflict):
        services.tool_call_decide(user=user, message=question, call_id="call_w", approve=True)
    assert Job.objects.get(pk=job.pk).code == "fn(state => state);\n"


def test_only_the_asker_decides(question, job, user, make_user, proposes_a_change):
    answer = Answer(question)
    answer.waiting_call()
    with pytest.raises(NotFound):
        services.tool_call_decide(user=make_user("mallory"), message=question, call_id="call_w", approve=True)
    with pytest.raises(NotFound):
        services.tool_call_decide(user=user, message=question, call_id="other", approve=True)
    services.tool_call_decide(user=user, message=question, call_id="call_w", approve=False)
    assert answer.done() == "success"


def test_a_user_whose_role_cant_change_the_job_is_refused_before_anyone_is_asked(make_user, job):
    viewer = make_user("viewer")
    f.member(job.workflow.project, viewer, role=ProjectMembership.Role.VIEWER)
    with pytest.raises(ToolError, match="can't change its jobs"):
        ai_tools.update_job_code.preview(ToolContext(user=viewer), {"job_id": job.pk, "code": "x"})
    with pytest.raises(ToolError, match=f"You have no job {job.pk}"):
        ai_tools.update_job_code.preview(
            ToolContext(user=make_user("mallory")), {"job_id": job.pk, "code": "x"}
        )


def test_without_anyone_to_ask_a_write_is_refused(user, job, model_server):
    arguments = json.dumps({"job_id": job.pk, "code": NEW_CODE})
    model_server.script(
        Reply(tool_calls=[{"id": "c", "name": "update_job_code", "arguments": arguments}]), Reply(text="Ok.")
    )
    with checking_access(lambda: None):
        stream_chat_with_tools(
            [{"role": "user", "content": "fix"}],
            tools=[ai_tools.update_job_code],
            context=ToolContext(user=user),
        )
    assert model_server.requests[1]["messages"][-1]["content"] == NO_APPROVAL_TEXT
    assert Job.objects.get(pk=job.pk).code == "fn(state => state);\n"


def test_the_api_decides_and_the_session_shows_the_call_after_a_reload(
    question, job, user, make_user, proposes_a_change, api_client
):
    answer = Answer(question)
    answer.waiting_call()
    session_url = f"/api/sessions/{question.session_id}/"
    api_client.force_authenticate(user)
    [shown] = api_client.get(session_url).json()["tool_calls"]
    assert (shown["call_id"], shown["status"], shown["name"]) == ("call_w", "pending", "update_job_code")
    assert "+fn(state => ({ ...state, fixed: true }));" in shown["preview"]["diff"]

    url = f"/api/messages/{question.pk}/tools/call_w/approve/"
    api_client.force_authenticate(make_user("mallory"))
    assert api_client.post(url).status_code == 404
    api_client.force_authenticate(user)
    assert api_client.post(f"/api/messages/{question.pk}/tools/nope/approve/").status_code == 404
    response = api_client.post(url)
    assert (response.status_code, response.json()["status"]) == (200, "approved")
    assert answer.done() == "success"
    again = api_client.post(f"/api/messages/{question.pk}/tools/call_w/reject/")
    assert (again.status_code, again.json()["error"]) == (409, "conflict")
    assert Job.objects.get(pk=job.pk).code == NEW_CODE
    [shown] = api_client.get(session_url).json()["tool_calls"]
    assert (shown["status"], shown["outcome"]["ok"]) == ("approved", True)


def test_an_agents_write_nobody_decides_on_expires_and_changes_nothing(user, job, settings):
    from assistant import mcp_server

    settings.ASSISTANT = {**settings.ASSISTANT, "MCP_APPROVAL_TIMEOUT": 0.3, "APPROVAL_POLL_INTERVAL": 0.05}
    ok, text = mcp_server.run_tool(
        mcp_server.Caller(user.pk), "update_job_code", {"job_id": job.pk, "code": "x"}
    )
    assert (ok, text) == (False, EXPIRED_TEXT)
    call = ToolCall.objects.get()
    assert (call.status, call.message) == ("expired", None)
    with pytest.raises(Conflict):
        services.tool_call_decide_for_agent(user=user, tool_call_id=call.pk, approve=True)
    assert Job.objects.get(pk=job.pk).code == "fn(state => state);\n"
