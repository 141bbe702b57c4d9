"""The demo site's domain, moved here from ``assistant``: its tables are already there
(``assistant`` 0007 gave them this app's names), so this only tells Django's state."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("assistant", "0007_projects_tables"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='Job',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=255)),
                    ('adaptor', models.CharField(help_text='For example "@openfn/language-http@latest".', max_length=255)),
                    ('code', models.TextField(blank=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                ],
                options={
                    'ordering': ['name', 'id'],
                },
            ),
            migrations.CreateModel(
                name='Project',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=255)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                ],
                options={
                    'ordering': ['name', 'id'],
                },
            ),
            migrations.CreateModel(
                name='ProjectMembership',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('role', models.CharField(choices=[('owner', 'Owner'), ('admin', 'Admin'), ('editor', 'Editor'), ('viewer', 'Viewer')], default='editor', max_length=16)),
                    ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='projects.project')),
                    ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='project_memberships', to=settings.AUTH_USER_MODEL)),
                ],
            ),
            migrations.AddField(
                model_name='project',
                name='members',
                field=models.ManyToManyField(related_name='projects', through='projects.ProjectMembership', to=settings.AUTH_USER_MODEL),
            ),
            migrations.CreateModel(
                name='Run',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('state', models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('success', 'Success'), ('failed', 'Failed'), ('crashed', 'Crashed')], default='pending', max_length=16)),
                    ('log', models.TextField(blank=True)),
                    ('started_at', models.DateTimeField(blank=True, null=True)),
                    ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='projects.job')),
                ],
                options={
                    'ordering': ['-created_at', '-id'],
                },
            ),
            migrations.CreateModel(
                name='Workflow',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=255)),
                    ('spec', models.TextField(blank=True, help_text='The workflow as YAML.')),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                    ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='workflows', to='projects.project')),
                ],
                options={
                    'ordering': ['name', 'id'],
                },
            ),
            migrations.AddField(
                model_name='job',
                name='workflow',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='projects.workflow'),
            ),
            migrations.AddConstraint(
                model_name='projectmembership',
                constraint=models.CheckConstraint(condition=models.Q(('role__in', ['owner', 'admin', 'editor', 'viewer'])), name='membership_role_valid'),
            ),
            migrations.AlterUniqueTogether(
                name='projectmembership',
                unique_together={('project', 'user')},
            ),
            migrations.AddIndex(
                model_name='run',
                index=models.Index(fields=['job', '-created_at'], name='run_job_created'),
            ),
            migrations.AddConstraint(
                model_name='workflow',
                constraint=models.UniqueConstraint(fields=('project', 'name'), name='workflow_name_per_project'),
            ),
            migrations.AddConstraint(
                model_name='job',
                constraint=models.UniqueConstraint(fields=('workflow', 'name'), name='job_name_per_workflow'),
            ),
            ],
            database_operations=[],
        ),
    ]
