"""A session is about any object: its job, workflow or project becomes its ``subject``
(a content type and an id), and the project it was filed under its ``scope``
(``"project:<id>"``), as usage's project does; the foreign keys into the demo domain go.

A site without the ``projects`` app also drops the domain's tables, which earlier
migrations of ``assistant`` created there."""

import django.db.models.deletion
from django.apps import apps
from django.db import migrations, models

HOST = apps.is_installed("projects")
DOMAIN = "projects" if HOST else "assistant"


def scope_of(project_id) -> str:
    return f"project:{project_id}" if project_id is not None else ""


def to_subjects(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Session = apps.get_model("assistant", "ChatSession")
    Usage = apps.get_model("assistant", "AIUsage")
    types = {
        name: ContentType.objects.get_or_create(app_label=DOMAIN, model=name)[0]
        for name in ("job", "workflow", "project")
    }
    rows = Session.objects.select_related("job__workflow").exclude(
        job__isnull=True, workflow__isnull=True, project__isnull=True
    )
    for session in rows.iterator(chunk_size=500):
        if session.job_id is not None:
            kind, object_id = "job", session.job_id
            project_id = session.project_id or session.job.workflow.project_id
        elif session.workflow_id is not None:
            kind, object_id, project_id = "workflow", session.workflow_id, session.project_id
        else:
            kind, object_id, project_id = "project", session.project_id, session.project_id
        Session.objects.filter(pk=session.pk).update(
            subject_type=types[kind], subject_id=str(object_id), scope=scope_of(project_id)
        )
    for project_id in Usage.objects.exclude(project=None).values_list("project_id", flat=True).distinct():
        Usage.objects.filter(project_id=project_id).update(scope=scope_of(project_id))


def from_subjects(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Session = apps.get_model("assistant", "ChatSession")
    Usage = apps.get_model("assistant", "AIUsage")
    kinds = {ct.pk: ct.model for ct in ContentType.objects.filter(app_label=DOMAIN)}
    for session in Session.objects.exclude(subject_type=None).iterator(chunk_size=500):
        kind = kinds.get(session.subject_type_id)
        if kind not in ("job", "workflow", "project"):
            continue
        project_id = int(session.scope.split(":", 1)[1]) if session.scope.startswith("project:") else None
        Session.objects.filter(pk=session.pk).update(
            **{f"{kind}_id": int(session.subject_id), "project_id": project_id}
        )
    for scope in Usage.objects.filter(scope__startswith="project:").values_list("scope", flat=True).distinct():
        Usage.objects.filter(scope=scope).update(project_id=int(scope.split(":", 1)[1]))


DROP_DOMAIN = [
    migrations.RemoveField(model_name="project", name="members"),
    migrations.DeleteModel(name="Run"),
    migrations.DeleteModel(name="Job"),
    migrations.DeleteModel(name="Workflow"),
    migrations.DeleteModel(name="ProjectMembership"),
    migrations.DeleteModel(name="Project"),
]


class Migration(migrations.Migration):

    dependencies = [
        ("assistant", "0008_projects_app"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatsession",
            name="subject_type",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AddField(
            model_name="chatsession",
            name="subject_id",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="chatsession",
            name="scope",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.AddField(
            model_name="aiusage",
            name="scope",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        # Before the data moves, so that going back puts them back after it has.
        migrations.RemoveConstraint(model_name="chatsession", name="job_session_has_job"),
        migrations.RemoveConstraint(model_name="chatsession", name="workflow_session_has_project"),
        migrations.RunPython(to_subjects, from_subjects),
        migrations.RemoveIndex(model_name="chatsession", name="session_job_updated"),
        migrations.RemoveIndex(model_name="chatsession", name="session_project_updated"),
        migrations.RemoveIndex(model_name="aiusage", name="usage_project_created"),
        migrations.RemoveField(model_name="chatsession", name="job"),
        migrations.RemoveField(model_name="chatsession", name="project"),
        migrations.RemoveField(model_name="chatsession", name="workflow"),
        migrations.RemoveField(model_name="aiusage", name="project"),
        migrations.AddIndex(
            model_name="chatsession",
            index=models.Index(
                fields=["subject_type", "subject_id", "updated_at"], name="session_subject_updated"
            ),
        ),
        migrations.AddIndex(
            model_name="chatsession",
            index=models.Index(fields=["scope", "updated_at"], name="session_scope_updated"),
        ),
        migrations.AddIndex(
            model_name="aiusage",
            index=models.Index(fields=["scope", "created_at"], name="usage_scope_created"),
        ),
        *([] if HOST else DROP_DOMAIN),
    ]
