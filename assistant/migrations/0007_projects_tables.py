"""The demo site's domain moves to the ``projects`` app: first its tables take that
app's names (rows, keys and constraints stay as they are)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("assistant", "0006_message_due_at"),
    ]

    operations = [
        migrations.AlterModelTable(name="project", table="projects_project"),
        migrations.AlterModelTable(name="projectmembership", table="projects_projectmembership"),
        migrations.AlterModelTable(name="workflow", table="projects_workflow"),
        migrations.AlterModelTable(name="job", table="projects_job"),
        migrations.AlterModelTable(name="run", table="projects_run"),
        migrations.RenameIndex(model_name="run", new_name="run_job_created", old_name="assistant_r_job_id_c93f82_idx"),
    ]
