"""Events: where replies are also POSTed, the key that signs those POSTs, and the
Celery queues of event types."""

from . import env as cfg

NOTIFY_URL = cfg.NOTIFY_URL
#: HMAC-SHA256 key of the ``X-Signature`` header on POSTs to NOTIFY_URL.
NOTIFY_SECRET = cfg.NOTIFY_SECRET or cfg.SECRET_KEY

# See events/conf.py for every key and its default.
EVENTS: dict = {"QUEUES": cfg.EVENT_QUEUES} if cfg.EVENT_QUEUES else {}
