"""The event API: thin views over ``events.services`` and ``events.selectors``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .conf import events_setting
from .serializers import EventAcceptedSerializer, EventInputSerializer, EventSerializer
from .types import EventValidationError, event_from_dict


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _check_size(request) -> None:
    """Refuse a body over the cap before anything reads or parses it."""
    limit = events_setting("MAX_BODY_BYTES")
    too_large = PayloadTooLarge(f"An event may be at most {limit} bytes of JSON.")
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
    if size > limit:
        raise too_large


def _owner(request, user_id: str):
    """The user the event is for: the caller, or for staff any user."""
    if user_id == request.user.get_username():
        return request.user
    if not request.user.is_staff:
        raise exceptions.PermissionDenied("userID must be your own userID.")
    owner = get_user_model().objects.filter(username=user_id, is_active=True).first()
    if owner is None:
        raise exceptions.ValidationError({"userID": [f"There is no user {user_id!r}."]})
    return owner


class EventsView(APIView):
    def initial(self, request, *args, **kwargs) -> None:
        if request.method == "POST":
            _check_size(request)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        request=EventInputSerializer,
        responses={
            202: EventAcceptedSerializer,
            400: OpenApiResponse(description="A field is invalid; nothing was stored."),
            403: OpenApiResponse(description="userID is not yours."),
            413: OpenApiResponse(description="The body is larger than the cap."),
        },
        summary="Store an event and route it to its handler",
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["An event must be a JSON object."]})
        try:
            event = event_from_dict(request.data)
            row = services.event_publish(event=event, user=_owner(request, event.userID))
        except EventValidationError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        return Response(EventAcceptedSerializer(row).data, status=status.HTTP_202_ACCEPTED)


class EventDetailView(APIView):
    @extend_schema(responses={200: EventSerializer, 404: OpenApiResponse()}, summary="One of your events")
    def get(self, request, event_id):
        row = get_object_or_404(selectors.events_visible_to(user=request.user), pk=event_id)
        return Response(EventSerializer(row).data)
