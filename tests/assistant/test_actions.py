"""Prompt-backed actions: a model call with a typed result, accepted when it matches the
output schema, repaired once, refused when it still does not; from code, the API, as a
tool and on the demo model."""

import json

import pytest

from assistant import actions, mcp_server
from assistant.exceptions import InvalidInput, InvalidModelOutput, NotFound
from assistant.tools import site as tools
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db
GOOD = {"summary": "The request failed.", "cause": "state.data is undefined", "suggested_fix": "Check it."}


@pytest.fixture
def failed_run(user):
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])), code="fn(s => s.data.x);")
    return f.run(job_=job, log="[JOB] ✘ TypeError: Cannot read properties of undefined (reading 'x')")


def explain(user, run):
    return actions.run("explain_failed_run", user=user, arguments={"run_id": run.pk})


def test_structured_output_is_asked_for_and_checked(user, failed_run, model_server):
    model_server.script(Reply(text=json.dumps(GOOD)))
    assert explain(user, failed_run) == GOOD
    [request] = model_server.requests
    response_format = request["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["required"] == ["summary", "cause", "suggested_fix"]
    assert (
        "reading 'x'" in request["messages"][-1]["content"]
        and "s.data.x" in request["messages"][-1]["content"]
    )


def test_a_wrong_answer_is_repaired_once(user, failed_run, model_server):
    model_server.script(Reply(text='{"summary": "Half an answer"}'), Reply(text=json.dumps(GOOD)))
    assert explain(user, failed_run) == GOOD
    first, second = model_server.requests
    *_, wrong, repair = second["messages"]
    assert wrong == {"role": "assistant", "content": '{"summary": "Half an answer"}'}
    assert repair["role"] == "user" and "'cause' is a required property" in repair["content"]


@pytest.mark.parametrize(
    "second", ["still not json", json.dumps({**GOOD, "summary": 42}), json.dumps({**GOOD, "extra": "x"})]
)
def test_an_answer_still_wrong_after_the_repair_is_an_error(user, failed_run, model_server, second):
    model_server.script(Reply(text="Sure! Here is the JSON."), Reply(text=second))
    with pytest.raises(InvalidModelOutput):
        explain(user, failed_run)
    assert model_server.calls == 2


def test_a_server_without_structured_output_is_asked_with_the_schema_in_the_prompt(
    user, failed_run, model_server
):
    model_server.script(
        Reply(status=400, error="response_format is not supported"),
        Reply(text=f"```json\n{json.dumps(GOOD)}\n```"),
    )
    assert explain(user, failed_run) == GOOD
    refused, asked = model_server.requests
    assert "response_format" in refused and "response_format" not in asked
    assert asked["messages"][0]["role"] == "system" and '"suggested_fix"' in asked["messages"][0]["content"]


def test_input_is_checked_and_scoped(user, make_user, failed_run, model_server):
    with pytest.raises(InvalidInput):
        actions.run("explain_failed_run", user=user, arguments={"run_id": "seven"})
    with pytest.raises(NotFound):
        explain(make_user("mallory"), failed_run)
    assert model_server.calls == 0


def test_the_demo_model_answers_with_a_result_that_fits(user, failed_run, settings):
    settings.OPENAI_BASE_URL = "demo"
    result = explain(user, failed_run)
    assert set(result) == {"summary", "cause", "suggested_fix"} and all(
        isinstance(v, str) for v in result.values()
    )


def test_over_the_api(client_of, user, make_user, failed_run, model_server):
    api = client_of(user)
    listed = {a["name"]: a for a in api.get("/api/actions/").json()}
    assert listed["explain_failed_run"]["output_schema"]["required"] == ["summary", "cause", "suggested_fix"]
    model_server.script(Reply(text=json.dumps(GOOD)))
    response = api.post("/api/actions/explain_failed_run/", {"run_id": failed_run.pk}, format="json")
    assert (response.status_code, response.json()) == (200, {"result": GOOD})

    model_server.script(Reply(text="no"), Reply(text="still no"))
    response = api.post("/api/actions/explain_failed_run/", {"run_id": failed_run.pk}, format="json")
    assert (response.status_code, response.json()["error"]) == (502, "invalid_model_output")

    model_server.script(Reply(status=500), Reply(status=500))
    response = api.post("/api/actions/explain_failed_run/", {"run_id": failed_run.pk}, format="json")
    assert response.status_code == 503
    assert api.post("/api/actions/nothing/", {}, format="json").status_code == 404
    assert api.post("/api/actions/explain_failed_run/", {"run": 1}, format="json").status_code == 400
    assert api.post("/api/actions/explain_failed_run/", [1], format="json").status_code == 400
    other = client_of(make_user("mallory")).post(
        "/api/actions/explain_failed_run/", {"run_id": failed_run.pk}, format="json"
    )
    assert other.status_code == 404


def test_an_action_is_also_a_tool_for_modes_and_mcp(user, failed_run, model_server):
    tool = tools.get("explain_failed_run")
    assert tool in mcp_server.offered_tools()
    model_server.script(Reply(text=json.dumps(GOOD)))
    ok, text = mcp_server.run_tool(
        mcp_server.Caller(user.pk), "explain_failed_run", {"run_id": failed_run.pk}
    )
    assert (ok, json.loads(text)) == (True, GOOD)
    ok, text = mcp_server.run_tool(mcp_server.Caller(user.pk), "explain_failed_run", {"run_id": 10**9})
    assert (ok, text) == (False, "You have no run 1000000000.")
