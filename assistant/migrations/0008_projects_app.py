"""The demo site's domain now belongs to ``projects``: sessions and usage point at its
models, ``assistant`` forgets its own copies (the tables stay, under the new app), and
the content types follow, so permissions granted on them and admin history are kept.

A site without the ``projects`` app skips this: the domain stays in ``assistant``'s
state until 0009 drops it."""

import django.db.models.deletion
from django.apps import apps
from django.db import migrations, models

HOST = apps.is_installed("projects")


MODELS = ["project", "projectmembership", "workflow", "job", "run"]


def _move(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types(apps, schema_editor) -> None:
    _move(apps, "assistant", "projects")


def move_content_types_back(apps, schema_editor) -> None:
    _move(apps, "projects", "assistant")


class Migration(migrations.Migration):

    dependencies = [
        ('assistant', '0007_projects_tables'),
        ('contenttypes', '0002_remove_content_type_name'),
        *([('projects', '0001_initial')] if HOST else []),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.AlterField(
                model_name='chatsession',
                name='job',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='chat_sessions', to='projects.job'),
            ),
            migrations.RemoveField(
                model_name='run',
                name='job',
            ),
            migrations.RemoveField(
                model_name='project',
                name='members',
            ),
            migrations.RemoveField(
                model_name='workflow',
                name='project',
            ),
            migrations.RemoveField(
                model_name='projectmembership',
                name='project',
            ),
            migrations.AlterField(
                model_name='chatsession',
                name='project',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='chat_sessions', to='projects.project'),
            ),
            migrations.AlterField(
                model_name='aiusage',
                name='project',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='ai_usage', to='projects.project'),
            ),
            migrations.AlterUniqueTogether(
                name='projectmembership',
                unique_together=None,
            ),
            migrations.RemoveField(
                model_name='projectmembership',
                name='user',
            ),
            migrations.AlterField(
                model_name='chatsession',
                name='workflow',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='chat_sessions', to='projects.workflow'),
            ),
            migrations.DeleteModel(
                name='Job',
            ),
            migrations.DeleteModel(
                name='Run',
            ),
            migrations.DeleteModel(
                name='Project',
            ),
            migrations.DeleteModel(
                name='ProjectMembership',
            ),
            migrations.DeleteModel(
                name='Workflow',
            ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back, elidable=True),
    ] if HOST else []
