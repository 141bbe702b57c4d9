"""The Celery app of the assistant's workers and beat (``celery -A assistant.celery``).
Its settings are the site's ``CELERY_*`` Django settings; ``DJANGO_SETTINGS_MODULE``
names the site."""

from celery import Celery

app = Celery("assistant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
