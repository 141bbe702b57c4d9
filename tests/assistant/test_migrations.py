"""Databases made by earlier migrations upgrade with nothing lost."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(*targets):
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))
    executor.loader.build_graph()
    return executor.loader.project_state(list(targets)).apps


def test_project_members_from_before_roles_become_owners():
    old = migrate(("assistant", "0004_message_partial"))
    User = old.get_model("accounts", "User")
    Project = old.get_model("assistant", "Project")
    alice = User.objects.create(username="alice-before-roles")
    bob = User.objects.create(username="bob-before-roles")
    project = Project.objects.create(name="Kept")
    project.members.add(alice, bob)
    try:
        new = migrate(("assistant", "0005_project_roles_and_idempotency"))
        Membership = new.get_model("assistant", "ProjectMembership")
        rows = Membership.objects.filter(project_id=project.pk).order_by("user__username")
        assert [(m.user.username, m.role) for m in rows] == [
            ("alice-before-roles", "owner"),
            ("bob-before-roles", "owner"),
        ]
    finally:
        migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_a_database_from_before_the_projects_app_upgrades_with_every_session_on_its_object():
    """Sessions on jobs, workflows and projects, made by the schema before the projects
    app, are about the same objects after every migration, filed under their project."""
    old = migrate(("assistant", "0006_message_due_at"))
    User = old.get_model("accounts", "User")
    Project = old.get_model("assistant", "Project")
    Workflow = old.get_model("assistant", "Workflow")
    Job = old.get_model("assistant", "Job")
    Run = old.get_model("assistant", "Run")
    Session = old.get_model("assistant", "ChatSession")
    Usage = old.get_model("assistant", "AIUsage")
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    alice = User.objects.create(username="alice-before-projects")
    project = Project.objects.create(name="Carried")
    Membership = old.get_model("assistant", "ProjectMembership")
    Membership.objects.create(project=project, user=alice, role="viewer")
    workflow = Workflow.objects.create(project=project, name="Intake", spec="name: Intake")
    job = Job.objects.create(
        workflow=workflow, name="Fetch", adaptor="@openfn/language-http@latest", code="get()"
    )
    run = Run.objects.create(job=job, state="failed", log="boom")
    on_job = Session.objects.create(mode="job_code", user=alice, job=job, project=project)
    on_workflow = Session.objects.create(
        mode="workflow_template", user=alice, project=project, workflow=workflow
    )
    about_project = Session.objects.create(mode="workflow_template", user=alice, project=project)
    job_only = Session.objects.create(mode="job_code", user=alice, job=job)
    Usage.objects.create(user=alice, project=project, session=on_job, total_tokens=7)
    # A permission granted on the old content type is kept by the move.
    job_type, _ = ContentType.objects.get_or_create(app_label="assistant", model="job")
    permission, _ = Permission.objects.get_or_create(
        content_type=job_type, codename="change_job", defaults={"name": "Can change job"}
    )
    alice.user_permissions.add(permission)
    try:
        new = migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())
        NewSession = new.get_model("assistant", "ChatSession")
        NewJob = new.get_model("projects", "Job")
        NewWorkflow = new.get_model("projects", "Workflow")
        NewType = new.get_model("contenttypes", "ContentType")

        def subject(session):
            kind = NewType.objects.get(pk=session.subject_type_id)
            model = new.get_model(kind.app_label, kind.model)
            return model.objects.get(pk=int(session.subject_id))

        kept_job = NewSession.objects.get(pk=on_job.pk)
        assert subject(kept_job).code == "get()" and isinstance(subject(kept_job), NewJob)
        assert subject(kept_job).workflow.project.name == "Carried"
        assert kept_job.scope == f"project:{project.pk}"
        kept = NewSession.objects.get(pk=on_workflow.pk)
        assert isinstance(subject(kept), NewWorkflow) and subject(kept).name == "Intake"
        assert kept.scope == f"project:{project.pk}"
        on_project_only = NewSession.objects.get(pk=about_project.pk)
        assert subject(on_project_only).name == "Carried" and on_project_only.scope == kept.scope
        assert NewSession.objects.get(pk=job_only.pk).scope == kept.scope
        back = migrate(("assistant", "0008_projects_app"))
        restored = back.get_model("assistant", "ChatSession").objects
        assert (restored.get(pk=on_job.pk).job_id, restored.get(pk=on_job.pk).project_id) == (
            job.pk,
            project.pk,
        )
        assert restored.get(pk=on_workflow.pk).workflow_id == workflow.pk
        assert restored.get(pk=about_project.pk).workflow_id is None
        assert (
            back.get_model("assistant", "AIUsage").objects.get(session_id=on_job.pk).project_id == project.pk
        )
        new = migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())
        NewSession = new.get_model("assistant", "ChatSession")
        assert new.get_model("projects", "Run").objects.get(pk=run.pk).job_id == job.pk
        member = new.get_model("projects", "ProjectMembership").objects.get(project_id=project.pk)
        assert (member.user.username, member.role) == ("alice-before-projects", "viewer")
        usage = new.get_model("assistant", "AIUsage").objects.get(session_id=on_job.pk)
        assert (usage.scope, usage.total_tokens) == (f"project:{project.pk}", 7)
        assert NewJob.objects.filter(workflow__project__name="Carried").count() == 1
        # New rows get new ids after the carried ones.
        assert new.get_model("projects", "Project").objects.create(name="After").pk > project.pk
        moved = new.get_model("auth", "Permission").objects.get(pk=permission.pk)
        assert (moved.content_type.app_label, moved.content_type.model) == ("projects", "job")
        assert (
            new.get_model("accounts", "User")
            .objects.get(pk=alice.pk)
            .user_permissions.filter(pk=permission.pk)
            .exists()
        )
    finally:
        migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_conversations_from_before_branches_become_one_branch_each():
    """Every question follows the one before it, the last is the session's leaf, and
    each answer is the one version of its question's: the conversation reads as it did."""
    from datetime import timedelta

    from django.utils import timezone

    old = migrate(("assistant", "0012_feedback"))
    User = old.get_model("accounts", "User")
    Session = old.get_model("assistant", "ChatSession")
    Message = old.get_model("assistant", "ChatMessage")
    alice = User.objects.create(username="alice-before-branches")
    session = Session.objects.create(mode="job_code", user=alice)
    empty = Session.objects.create(mode="job_code", user=alice)
    start = timezone.now()
    rows = {}
    for n, (name, role, status, answers) in enumerate(
        [
            ("q1", "user", "success", None),
            ("a1", "assistant", "success", "q1"),
            ("q2", "user", "error", None),
            ("q3", "user", "success", None),
            ("a3", "assistant", "success", "q3"),
        ]
    ):
        rows[name] = Message.objects.create(
            session=session,
            role=role,
            status=status,
            content=name,
            user=alice if role == "user" else None,
            reply_to=rows.get(answers),
        )
        Message.objects.filter(pk=rows[name].pk).update(created_at=start + timedelta(seconds=n))
    try:
        new = migrate(("assistant", "0013_conversation_branches"))
        NewMessage = new.get_model("assistant", "ChatMessage")
        NewSession = new.get_model("assistant", "ChatSession")

        def parent(name):
            return NewMessage.objects.get(pk=rows[name].pk).parent_id

        assert (parent("q1"), parent("q2"), parent("q3")) == (None, rows["q1"].pk, rows["q2"].pk)
        assert NewMessage.objects.get(pk=rows["a3"].pk).version_of_id == rows["q3"].pk
        assert NewMessage.objects.get(pk=rows["a1"].pk).version_of_id == rows["q1"].pk
        assert NewSession.objects.get(pk=session.pk).leaf_id == rows["q3"].pk
        assert NewSession.objects.get(pk=empty.pk).leaf_id is None
    finally:
        migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())
    from assistant.selectors import session_get

    shown = [m.content for m in session_get(session_id=session.pk).conversation]
    assert shown == ["q1", "a1", "q2", "q3", "a3"]
