"""Modes' tools: the model calls them, clients see ``tool.start`` / ``tool.end``."""

import json

import pytest

from assistant import processing, services
from assistant.models import AIUsage, ChatMessage
from assistant.tools import FAILED_TEXT, Tool, ToolContext, ToolError, check_arguments
from modes.base import ModeBehaviour
from modes.registry import site
from projects.ai_modes import JobCodeMode
from projects.ai_tools import JOB_TOOLS, recent_runs, run_log
from projects.models import ProjectMembership
from tests import factories as f
from tests.llm_server import Reply
from tests.plugin_app.ai_modes import ReleaseNotesMode

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status
USAGE_1 = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
USAGE_2 = {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35}


def call(name, arguments="{}", call_id="call_1"):
    return {"id": call_id, "name": name, "arguments": arguments}


def calls_tool(*tool_calls, text="", usage=None):
    return Reply(text=text, tool_calls=list(tool_calls), usage=usage)


@pytest.fixture
def job(user):
    return f.job(workflow_=f.workflow(project_=f.project(members=[user])))


@pytest.fixture
def pending(user, enqueued, job):
    return f.first_message(f.job_session(user=user, job_=job, content="Why did it fail?"))


def process(message):
    return processing.message_process(message_id=message.pk)


def of_type(events, *types):
    return [e for e in events if e["type"] in types]


def test_a_tool_call_is_run_shown_and_answered(
    pending, job, model_server, events, django_capture_on_commit_callbacks
):
    failed = f.run(job_=job, log="line 1\nTypeError: state.data is undefined")
    model_server.script(
        calls_tool(call("recent_runs", '{"limit": 3}'), usage=USAGE_1),
        Reply(chunks=["The ", "last ", "run ", "failed."], usage=USAGE_2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert process(pending).state == "success"

    types = [e["type"] for e in events]
    assert types == ["message.status", "tool.start", "tool.end", *["token"] * 4, "message.completed",
                     "message.status"]  # fmt: skip
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    start, end = of_type(events, "tool.start", "tool.end")
    assert start == {**start, "message_id": str(pending.pk), "call_id": "call_1", "name": "recent_runs",
                     "arguments": {"limit": 3}}  # fmt: skip
    assert (end["message_id"], end["call_id"], end["name"], end["ok"]) == (
        str(pending.pk), "call_1", "recent_runs", True
    )  # fmt: skip
    assert json.loads(end["result"]) == {"results": [
        {"id": failed.pk, "job": job.pk, "state": "failed", "created_at": failed.created_at.isoformat(),
         "started_at": None, "finished_at": None}
    ], "count": 1, "more": False}  # fmt: skip

    first, second = model_server.requests
    assert [t["function"]["name"] for t in first["tools"]] == JOB_TOOLS
    assert "tool_choice" not in first
    *_, asked, answered = second["messages"]
    assert asked["role"] == "assistant"
    assert asked["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "recent_runs", "arguments": '{"limit": 3}'}}
    ]
    assert answered == {"role": "tool", "tool_call_id": "call_1", "content": end["result"]}

    reply = pending.reply
    assert reply.content == "The last run failed."
    assert reply.usage == {"prompt_tokens": 40, "completion_tokens": 7, "total_tokens": 47}
    assert AIUsage.objects.get().total_tokens == 47
    assert reply.meta["tools"] == [
        {
            "call_id": "call_1",
            "name": "recent_runs",
            "ok": True,
            "arguments": {"limit": 3},
            "result": end["result"],
        }
    ]


def test_run_log_reads_the_tail_of_the_followed_run(user, enqueued, job, model_server, events):
    log = "\n".join(f"line {n}" for n in range(1, 101))
    followed = f.run(job_=job, log=log)
    f.run(job_=job, log="a later run")
    session = f.job_session(user=user, job_=job, meta={"follow_run_id": followed.pk})
    model_server.script(calls_tool(call("run_log", '{"lines": 2}')), Reply(text="Line 100 is the last."))
    assert process(f.first_message(session)).state == "success"
    [end] = of_type(events, "tool.end")
    assert json.loads(end["result"]) == {
        "run_id": followed.pk, "state": "failed", "total_lines": 100, "log_tail": "line 99\nline 100"
    }  # fmt: skip


def test_text_before_the_tool_calls_is_kept_and_streamed(pending, job, model_server, events):
    f.run(job_=job)
    model_server.script(calls_tool(call("recent_runs"), text="Let me look."), Reply(text="It failed."))
    assert process(pending).state == "success"
    streamed = "".join(e["delta"] for e in of_type(events, "token"))
    assert streamed == pending.reply.content == "Let me look.\n\nIt failed."
    asked = model_server.requests[1]["messages"][-2]
    assert asked["content"] == "Let me look."


@pytest.mark.parametrize(
    "tool_call, error",
    [
        (call("delete_everything"), "There is no tool named 'delete_everything'"),
        (call("recent_runs", "{not json"), "The arguments are not valid JSON"),
        (call("recent_runs", "[1, 2]"), "The arguments must be a JSON object."),
        (call("recent_runs", '{"limit": "many"}'), "The argument limit must be of type integer."),
        (call("recent_runs", '{"project": 1}'), "Unknown arguments: project."),
        (call("recent_runs", '{"limit": 500}'), "The argument limit: 500 is greater than the maximum of 10."),
        (call("read_job", "{}"), "Missing arguments: job_id."),
    ],
)
def test_a_bad_tool_call_gives_the_model_an_error_and_the_answer_completes(
    pending, model_server, events, tool_call, error
):
    model_server.script(calls_tool(tool_call), Reply(text="Sorry, I could not look."))
    assert process(pending).state == "success"
    start, end = of_type(events, "tool.start", "tool.end")
    assert start["name"] == tool_call["name"]
    assert end["ok"] is False and end["error"].startswith(error) and "result" not in end
    answered = model_server.requests[1]["messages"][-1]
    assert answered["role"] == "tool" and answered["content"] == end["error"]
    assert pending.reply.content == "Sorry, I could not look."


def test_a_tool_that_raises_gives_a_generic_error_without_its_internals(
    pending, model_server, events, monkeypatch
):
    def explode(context, arguments):
        raise RuntimeError("password=hunter2")

    broken = Tool("broken", "Always fails.", {"type": "object", "properties": {}}, explode)
    monkeypatch.setattr(JobCodeMode, "tools", lambda self, *, session, message: [broken])
    model_server.script(calls_tool(call("broken")), Reply(text="The tool is broken."))
    assert process(pending).state == "success"
    [end] = of_type(events, "tool.end")
    assert (end["ok"], end["error"]) == (False, FAILED_TEXT)
    assert "hunter2" not in json.dumps(model_server.requests[1])


def test_a_long_result_is_truncated_in_the_event(pending, model_server, events, monkeypatch):
    big = Tool("big", "Much text.", {"type": "object"}, lambda context, arguments: "x" * 50_000)
    monkeypatch.setattr(JobCodeMode, "tools", lambda self, *, session, message: [big])
    model_server.script(calls_tool(call("big")), Reply(text="Long."))
    assert process(pending).state == "success"
    [end] = of_type(events, "tool.end")
    assert end["ok"] is True and len(end["result"]) <= 1_000 and end["result"].endswith("…")
    assert len(model_server.requests[1]["messages"][-1]["content"]) <= 20_000


def test_tool_rounds_are_capped(pending, job, model_server, events, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_TOOL_ROUNDS": 2}
    f.run(job_=job)
    model_server.default = calls_tool(call("recent_runs"), text="Checking.")
    assert process(pending).state == "success"
    assert model_server.calls == 3
    assert len(of_type(events, "tool.start")) == len(of_type(events, "tool.end")) == 2
    assert [r.get("tool_choice") for r in model_server.requests] == [None, None, "none"]
    assert pending.reply.content == "Checking.\n\nChecking.\n\nChecking."


def test_several_calls_in_one_round_each_get_their_result(pending, job, model_server, events):
    run = f.run(job_=job, log="boom")
    model_server.script(
        calls_tool(call("recent_runs", call_id="a"), call("run_log", json.dumps({"run_id": run.pk}), "b")),
        Reply(text="Done."),
    )
    assert process(pending).state == "success"
    assert [(e["type"], e["call_id"]) for e in of_type(events, "tool.start", "tool.end")] == [
        ("tool.start", "a"), ("tool.end", "a"), ("tool.start", "b"), ("tool.end", "b")
    ]  # fmt: skip
    results = model_server.requests[1]["messages"][-2:]
    assert [m["tool_call_id"] for m in results] == ["a", "b"]
    assert json.loads(results[1]["content"])["log_tail"] == "boom"


def test_a_tool_cannot_read_another_jobs_runs(pending, job, user, model_server, events):
    f.run(job_=job, log="own log")
    other_job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    other_run = f.run(job_=other_job, log="SECRET of another job")
    model_server.script(
        calls_tool(
            call("run_log", json.dumps({"run_id": other_run.pk}), "a"), call("recent_runs", call_id="b")
        ),
        Reply(text="I can only see this job."),
    )
    assert process(pending).state == "success"
    log_end, runs_end = of_type(events, "tool.end")
    assert (log_end["ok"], log_end["error"]) == (False, f"This job has no run {other_run.pk}.")
    assert other_run.pk not in [r["id"] for r in json.loads(runs_end["result"])["results"]]
    assert "SECRET" not in json.dumps(model_server.requests)


def test_the_job_tools_read_only_the_sessions_own_job(user, enqueued, job):
    other_run = f.run(job_=f.job(), log="other")
    own = f.run(job_=job, log="mine")
    session = f.job_session(user=user, job_=job)
    context = ToolContext(session=session, message=f.first_message(session))
    assert [r["id"] for r in recent_runs.function(context, {})["results"]] == [own.pk]
    with pytest.raises(ToolError):
        run_log.function(context, {"run_id": other_run.pk})
    assert run_log.function(context, {})["log_tail"] == "mine"
    assert run_log.function(context, {"run_id": own.pk, "lines": 10_000})["run_id"] == own.pk


def test_tools_can_be_switched_off(pending, model_server, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "TOOLS_ENABLED": False}
    assert process(pending).state == "success"
    assert "tools" not in model_server.requests[0]


def test_check_arguments():
    tool = Tool(
        "t",
        "",
        {"type": "object", "properties": {"n": {"type": "integer"}, "kind": {"enum": ["a", "b"]}},
         "required": ["n"]},
        lambda context, arguments: None,
    )  # fmt: skip
    assert check_arguments(tool, '{"n": 1, "kind": "a", "extra": true}') == {
        "n": 1,
        "kind": "a",
        "extra": True,
    }
    for raw in ("{}", '{"n": true}', '{"n": 1.5}', '{"n": 1, "kind": "c"}'):
        with pytest.raises(ToolError):
            check_arguments(tool, raw)


# --- Modes with tools --------------------------------------------------------------


def echo(context, arguments):
    return {"question": context.message.content, "word": arguments["word"]}


class ToolMode(ModeBehaviour):
    id = "tool_test"
    name = "Tool test"

    def tools(self, *, session, message):
        schema = {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}
        return [Tool("echo", "Echo a word.", schema, echo)]


class OldStyleMode(ModeBehaviour):
    """A mode written before tools: its query takes no ``on_tool``."""

    id = "old_style_test"

    def tools(self, *, session, message):
        return ToolMode().tools(session=session, message=message)

    def query(self, *, session, message, on_delta=None, should_stop=None):
        return super().query(session=session, message=message, on_delta=on_delta, should_stop=should_stop)


@pytest.fixture
def registered():
    site.register(ToolMode)
    site.register(OldStyleMode)
    yield
    site.unregister(ToolMode.id)
    site.unregister(OldStyleMode.id)


def test_the_default_query_offers_a_modes_tools(user, enqueued, registered, model_server, events):
    session = services.session_create(mode="tool_test", user=user, content="Say it")
    model_server.script(calls_tool(call("echo", '{"word": "hi"}')), Reply(text="hi"))
    assert process(f.first_message(session)).state == "success"
    [end] = of_type(events, "tool.end")
    assert json.loads(end["result"]) == {"question": "Say it", "word": "hi"}
    assert model_server.requests[0]["tools"][0]["function"]["name"] == "echo"


def test_a_mode_whose_query_takes_no_on_tool_still_runs_tools_without_events(
    user, enqueued, registered, model_server, events
):
    session = services.session_create(mode="old_style_test", user=user, content="Say it")
    model_server.script(calls_tool(call("echo", '{"word": "hi"}')), Reply(text="hi"))
    assert process(f.first_message(session)).state == "success"
    assert of_type(events, "tool.start", "tool.end") == []
    assert model_server.requests[1]["messages"][-1]["role"] == "tool"


def test_which_queries_take_on_tool():
    class Flexible(ModeBehaviour):
        def query(self, **kwargs):
            return super().query(**kwargs)

    assert processing._query_takes_on_tool(JobCodeMode)
    assert processing._query_takes_on_tool(ModeBehaviour)
    assert processing._query_takes_on_tool(Flexible)
    assert not processing._query_takes_on_tool(ReleaseNotesMode)
    assert not processing._query_takes_on_tool(OldStyleMode)


def test_a_saved_replys_tool_calls_reach_the_owner_only_over_the_api(alice, bob, client_of, enqueued):
    project = f.project(members=[alice])
    f.member(project, bob, ProjectMembership.Role.VIEWER)
    session = f.job_session(user=alice, job_=f.job(workflow_=f.workflow(project_=project)))
    services.session_set_public(session=session, is_public=True)
    saved = [{"call_id": "c1", "name": "run_log", "ok": True, "arguments": {"run_id": 7},
              "result": '{"log_tail": "secret line"}'}]  # fmt: skip
    services.message_save(
        session=session, role="assistant", content="It failed.", message_meta={"tools": saved}
    )
    url = f"/api/sessions/{session.pk}/"
    [mine] = [m for m in client_of(alice).get(url).json()["messages"] if m["role"] == "assistant"]
    assert mine["meta"]["tools"] == saved
    [theirs] = [m for m in client_of(bob).get(url).json()["messages"] if m["role"] == "assistant"]
    assert "secret line" not in json.dumps(theirs) and "run_id" not in json.dumps(theirs)
    assert theirs["meta"]["tools"] == [{"call_id": "c1", "name": "run_log", "ok": True, "redacted": True}]
