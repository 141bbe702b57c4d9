"""One error shape for the whole API: ``{"error": code, "detail": text or fields}``."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def check_body_size(request, limit: int | None = None, text: str | None = None) -> None:
    """The one body-size rule: refuse a body over ``limit`` bytes (declared or actual),
    or over Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``, with 413 before anything parses
    it. ``text`` words the refusal."""
    too_large = PayloadTooLarge(text) if text else PayloadTooLarge()
    if limit is not None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise too_large
    try:
        size = len(request.body)
    except RequestDataTooBig:
        raise too_large from None
    if limit is not None and size > limit:
        raise too_large


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is unavailable. Please try again later."
    default_code = "service_unavailable"


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    return exc.default_code


def api_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), found while parsing it.
        exc = PayloadTooLarge()
    response = exception_handler(exc, context)
    if response is None:
        # Not an API exception: log it and answer in the same JSON shape.
        logger.exception("Unhandled error in %s", context.get("view"))
        return JsonResponse(
            {"error": "server_error", "detail": "Oops! Something went wrong. Please try again."},
            status=500,
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(detail, list) and len(detail) == 1:
        detail = detail[0]
    if isinstance(detail, dict) and "detail" in detail and set(detail) <= {"detail", "code", "messages"}:
        # simplejwt nests its message: {"detail": ..., "code": ..., "messages": [...]}.
        detail = detail["detail"]
    response.data = {"error": _code(exc), "detail": detail}
    if getattr(exc, "result", None) is not None:
        # What the request did create (a saved message whose work queue was down).
        response.data["result"] = exc.result
    return response


def _is_api(request) -> bool:
    # "/api/" at the root here, "/ai/api/" on a site that mounts the assistant under "ai/".
    return "/api/" in request.path


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse(
            {"error": "server_error", "detail": "Oops! Something went wrong. Please try again."},
            status=500,
        )
    return defaults.server_error(request)


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse({"error": "bad_request", "detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)
