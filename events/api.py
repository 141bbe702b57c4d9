"""The event and schedule API: thin views over ``events.services`` and ``events.selectors``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant import idempotency
from assistant.api import PaginationSerializer
from assistant.errors import check_body_size

from . import selectors, services
from .conf import events_settings
from .exceptions import ScheduleError
from .serializers import (
    EventAcceptedSerializer,
    EventInputSerializer,
    EventListParamsSerializer,
    EventSerializer,
    ScheduleInputSerializer,
    ScheduleListParamsSerializer,
    ScheduleSerializer,
)
from .types import EventValidationError, event_from_dict, parse_timestamp


def _check_size(request) -> None:
    """Refuse a body over the cap before anything reads or parses it."""
    limit = events_settings.MAX_BODY_BYTES
    check_body_size(request, limit, f"An event may be at most {limit} bytes of JSON.")


def _owner(request, user_id: str, perm: str):
    """The user the event is for: the caller, or any user for staff with ``perm``."""
    if user_id == request.user.get_username():
        return request.user
    if not selectors.staff_may(request.user, perm):
        raise exceptions.PermissionDenied("userID must be your own userID.")
    owner = get_user_model().objects.filter(username=user_id, is_active=True).first()
    if owner is None:
        raise exceptions.ValidationError({"userID": [f"There is no user {user_id!r}."]})
    return owner


def _page_response(request, params_serializer, page_of, key: str, serializer) -> Response:
    """One page of the caller's own rows: the query parameters checked by
    ``params_serializer``, read by ``page_of``, shaped as ``{key, "pagination"}``."""
    params = params_serializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    page = page_of(user=request.user, **params.validated_data)
    return Response({key: serializer(page[key], many=True).data, "pagination": page["pagination"].as_dict()})


class CappedPostMixin:
    """Refuses a POST body over ``EVENTS["MAX_BODY_BYTES"]`` with 413 before parsing it."""

    def initial(self, request, *args, **kwargs) -> None:
        if request.method == "POST":
            _check_size(request)
        super().initial(request, *args, **kwargs)


class EventsView(CappedPostMixin, APIView):
    @extend_schema(
        parameters=[EventListParamsSerializer],
        responses=inline_serializer(
            "EventPage", {"events": EventSerializer(many=True), "pagination": PaginationSerializer()}
        ),
        summary="Your events, newest first",
        operation_id="events_list",
    )
    def get(self, request):
        return _page_response(
            request, EventListParamsSerializer, selectors.event_page, "events", EventSerializer
        )

    @extend_schema(
        request=EventInputSerializer,
        parameters=[idempotency.PARAMETER],
        responses={
            202: EventAcceptedSerializer,
            400: OpenApiResponse(description="A field is invalid; nothing was stored."),
            403: OpenApiResponse(description="userID is not yours (staff: without events.add_event)."),
            413: OpenApiResponse(description="The body is larger than the cap."),
            422: idempotency.RESPONSES[422],
        },
        summary="Store an event and route it to its handler",
    )
    @idempotency.creating
    def post(self, request):
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["An event must be a JSON object."]})
        try:
            event = event_from_dict(request.data)
            row = services.event_publish(event=event, user=_owner(request, event.userID, "events.add_event"))
        except EventValidationError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        return Response(EventAcceptedSerializer(row).data, status=status.HTTP_202_ACCEPTED)


class EventDetailView(APIView):
    @extend_schema(responses={200: EventSerializer, 404: OpenApiResponse()}, summary="One of your events")
    def get(self, request, event_id):
        row = get_object_or_404(selectors.events_visible_to(user=request.user), pk=event_id)
        return Response(EventSerializer(row).data)


def _schedule_input(request) -> dict:
    """The schedule in the body: its event (validated, the caller's own unless staff)
    and either a future ``timestamp`` or a ``cron`` with a ``timezone``."""
    data = request.data
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["A schedule must be a JSON object."]})
    unknown = sorted(set(data) - {"event", "timestamp", "cron", "timezone"})
    if unknown:
        raise exceptions.ValidationError({unknown[0]: ["is not a schedule field."]})
    body = data.get("event")
    if not isinstance(body, dict):
        raise exceptions.ValidationError(
            {"event": ["must be an event object: type, source, userID, metadata."]}
        )
    try:
        # The timestamp is set when it fires; one given here is ignored.
        event = services.event_validate(event=event_from_dict({**body, "timestamp": timezone.now()}))
    except EventValidationError as exc:
        raise exceptions.ValidationError({f"event.{exc.field}": [exc.message]}) from None
    values = {"event": event, "user": _owner(request, event.userID, "events.add_schedule")}
    if "timestamp" in data and "cron" in data:
        raise exceptions.ValidationError({"non_field_errors": ["Give either timestamp or cron, not both."]})
    if "timestamp" in data:
        if "timezone" in data:
            raise exceptions.ValidationError(
                {"timezone": ["applies to cron only; put the offset in timestamp."]}
            )
        try:
            values["run_at"] = parse_timestamp(data["timestamp"])
        except EventValidationError as exc:
            raise exceptions.ValidationError({"timestamp": [exc.message]}) from None
    elif "cron" in data:
        values["cron"] = data["cron"]
        values["tz"] = data.get("timezone", "UTC")
    else:
        raise exceptions.ValidationError(
            {"non_field_errors": ["Give timestamp (once, in the future) or cron (repeating)."]}
        )
    return values


class SchedulesView(CappedPostMixin, APIView):
    @extend_schema(
        parameters=[ScheduleListParamsSerializer],
        responses=inline_serializer(
            "SchedulePage", {"schedules": ScheduleSerializer(many=True), "pagination": PaginationSerializer()}
        ),
        summary="Your schedules, newest first",
        operation_id="schedule_list",
    )
    def get(self, request):
        return _page_response(
            request, ScheduleListParamsSerializer, selectors.schedule_page, "schedules", ScheduleSerializer
        )

    @extend_schema(
        request=ScheduleInputSerializer,
        responses={
            201: ScheduleSerializer,
            400: OpenApiResponse(
                description="A field is invalid (a past timestamp, a bad cron); nothing stored."
            ),
            403: OpenApiResponse(
                description="The event's userID is not yours (staff: without events.add_schedule)."
            ),
            413: OpenApiResponse(description="The body is larger than the cap."),
            422: idempotency.RESPONSES[422],
            429: OpenApiResponse(description="The user has as many active schedules as allowed."),
        },
        parameters=[idempotency.PARAMETER],
        summary="Publish an event later: once at a timestamp, or on a cron",
    )
    @idempotency.creating
    def post(self, request):
        try:
            schedule = services.schedule_create(**_schedule_input(request))
        except ScheduleError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        return Response(ScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class ScheduleDetailView(APIView):
    def _schedule(self, request, schedule_id):
        return get_object_or_404(selectors.schedules_visible_to(user=request.user), pk=schedule_id)

    @extend_schema(
        responses={200: ScheduleSerializer, 404: OpenApiResponse()}, summary="One of your schedules"
    )
    def get(self, request, schedule_id):
        return Response(ScheduleSerializer(self._schedule(request, schedule_id)).data)

    @extend_schema(
        responses={
            204: None,
            403: OpenApiResponse(description="Staff without events.change_schedule: not yours to cancel."),
            404: OpenApiResponse(),
        },
        summary="Cancel a schedule",
    )
    def delete(self, request, schedule_id):
        schedule = self._schedule(request, schedule_id)
        if schedule.user_id != request.user.pk and not selectors.staff_may(
            request.user, "events.change_schedule"
        ):
            raise exceptions.PermissionDenied("Only its owner may cancel this schedule.")
        services.schedule_cancel(schedule=schedule)
        return Response(status=status.HTTP_204_NO_CONTENT)
