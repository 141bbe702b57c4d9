"""Tools declared over a model or a function: the schema the model sees, the user's
scope on every call, bad arguments, limits, and the registry."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from assistant import tools
from assistant.tools import ToolContext, ToolError, check_arguments
from assistant.tools.registry import AlreadyRegistered, NotRegistered, ToolRegistry
from projects import ai_tools
from projects.models import Job, ProjectMembership, Run
from tests import factories as f
from tests.plugin_app.ai_tools import find_notes
from tests.plugin_app.models import Note

pytestmark = pytest.mark.django_db


def call(tool, user, arguments=None, **context):
    """A call as the model makes it: checked against the schema, then run as ``user``."""
    checked = check_arguments(tool, json.dumps(arguments or {}))
    return tool.function(ToolContext(user=user, **context), checked)


def test_the_schema_is_generated_from_the_declaration():
    schema = find_notes.parameters
    assert schema["additionalProperties"] is False
    properties = schema["properties"]
    assert set(properties) == {"id", "id__in", "title__icontains", "archived", "order_by", "limit"}
    assert properties["id"]["type"] == "integer"
    assert properties["id__in"] == {**properties["id__in"], "type": "array", "items": {"type": "integer"}}
    assert properties["title__icontains"]["type"] == "string"
    assert properties["archived"]["type"] == "boolean"
    assert properties["order_by"]["enum"] == ["title", "-title"]
    assert (properties["limit"]["minimum"], properties["limit"]["maximum"]) == (1, 3)
    assert find_notes.schema()["function"]["name"] == "find_notes"
    assert not find_notes.writes and not find_notes.needs_session


def test_field_types_become_json_types():
    props = ai_tools.find_jobs.parameters["properties"]
    assert props["workflow"]["type"] == "integer"  # a foreign key: its target's id
    assert props["workflow__project"]["type"] == "integer"
    runs = ai_tools.recent_runs.parameters["properties"]
    assert runs["state"]["enum"] == [value for value, _ in Run.State.choices]


def test_a_call_sees_only_the_users_rows_whatever_the_filter(user, make_user):
    other = make_user("mallory")
    mine = Note.objects.create(owner=user, title="Mine")
    theirs = Note.objects.create(owner=other, title="Theirs")
    assert [r["id"] for r in call(find_notes, user)["results"]] == [mine.pk]
    assert call(find_notes, user, {"id": theirs.pk})["results"] == []
    assert call(find_notes, user, {"id__in": [mine.pk, theirs.pk]})["results"] == [
        {"id": mine.pk, "title": "Mine", "archived": False}
    ]
    assert call(find_notes, user, {"title__icontains": "theirs"})["count"] == 0
    assert call(find_notes, None)["results"] == []  # no user, no rows


def test_filters_ordering_and_the_capped_limit(user):
    for title in ("b", "a", "d", "c"):
        Note.objects.create(owner=user, title=title, archived=title == "c")
    page = call(find_notes, user)
    assert ([r["title"] for r in page["results"]], page["more"]) == (["a", "b", "c"], True)
    page = call(find_notes, user, {"order_by": "-title", "limit": 2})
    assert ([r["title"] for r in page["results"]], page["count"], page["more"]) == (["d", "c"], 2, True)
    assert [r["title"] for r in call(find_notes, user, {"archived": True})["results"]] == ["c"]


@pytest.mark.parametrize(
    "arguments, error",
    [
        ({"limit": 4}, "The argument limit: 4 is greater than the maximum of 3."),
        ({"limit": 0}, "The argument limit: 0 is less than the minimum of 1."),
        ({"id": "one"}, "The argument id must be of type integer."),
        ({"id__in": [1, "x"]}, "The argument id__in.1 must be of type integer."),
        ({"id__in": list(range(101))}, "The argument id__in: "),
        ({"owner": 1}, "Unknown arguments: owner."),
        ({"order_by": "body"}, "The argument order_by must be one of ['title', '-title']."),
    ],
)
def test_bad_arguments_are_refused_with_what_is_wrong(user, arguments, error):
    with pytest.raises(ToolError) as refused:
        call(find_notes, user, arguments)
    assert str(refused.value).startswith(error)


def test_a_narrowed_tool_keeps_to_the_conversation(user, make_user, enqueued):
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    other_job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    own, elsewhere = f.run(job_=job), f.run(job_=other_job)
    session = f.job_session(user=user, job_=job)
    in_chat = call(ai_tools.recent_runs, user, session=session, message=f.first_message(session))
    assert [r["id"] for r in in_chat["results"]] == [own.pk]
    anywhere = call(ai_tools.recent_runs, user)  # over MCP: every run the user may see
    assert {r["id"] for r in anywhere["results"]} == {own.pk, elsewhere.pk}
    assert call(ai_tools.recent_runs, make_user("stranger"))["results"] == []


def test_read_job_reads_only_the_users_jobs(user, make_user):
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])), code="fn(state => state);")
    assert call(ai_tools.read_job, user, {"job_id": job.pk})["code"] == "fn(state => state);"
    with pytest.raises(ToolError, match=f"You have no job {job.pk}."):
        call(ai_tools.read_job, make_user("mallory"), {"job_id": job.pk})


def test_update_job_code_needs_a_writing_role(user, make_user):
    project = f.project(members=[user])
    job = f.job(workflow_=f.workflow(project_=project), code="old")
    viewer = make_user("viewer")
    f.member(project, viewer, role=ProjectMembership.Role.VIEWER)
    with pytest.raises(ToolError, match="can't change its jobs"):
        call(ai_tools.update_job_code, viewer, {"job_id": job.pk, "code": "new"})
    with pytest.raises(ToolError, match=f"You have no job {job.pk}."):
        call(ai_tools.update_job_code, make_user("mallory"), {"job_id": job.pk, "code": "new"})
    assert Job.objects.get(pk=job.pk).code == "old"
    assert call(ai_tools.update_job_code, user, {"job_id": job.pk, "code": "new"}) == {
        "job_id": job.pk, "updated": True
    }  # fmt: skip
    assert Job.objects.get(pk=job.pk).code == "new"
    assert ai_tools.update_job_code.writes


def test_declarations_are_checked():
    with pytest.raises(ImproperlyConfigured, match="has no field 'colour'"):
        tools.model_tool(Note, name="x", description="", queryset=Note.objects.all, fields=["colour"])
    with pytest.raises(ImproperlyConfigured, match="'regex' is not one of"):
        tools.model_tool(
            Note,
            name="x",
            description="",
            queryset=Note.objects.all,
            fields=["id"],
            filters={"title": ["regex"]},
        )


def test_tools_are_discovered_from_every_app_and_offered_by_name():
    assert {"find_notes", "find_jobs", "recent_runs", "update_job_code"} <= {t.name for t in tools.site.all()}
    assert tools.site.named(["find_notes", "read_job"]) == [find_notes, ai_tools.read_job]
    with pytest.raises(NotRegistered):
        tools.site.get("nothing")
    registry = ToolRegistry()
    registry.register(find_notes)
    with pytest.raises(AlreadyRegistered):
        registry.register(find_notes)
    with pytest.raises(ImproperlyConfigured):
        registry.register(object())
