"""Creating POSTs that a client may safely retry.

``@creating`` wraps a view's ``post``. With an ``Idempotency-Key`` header, the first
successful answer is stored with the key (per user, in the transaction that created the
object), and a retried request with the same key gets that answer again and creates
nothing; the same key with a different request is refused (422). Without a worker queue
(the broker is down) the objects are still saved and the answer is 503 with the created
object as ``result``: a retry with the same key then returns the stored 2xx answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from . import dispatch
from .conf import assistant_settings
from .exceptions import QueueUnavailable
from .models import IdempotencyKey

HEADER = "Idempotency-Key"
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

#: For ``extend_schema(parameters=[...])`` of a creating POST.
PARAMETER = OpenApiParameter(
    HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    pattern=KEY.pattern,
    description="Any string of 1 to 255 visible ASCII characters, unique per request you mean: a "
    "retry with the same key returns the first answer and creates nothing.",
)
#: For ``extend_schema(responses={...})`` of a creating POST.
RESPONSES = {
    422: OpenApiResponse(description="The Idempotency-Key was already used for a different request."),
    503: OpenApiResponse(description="Saved, but the work queue is down: answered when it is back."),
}


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used for a different request."
    default_code = "idempotency_key_reused"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _stored(user, key: str) -> IdempotencyKey | None:
    since = timezone.now() - timedelta(seconds=assistant_settings.IDEMPOTENCY_TTL)
    return IdempotencyKey.objects.filter(user=user, key=key, created_at__gte=since).first()


def _replay(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise KeyReused()
    return Response(stored.response, status=stored.status_code)


class _Lost(Exception):
    """A concurrent request with the same key stored its answer first."""


def creating(post):
    """Decorate a view's ``post`` that creates something (see the module docstring)."""

    @functools.wraps(post)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        fingerprint = ""
        if key is not None:
            if not KEY.match(key):
                raise exceptions.ValidationError({HEADER: ["Use 1 to 255 visible ASCII characters."]})
            fingerprint = _fingerprint(request)
            stored = _stored(request.user, key)
            if stored is not None:
                return _replay(stored, fingerprint)
        with dispatch.tracking_unqueued() as unqueued:
            try:
                with transaction.atomic():
                    response = post(view, request, *args, **kwargs)
                    if key is not None and status.is_success(response.status_code):
                        _remember(request.user, key, fingerprint, response)
            except _Lost:
                return _replay(_stored(request.user, key), fingerprint)
        if unqueued and status.is_success(response.status_code):
            raise QueueUnavailable(result=response.data)
        return response

    return wrapper


def _remember(user, key: str, fingerprint: str, response: Response) -> None:
    body = json.loads(JSONRenderer().render(response.data))
    expired = timezone.now() - timedelta(seconds=assistant_settings.IDEMPOTENCY_TTL)
    IdempotencyKey.objects.filter(user=user, key=key, created_at__lt=expired).delete()
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                user=user, key=key, fingerprint=fingerprint, status_code=response.status_code, response=body
            )
    except IntegrityError:
        raise _Lost from None


def idempotency_keys_delete_expired(*, now=None, dry_run: bool = False) -> int:
    """Forget answers older than ``IDEMPOTENCY_TTL``; the number of keys (that would go)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=assistant_settings.IDEMPOTENCY_TTL)
    rows = IdempotencyKey.objects.filter(created_at__lt=cutoff)
    return rows.count() if dry_run else rows.delete()[0]
