"""What a locked-out client sees (django-axes calls :func:`lockout_response`; the token
API raises :class:`LockedOut`): a page for browsers, ``{"error": "locked_out", ...}``
with status 429 for API clients, both with ``Retry-After``."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from rest_framework import exceptions, status


def cool_off_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = max(1, round(cool_off_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed logins from your address. Try again in {minutes} {unit}."


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self) -> None:
        super().__init__(lockout_message())
        self.wait = cool_off_seconds()  # DRF's handler turns it into Retry-After


def _wants_json(request) -> bool:
    return "json" in request.headers.get("Accept", "") or "json" in request.headers.get("Content-Type", "")


def lockout_response(request, *_ignored):
    """AXES_LOCKOUT_CALLABLE. (axes passes the original response and the credentials,
    in an order that differs between its sync and async middleware: neither is used.)"""
    message = lockout_message()
    if _wants_json(request):
        response = JsonResponse({"error": "locked_out", "detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(cool_off_seconds())
    return response
