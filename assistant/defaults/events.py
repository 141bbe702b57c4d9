"""Events: where replies are also POSTed, the key that signs those POSTs, and the
Celery queues of event types."""

from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import salted_hmac

from . import env as cfg

NOTIFY_URL = cfg.NOTIFY_URL

#: What the default NOTIFY_SECRET is derived for; changing it changes every receiver's key.
NOTIFY_SECRET_PURPOSE = "events.notify.X-Signature"

if cfg.NOTIFY_SECRET and cfg.NOTIFY_SECRET in {cfg.SECRET_KEY, cfg.JWT_SIGNING_KEY}:
    raise ImproperlyConfigured(
        "Invalid environment: NOTIFY_SECRET: must not be SECRET_KEY or JWT_SIGNING_KEY "
        "(whoever holds it could sign tokens); unset it to use a key derived for it alone."
    )

#: HMAC-SHA256 key of the ``X-Signature`` header on POSTs to NOTIFY_URL: NOTIFY_SECRET,
#: else a key derived from SECRET_KEY for this purpose only (it signs no token and
#: doesn't give SECRET_KEY away). ``manage.py notify_secret`` prints it.
NOTIFY_SECRET = (
    cfg.NOTIFY_SECRET
    or salted_hmac(
        NOTIFY_SECRET_PURPOSE, "NOTIFY_SECRET", secret=cfg.SECRET_KEY, algorithm="sha256"
    ).hexdigest()
)

# See events/conf.py for every key and its default.
EVENTS: dict = {"QUEUES": cfg.EVENT_QUEUES} if cfg.EVENT_QUEUES else {}
# See agents/conf.py for every key and its default.
AGENTS: dict = {"COMMANDS": cfg.AGENT_COMMANDS} if cfg.AGENT_COMMANDS else {}
