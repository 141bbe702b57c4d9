"""Sessions about the demo site's objects: their subject, scope and DESIGN.md shape."""

import pytest
from rest_framework.exceptions import ValidationError

from assistant import services
from assistant.exceptions import UsageLimitReached
from assistant.models import ChatSession
from projects import prompts, sessions
from projects.models import Job, Workflow
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_a_job_session_and_its_first_message_are_created_together(
    user, django_capture_on_commit_callbacks, enqueued
):
    job = f.job()
    with django_capture_on_commit_callbacks(execute=True):
        session = sessions.job_session_create(job=job, user=user, content="Help", meta={"a": 1})
    session = ChatSession.objects.get(pk=session.pk)
    assert (session.mode, session.subject, session.meta) == ("job_code", job, {"a": 1})
    assert sessions.shape(session) == {"job": job.pk, "project": job.workflow.project_id, "workflow": None}
    message = f.first_message(session)
    assert (message.role, message.status, message.user) == ("user", "pending", user)
    assert enqueued == [str(message.pk)]


def test_a_workflow_session_may_have_no_workflow(user):
    project = f.project(members=[user])
    session = sessions.workflow_session_create(project=project, workflow=None, user=user, content="x")
    assert session.subject == project
    assert sessions.shape(session) == {"job": None, "project": project.pk, "workflow": None}


def test_a_workflow_of_another_project_is_refused(user):
    with pytest.raises(ValidationError):
        sessions.workflow_session_create(project=f.project(), workflow=f.workflow(), user=user, content="x")
    assert not ChatSession.objects.exists()


def test_associating_a_workflow(user):
    session = f.workflow_session(user=user)
    workflow = f.workflow(project_=session.subject)
    sessions.session_associate_workflow(session=session, workflow=workflow)
    session = ChatSession.objects.get(pk=session.pk)
    assert (session.subject, sessions.project_id(session)) == (workflow, workflow.project_id)
    with pytest.raises(ValidationError):
        sessions.session_associate_workflow(session=session, workflow=f.workflow())


def test_deleting_an_object_deletes_its_sessions(user):
    job_session = f.job_session(user=user)
    workflow = f.workflow(project_=f.project(members=[user]))
    on_workflow = f.workflow_session(user=user, project_=workflow.project, workflow_=workflow)
    on_project = f.workflow_session(user=user, project_=workflow.project)
    kept = f.job_session(user=user)
    job_session.subject.delete()
    workflow.project.delete()
    assert not ChatSession.objects.filter(pk__in=[job_session.pk, on_workflow.pk, on_project.pk]).exists()
    assert ChatSession.objects.filter(pk=kept.pk).exists()


def test_the_sessions_of_an_object_are_reachable_from_it(user):
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    mine = {f.job_session(user=user, job_=job).pk for _ in range(2)}
    f.job_session(user=user)
    assert set(job.chat_sessions.values_list("pk", flat=True)) == mine
    assert (
        set(ChatSession.objects.filter(**sessions.subject_is(Job, job.pk)).values_list("pk", flat=True))
        == mine
    )
    assert not ChatSession.objects.filter(**sessions.subject_is(Workflow, job.pk)).exists()


def test_job_context_with_the_followed_run():
    job = f.job(code="fn(s => s)", adaptor="@openfn/language-dhis2@4")
    run = f.run(job_=job, log="line 1\nTypeError")
    context = prompts.job_context(job, follow_run_id=run.pk)
    assert (context.code, context.adaptor) == ("fn(s => s)", "@openfn/language-dhis2@4")
    assert (context.run_log, context.run_id) == ("line 1\nTypeError", run.pk)
    other_run = f.run(job_=f.job())
    assert prompts.job_context(job, follow_run_id=other_run.pk).run_log is None


def test_the_project_limit_counts_every_members_usage(user, make_user, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "SCOPE_TOKEN_LIMIT": 50}
    other = make_user("bob")
    project = f.project(members=[user, other])
    job = f.job(workflow_=f.workflow(project_=project))
    theirs = f.job_session(user=other, job_=job)
    services.usage_record(user=other, usage={"total_tokens": 60}, session=theirs)
    with pytest.raises(UsageLimitReached):
        f.job_session(user=user, job_=job)
    f.job_session(user=user)  # another project is fine
