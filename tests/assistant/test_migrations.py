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
