"""The full-text index of message text: a stored tsvector column with a GIN index on
PostgreSQL, an FTS5 table kept by triggers on SQLite (``assistant.search``)."""

from django.db import migrations

from assistant import search


def create(apps, schema_editor):
    for statement in search.index_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    for statement in search.drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("assistant", "0013_conversation_branches"),
    ]

    operations = [migrations.RunPython(create, drop)]
