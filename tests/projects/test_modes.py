import pytest
from rest_framework.exceptions import ValidationError

from assistant import services
from assistant.models import ChatMessage
from modes.base import DEFAULT_PLACEHOLDER, ModeBehaviour
from modes.registry import site
from projects import sessions, workflow_yaml
from projects.models import Job, Workflow
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db

VALID = """\
name: Patient sync
jobs:
  fetch:
    name: Fetch patients
    adaptor: "@openfn/language-http@latest"
    body: get('/patients');
  load:
    name: Load patients
    adaptor: "@openfn/language-dhis2@latest"
triggers:
  daily:
    type: cron
    cron_expression: "0 6 * * *"
edges:
  - source_trigger: daily
    target_job: fetch
  - source_job: fetch
    target_job: load
    condition: on_job_success
"""


class Plain(ModeBehaviour):
    id = "plain"


def test_the_defaults():
    mode = Plain()
    meta = mode.metadata()
    assert meta["id"] == "plain" and meta["placeholder"] == DEFAULT_PLACEHOLDER
    assert {"name", "description", "icon", "category", "features"} <= set(meta)
    assert mode.input_placeholder() == DEFAULT_PLACEHOLDER
    assert mode.supports_template_generation() is False
    assert mode.enable_attachment_options() is False
    assert mode.validate_form({"anything": 1}) == {}
    assert mode.query_options(None) == {}
    with pytest.raises(ValidationError):
        mode.query_options({"logs": True})


def test_default_chat_title(user):
    session = f.job_session(user=user, content="Explain fn")
    assert Plain().chat_title(session) == "Explain fn"
    session.title = ""
    assert Plain().chat_title(session) == "Untitled Chat"


def test_default_input_disabled_reasons(user, settings, enqueued):
    session = f.job_session(user=user)
    assert "finish its reply" in Plain().chat_input_disabled({"session": session, "user": user})
    ChatMessage.objects.filter(session=session).update(status="success")
    assert Plain().chat_input_disabled({"session": session, "user": user}) is None
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 1}
    services.usage_record(user=user, usage={"total_tokens": 5})
    assert Plain().chat_input_disabled({"user": user}) == "AI usage limit reached. Please try again later."
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = "http://127.0.0.1:9/v1", None
    assert "not configured" in Plain().chat_input_disabled({"user": user})


def test_job_mode(user, enqueued):
    mode = site.get("job_code")
    assert mode.input_placeholder() == "Ask about your job code, debugging, or adaptors..."
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])), name="Fetch")
    session = mode.create_session(user=user, content="Why?", params={"job": str(job.pk)})
    assert (session.mode, session.subject) == ("job_code", job)
    session.title = ""
    assert mode.chat_title(session) == "Help with Fetch"
    for bad in ({}, {"job": "abc"}, {"job": 10**9}, {"job": True}):
        with pytest.raises(ValidationError):
            mode.validate_form(bad)
    assert mode.query_options({"logs": True}) == {"logs": True}
    assert mode.query_options({"logs": True, "run": 7}) == {"logs": True, "run": 7}
    for bad in ({"nope": True}, {"logs": "yes"}, ["logs"], {"run": "7"}, {"run": True}, {"run": 0}):
        with pytest.raises(ValidationError):
            mode.query_options(bad)
    assert mode.chat_input_disabled({"user": user}) == "Select a job to ask about it."
    stranger_job = f.job()
    assert "can't edit" in mode.chat_input_disabled({"user": user, "job": stranger_job})


def test_workflow_mode(user, enqueued):
    mode = site.get("workflow_template")
    assert mode.supports_template_generation() is True
    assert mode.input_placeholder() == "Describe the workflow you want to create..."
    project = f.project(members=[user], name="Clinic")
    session = mode.create_session(user=user, content="Sync", params={"project": project.pk})
    session.title = ""
    assert mode.chat_title(session) == "Clinic Workflow"
    with pytest.raises(ValidationError):
        mode.validate_form({"project": project.pk, "workflow": f.workflow().pk})


def test_yaml_is_found_validated_and_explained():
    assert workflow_yaml.extract_yaml(f"Here:\n```yaml\n{VALID}```\nDone") == VALID
    assert workflow_yaml.extract_yaml("no code here") is None
    assert workflow_yaml.validate(VALID) == []
    broken = VALID.replace("target_job: load", "target_job: nowhere").replace("type: cron", "type: email")
    errors = workflow_yaml.validate(broken)
    assert any("nowhere" in e for e in errors) and any("webhook or cron" in e for e in errors)
    assert workflow_yaml.validate("a: [") != []
    assert workflow_yaml.validate("- just\n- a list\n") != []


def test_applying_creates_then_updates_the_workflow_and_jobs():
    project = f.project()
    changes = workflow_yaml.apply(project=project, source=VALID)
    workflow = changes.workflow
    assert changes.created and changes.added == ["Fetch patients", "Load patients"]
    assert workflow.name == "Patient sync" and workflow_yaml.validate(workflow.spec) == []
    assert set(workflow.jobs.values_list("name", flat=True)) == {"Fetch patients", "Load patients"}
    with pytest.raises(workflow_yaml.ApplyConflict):  # a new workflow never takes over an old one
        workflow_yaml.apply(project=project, source=VALID)
    again = workflow_yaml.apply(
        project=project, source=VALID.replace("/patients", "/people"), workflow=workflow
    )
    assert again.workflow.pk == workflow.pk and not again.created
    assert (again.updated, again.unchanged) == (["Fetch patients"], ["Load patients"])
    assert Job.objects.get(workflow=workflow, name="Fetch patients").code == "get('/people');"
    with pytest.raises(ValueError):
        workflow_yaml.apply(project=project, source="name: x\n")
    assert Workflow.objects.count() == 1


def test_the_template_loop_corrects_itself_and_applies(user, enqueued, model_server):
    """First answer invalid, its errors sent back with the next turn, a corrected answer."""
    from assistant.processing import message_process

    invalid = VALID.replace("target_job: load", "target_job: missing")
    model_server.script(
        Reply(text=f"Here it is:\n```yaml\n{invalid}```"), Reply(text=f"Fixed:\n```yaml\n{VALID}```")
    )
    project = f.project(members=[user])
    mode = site.get("workflow_template")
    session = mode.create_session(user=user, content="Sync patients daily", params={"project": project.pk})
    first = f.first_message(session)
    assert message_process(message_id=first.pk).state == "success"
    reply = first.reply
    assert reply.code == invalid and reply.meta["validation_errors"]

    second = mode.save_message(session=session, user=user, content="Please fix it")
    assert message_process(message_id=second.pk).state == "success"
    question = model_server.requests[1]["messages"][-1]["content"]
    assert "missing" in question and "Fix these errors" in question and invalid.strip() in question
    fixed = second.reply
    assert fixed.code == VALID and fixed.meta["validation_errors"] == []

    workflow = workflow_yaml.apply(project=project, source=fixed.code).workflow
    sessions.session_associate_workflow(session=session, workflow=workflow)
    session.refresh_from_db()
    assert session.subject == workflow and workflow.jobs.count() == 2


def test_an_unknown_mode_fails_the_message_readably(user, enqueued, model_server):
    from assistant.models import ChatSession
    from assistant.processing import MODE_UNAVAILABLE_TEXT, message_process

    session = f.job_session(user=user)
    ChatSession.objects.filter(pk=session.pk).update(mode="retired_mode")
    message = f.first_message(session)
    assert message_process(message_id=message.pk).state == "error"
    message.refresh_from_db()
    assert message.error == MODE_UNAVAILABLE_TEXT and model_server.calls == 0


def test_the_question_chooses_the_run_whose_log_goes_with_it(user, enqueued, model_server):
    """``options.run`` names one of the job's runs; another job's run sends no log."""
    from assistant import processing

    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    mine = f.run(job_=job, log="[JOB] mine: TypeError")
    theirs = f.run(job_=f.job(), log="[JOB] someone else's secret")
    session = f.job_session(user=user, job_=job)
    ChatMessage.objects.filter(session=session).update(status="success")
    for run, expected in ((mine, "mine: TypeError"), (theirs, None)):
        question = services.message_send(
            session=session, user=user, content="Why?", options={"logs": True, "run": run.pk}
        )
        model_server.script(Reply(text="Because."))
        assert processing.message_process(message_id=question.pk).state == "success"
        system = model_server.requests[-1]["messages"][0]["content"]
        if expected:
            assert expected in system
        else:
            assert "secret" not in system and "The log of run" not in system
