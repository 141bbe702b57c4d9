from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from assistant import services
from assistant.models import AIUsage, ChatMessage, ChatSession
from tests import factories as f

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_retry_messages_needs_to_be_told_what(enqueued):
    with pytest.raises(CommandError):
        run("retry_messages")


def test_retry_messages_stuck_requeues_and_says_so(user, enqueued):
    message = f.first_message(f.job_session(user=user))
    old = timezone.now() - timedelta(hours=1)
    ChatMessage.objects.filter(pk=message.pk).update(status=Status.PROCESSING, heartbeat_at=old, attempts=1)
    enqueued.clear()
    dry = run("retry_messages", "--stuck", "--dry-run")
    assert f"{message.pk} (stuck, session {message.session_id}) would be requeued" in dry
    message.refresh_from_db()
    assert message.status == Status.PROCESSING and enqueued == []
    out = run("retry_messages", "--stuck")
    assert "was requeued" in out and "1 stuck or forgotten message(s)." in out
    assert enqueued == [str(message.pk)]


def test_retry_messages_stuck_after_is_configurable(user, enqueued):
    message = f.first_message(f.job_session(user=user))
    ChatMessage.objects.filter(pk=message.pk).update(
        status=Status.PROCESSING, heartbeat_at=timezone.now() - timedelta(seconds=5)
    )
    assert "0 stuck" in run("retry_messages", "--stuck")
    assert "1 stuck" in run("retry_messages", "--stuck", "--stuck-after", "2s")


def test_retry_messages_by_session(user, enqueued):
    session = f.job_session(user=user)
    failed = f.first_message(session)
    ChatMessage.objects.filter(pk=failed.pk).update(status=Status.ERROR, error="Boom")
    other = f.first_message(f.job_session(user=user))
    ChatMessage.objects.filter(pk=other.pk).update(status=Status.ERROR)
    enqueued.clear()
    out = run("retry_messages", "--session", str(session.pk))
    assert "1 failed message(s) was retried." in out
    failed.refresh_from_db()
    other.refresh_from_db()
    assert (failed.status, other.status) == (Status.PENDING, Status.ERROR)
    with pytest.raises(CommandError):
        run("retry_messages", "--session", "00000000-0000-0000-0000-000000000000")


def test_retry_messages_by_age(user, enqueued):
    recent, old = (f.first_message(f.job_session(user=user)) for _ in range(2))
    ChatMessage.objects.filter(pk=recent.pk).update(status=Status.ERROR)
    ChatMessage.objects.filter(pk=old.pk).update(
        status=Status.ERROR, updated_at=timezone.now() - timedelta(days=3)
    )
    assert "1 failed message(s) would be retried." in run(
        "retry_messages", "--failed-within", "1d", "--dry-run"
    )
    run("retry_messages", "--failed-within", "1d")
    recent.refresh_from_db()
    old.refresh_from_db()
    assert (recent.status, old.status) == (Status.PENDING, Status.ERROR)


def test_a_bad_duration_is_refused():
    with pytest.raises(CommandError):
        run("retry_messages", "--failed-within", "soon")


def test_cleanup_deletes_old_sessions_and_usage(user):
    old_session, new_session = f.job_session(user=user), f.job_session(user=user)
    long_ago = timezone.now() - timedelta(days=100)
    ChatSession.objects.filter(pk=old_session.pk).update(updated_at=long_ago)
    old_usage = services.usage_record(user=user, usage={"total_tokens": 5})
    services.usage_record(user=user, usage={"total_tokens": 5})
    AIUsage.objects.filter(pk=old_usage.pk).update(created_at=long_ago)

    dry = run("cleanup", "--older-than", "90d", "--dry-run")
    assert "would delete 1 chat sessions" in dry and "would delete 1 usage rows" in dry
    assert ChatSession.objects.count() == 2

    out = run("cleanup", "--older-than", "90d")
    assert "deleted 1 chat sessions" in out and "deleted 1 usage rows" in out
    assert list(ChatSession.objects.all()) == [new_session]
    assert AIUsage.objects.count() == 1
    assert not ChatMessage.objects.filter(session_id=old_session.pk).exists()


def test_cleanup_uses_the_retention_setting(user, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "RETENTION_DAYS": 10}
    session = f.job_session(user=user)
    ChatSession.objects.filter(pk=session.pk).update(updated_at=timezone.now() - timedelta(days=11))
    assert "deleted 1 chat sessions" in run("cleanup")


def test_cleanup_forgets_expired_idempotency_keys(user):
    from assistant.models import IdempotencyKey

    old = IdempotencyKey.objects.create(user=user, key="old", fingerprint="f", status_code=201, response={})
    IdempotencyKey.objects.create(user=user, key="new", fingerprint="f", status_code=201, response={})
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert "would delete 1 expired idempotency keys" in run("cleanup", "--dry-run")
    assert "deleted 1 expired idempotency keys" in run("cleanup")
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_cleanup_forgets_expired_logins(user):
    from accounts.models import Login
    from accounts.services import tokens_for_user

    tokens_for_user(user)
    tokens_for_user(user)
    Login.objects.filter(pk=Login.objects.first().pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "would delete 1 expired logins" in run("cleanup", "--dry-run")
    assert "deleted 1 expired logins" in run("cleanup")
    assert Login.objects.count() == 1
