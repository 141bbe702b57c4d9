"""Project members get roles, and creating POSTs remember their answers.

The membership rows stay in the table Django made for the plain many-to-many field:
the state learns the through model over that table, then the table gains ``role``.
Members that existed before roles could do everything, so they become owners.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ROLES = [("owner", "Owner"), ("admin", "Admin"), ("editor", "Editor"), ("viewer", "Viewer")]


class Migration(migrations.Migration):
    dependencies = [
        ("assistant", "0004_message_partial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ProjectMembership",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="memberships", to="assistant.project")),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="project_memberships", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "assistant_project_members", "unique_together": {("project", "user")}},
                ),
                migrations.AlterField(
                    model_name="project",
                    name="members",
                    field=models.ManyToManyField(related_name="projects", through="assistant.ProjectMembership", to=settings.AUTH_USER_MODEL),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="projectmembership",
            name="role",
            field=models.CharField(choices=ROLES, default="owner", max_length=16),
        ),
        migrations.AlterField(
            model_name="projectmembership",
            name="role",
            field=models.CharField(choices=ROLES, default="editor", max_length=16),
        ),
        migrations.AddConstraint(
            model_name="projectmembership",
            constraint=models.CheckConstraint(condition=models.Q(("role__in", ["owner", "admin", "editor", "viewer"])), name="membership_role_valid"),
        ),
        migrations.CreateModel(
            name="IdempotencyKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=255)),
                ("fingerprint", models.CharField(max_length=64)),
                ("status_code", models.PositiveSmallIntegerField()),
                ("response", models.JSONField()),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("user", "key"), name="idempotency_key_per_user")]},
        ),
    ]
