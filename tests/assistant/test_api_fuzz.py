"""The OpenAPI document as clients read it, and schemathesis over it.

Schemathesis makes valid requests (positive) and requests that break the document
(negative) for every operation and runs four checks on each answer: no 5xx, the body
matches the documented schema, the status is one the operation documents, and a request
that breaks the document is refused (4xx). Bounded: a few examples per operation and
mode, so it runs in every CI run."""

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.drainage import GENERATOR_STATS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests import factories as f

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, negative_data_rejection]
#: Examples per operation: enough to find crashes and lenient parsing, few enough for
#: every CI run.
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 8}


@pytest.fixture
def api_schema(db):
    # Requests run inside the test's transaction: keep Django from closing the
    # connection at their end, as its own test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzzer(db, make_user, enqueued):
    """The fuzzing user's headers, and ids of objects of theirs for the paths."""
    from accounts.api_keys import api_key_create
    from accounts.services import tokens_for_user

    user = make_user("fuzzer")
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    session = f.job_session(user=user, job_=job)
    key, _ = api_key_create(user=user, name="fuzz")
    ids = {
        "session_id": str(session.pk),
        "message_id": str(f.first_message(session).pk),
        "event_id": str(f.event(user=user).pk),
        "key_id": str(key.pk),
    }
    return {"Authorization": f"Bearer {tokens_for_user(user)['access']}"}, ids


def _strategy(operation, mode: GenerationMode, ids: dict[str, str]):
    """Cases with random path ids (mostly 404s) and, but for a DELETE, with the ids of
    the fuzzer's own objects, so that real answers are checked too."""
    strategy = operation.as_strategy(generation_mode=mode)
    names = {parameter.name for parameter in operation.path_parameters}
    known = {name: ids[name] for name in names if name in ids}
    if known and operation.method.upper() != "DELETE":
        return st.one_of(strategy, operation.as_strategy(generation_mode=mode, path_parameters=known))
    return strategy


def _negatable(operation) -> bool:
    """Whether a request to the operation can break the document: it takes a body, query
    or header parameters, or a path parameter that is more than any string."""
    raw = operation.definition.raw
    return "requestBody" in raw or any(
        parameter["in"] != "path" or parameter["schema"] != {"type": "string"}
        for parameter in raw.get("parameters", [])
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_input_breaks_the_api(api_schema, fuzzer, mode):
    headers, ids = fuzzer
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40
    if mode is GenerationMode.NEGATIVE:
        operations = [operation for operation in operations if _negatable(operation)]
        assert len(operations) > 30
    for operation in operations:

        @given(case=_strategy(operation, mode, ids))
        @settings(
            max_examples=EXAMPLES[mode], deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()


# --- The document's facts -----------------------------------------------------------------


@pytest.fixture
def document(db, client):
    return client.get("/api/schema/?format=json").json()


def _operations(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_the_document_is_valid_without_warnings(tmp_path):
    GENERATOR_STATS.reset()  # what an earlier generation in this process warned about
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")


def test_json_objects_are_typed_as_objects(document):
    schemas = document["components"]["schemas"]
    open_object = {"type": "object", "additionalProperties": True}
    for component, field in [
        ("ChatSession", "meta"), ("ChatSessionDetail", "meta"), ("ChatMessage", "meta"),
        ("ChatMessage", "usage"), ("ToolCall", "arguments"), ("ToolCall", "outcome"),
        ("Event", "metadata"), ("Schedule", "event"), ("WorkerTask", "input"),
        ("SessionCreateRequest", "meta"),
    ]:  # fmt: skip
        schema = schemas[component]["properties"][field]
        assert open_object.items() <= schema.items(), (component, field, schema)
    assert schemas["ToolCall"]["properties"]["outcome"]["nullable"] is True


def test_the_mode_is_an_enum_of_the_registered_modes(document):
    from modes.registry import site

    schemas = document["components"]["schemas"]
    assert "job_code" in schemas["ModeEnum"]["enum"]
    assert schemas["ModeEnum"]["enum"] == [mode.id for mode in site.all()]
    assert schemas["ChatSession"]["properties"]["mode"]["allOf"] == [
        {"$ref": "#/components/schemas/ModeEnum"}
    ]
    assert schemas["SessionCreateRequest"]["properties"]["mode"] == {"$ref": "#/components/schemas/ModeEnum"}
    listed = {p["name"]: p for p in document["paths"]["/api/sessions/"]["get"]["parameters"]}
    assert "job_code" in listed["mode"]["schema"]["enum"]
    statuses = {name for name in schemas if name.endswith("StatusEnum")}
    assert {
        "StatusEnum",
        "ToolCallStatusEnum",
        "EventStatusEnum",
        "ScheduleStatusEnum",
        "TaskStatusEnum",
    } <= statuses
    assert schemas["ToolCall"]["properties"]["status"]["allOf"] == [
        {"$ref": "#/components/schemas/ToolCallStatusEnum"}
    ]


def test_every_operation_carries_its_area_tag(document):
    declared = [tag["name"] for tag in document["tags"]]
    assert {"sessions", "messages", "tools", "sharing", "auth", "events", "schedules", "agents"} <= set(
        declared
    )
    assert all(tag["description"] for tag in document["tags"])
    for path, method, operation in _operations(document):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, (method, path)
    tag = {path: operation["tags"][0] for path, _, operation in _operations(document)}
    assert tag["/api/sessions/"] == tag["/api/sessions/{session_id}/"] == "sessions"
    assert (
        tag["/api/sessions/{session_id}/messages/"] == tag["/api/messages/{message_id}/retry/"] == "messages"
    )
    assert tag["/api/sessions/{session_id}/share/"] == tag["/api/shared/{token}/"] == "sharing"
    assert tag["/api/messages/{message_id}/tools/{call_id}/approve/"] == tag["/api/tool-calls/"] == "tools"
    assert tag["/api/token"] == tag["/api/token/refresh/"] == "auth"
    assert (tag["/api/events"], tag["/api/schedule"], tag["/api/tasks"]) == ("events", "schedules", "agents")
    assert tag["/api/workflows/"] == "projects" and tag["/api/health/"] == "health"


def test_every_operation_documents_the_statuses_it_may_answer(document):
    error = {"$ref": "#/components/schemas/Error"}
    assert set(document["components"]["schemas"]["Error"]["required"]) == {"error", "detail"}
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "429" in responses, (method, path)
        security = operation.get("security") or [{}]
        if {} not in security:
            assert "401" in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation or any(p["in"] != "path" for p in operation.get("parameters", [])):
            assert "400" in responses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["description"], (method, path, status)
                assert response["content"]["application/json"]["schema"] == error, (method, path, status)
    public = {"/api/health/", "/api/register", "/api/token", "/api/refresh", "/api/shared/{token}/"}
    assert {path for path, _, op in _operations(document) if "401" not in op["responses"]} <= public
    session = document["paths"]["/api/sessions/{session_id}/"]
    assert {"401", "403", "404", "429"} <= set(session["patch"]["responses"])
    created = document["paths"]["/api/sessions/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "422", "429", "503"} <= set(created)
    retry = document["paths"]["/api/messages/{message_id}/retry/"]["post"]["responses"]
    assert {"403", "404", "409", "503"} <= set(retry)
