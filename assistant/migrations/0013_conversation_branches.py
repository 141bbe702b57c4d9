import django.db.models.deletion
from django.db import migrations, models

BATCH = 1000


def one_branch(apps, schema_editor):
    """Sessions from before branches: each question follows the one before it, the
    last one is the leaf, and each answer is the one version of its question's."""
    Session = apps.get_model("assistant", "ChatSession")
    Message = apps.get_model("assistant", "ChatMessage")
    Message.objects.filter(role="assistant", reply_to__isnull=False).update(version_of=models.F("reply_to"))
    sessions = Session.objects.filter(leaf__isnull=True).values_list("pk", flat=True)
    for session_id in sessions.iterator(chunk_size=BATCH):
        questions = list(
            Message.objects.filter(session_id=session_id, role="user").order_by("created_at", "id").only("pk")
        )
        for before, question in zip(questions, questions[1:], strict=False):
            question.parent_id = before.pk
        Message.objects.bulk_update(questions[1:], ["parent"], batch_size=BATCH)
        if questions:
            Session.objects.filter(pk=session_id).update(leaf=questions[-1].pk)


class Migration(migrations.Migration):
    dependencies = [
        ("assistant", "0012_feedback"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatmessage",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="followers",
                to="assistant.chatmessage",
            ),
        ),
        migrations.AddField(
            model_name="chatmessage",
            name="version_of",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="answers",
                to="assistant.chatmessage",
            ),
        ),
        migrations.AddField(
            model_name="chatsession",
            name="leaf",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="assistant.chatmessage",
            ),
        ),
        migrations.RunPython(one_branch, migrations.RunPython.noop, elidable=True),
    ]
