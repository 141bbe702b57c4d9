"""The staff dashboard: the page, the snapshot it polls, and its actions. Thin views:
reads are in ``dashboard.selectors``, writes go through the apps' services."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import transaction
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant import services as assistant_services
from assistant.models import ChatMessage
from assistant.views import CHAT_PAGE_CSP
from config.errors import Conflict, PayloadTooLarge
from config.parsers import JSONParser
from events import selectors as event_selectors
from events import services as event_services
from events.models import Schedule
from events.serializers import EventAcceptedSerializer, ScheduleSerializer

from . import selectors
from .serializers import EventFormSerializer


def staff_page(view):
    """Staff only: others are sent to log in, logged-in non-staff get 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@staff_page
@ensure_csrf_cookie
def index(request):
    """The dashboard page; its script renders the snapshot from ``/dashboard/state``."""
    response = render(request, "dashboard/index.html", {"event_types": selectors.handled_event_types()})
    # The chat page's policy: this site's own scripts, styles and connections only.
    response["Content-Security-Policy"] = CHAT_PAGE_CSP
    return response


class StaffAPIView(APIView):
    """JSON for the dashboard's script: the browser session of a staff member (CSRF
    checked on POST), errors in the API's shape; not part of the public API."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        try:
            request.body  # noqa: B018  (read now: a body over Django's cap is a 413, not a 500)
        except RequestDataTooBig:
            raise PayloadTooLarge() from None


@extend_schema(exclude=True)
class StateView(StaffAPIView):
    def get(self, request):
        return Response(selectors.dashboard_snapshot())


@extend_schema(exclude=True)
class EventSubmitView(StaffAPIView):
    def post(self, request):
        form = EventFormSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        row = event_services.event_publish(event=data["event"], user=data["owner"])
        return Response(EventAcceptedSerializer(row).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(exclude=True)
class MessageRetryView(StaffAPIView):
    def post(self, request, message_id):
        message = get_object_or_404(ChatMessage.objects.select_related("session"), pk=message_id)
        message = assistant_services.message_retry(message=message)
        return Response({"id": str(message.pk), "status": message.status})


@extend_schema(exclude=True)
class ScheduleCancelView(StaffAPIView):
    """Cancel an active schedule (anyone's); a done or cancelled one is a 409 and
    stays as it is. Answers the schedule as ``GET /api/schedule/{id}`` does."""

    def post(self, request, schedule_id):
        with transaction.atomic():
            # Locked, so that a firing waits and then finds it cancelled.
            schedule = get_object_or_404(
                event_selectors.schedules_visible_to(user=request.user).select_for_update(of=("self",)),
                pk=schedule_id,
            )
            if schedule.status != Schedule.Status.ACTIVE:
                raise Conflict(f"Only an active schedule can be cancelled; this one is {schedule.status}.")
            event_services.schedule_cancel(schedule=schedule)
        return Response(ScheduleSerializer(schedule).data)
