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
        assert NewSession.objects.get(pk=on_job.pk).job.code == "get()"
        assert NewSession.objects.get(pk=on_job.pk).job.workflow.project.name == "Carried"
        kept = NewSession.objects.get(pk=on_workflow.pk)
        assert (kept.project.name, kept.workflow.name) == ("Carried", "Intake")
        assert new.get_model("projects", "Run").objects.get(pk=run.pk).job_id == job.pk
        member = new.get_model("projects", "ProjectMembership").objects.get(project_id=project.pk)
        assert (member.user.username, member.role) == ("alice-before-projects", "viewer")
        assert (
            new.get_model("assistant", "AIUsage").objects.get(session_id=on_job.pk).project_id == project.pk
        )
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
