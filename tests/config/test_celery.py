from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app


def test_the_celery_app_has_the_reliability_settings():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.timezone == "UTC" and conf.enable_utc is True
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json" and conf.result_serializer == "json"
    assert conf.broker_connection_retry_on_startup is True


def test_beat_uses_the_database_scheduler():
    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    assert DatabaseScheduler  # importable with the installed django-celery-beat
