"""The staff dashboard: the page, the snapshot it polls, and its actions. Thin views:
reads are in ``dashboard.selectors``, writes go through the apps' services."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant import services as assistant_services
from assistant.errors import Conflict, check_body_size
from assistant.models import ChatMessage
from assistant.parsers import JSONParser
from assistant.views import CHAT_PAGE_CSP
from events import services as event_services
from events.models import Schedule
from events.serializers import EventAcceptedSerializer, ScheduleSerializer

from . import access, selectors
from .serializers import EventFormSerializer, FeedbackFilterSerializer


def staff_page(view):
    """Staff with a dashboard permission only: others are sent to log in, logged-in
    users without one get 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not access.may_use_dashboard(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@staff_page
@ensure_csrf_cookie
def index(request):
    """The dashboard page: the sections and actions the staff member has the permissions
    of; its script renders the snapshot from ``/dashboard/state``."""
    sections = access.sections_for(request.user)
    can = access.actions_for(request.user)
    context = {
        "event_types": selectors.handled_event_types() if can["submit"] else [],
        "sections": {name: True for name in sections},
        "can": can,
    }
    response = render(request, "dashboard/index.html", context)
    # The chat page's policy: this site's own scripts, styles and connections only.
    response["Content-Security-Policy"] = CHAT_PAGE_CSP
    return response


class DashboardPermission(BasePermission):
    """Staff with the Django permission the view names in ``permission`` (an action of
    ``access.ACTION_PERMISSIONS``), or, for a view without one, any dashboard permission."""

    message = "You need a dashboard permission for this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        action = getattr(view, "action_name", None)
        if action is None:
            return access.may_use_dashboard(user)
        perm = access.ACTION_PERMISSIONS[action]
        self.message = f"You need the {perm} permission for this."
        return access.is_staff(user) and user.has_perm(perm)


class StaffAPIView(APIView):
    """JSON for the dashboard's script: the browser session of a staff member with the
    view's permission (CSRF checked on POST), errors in the API's shape; not part of the
    public API."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [DashboardPermission]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    #: The action of ``access.ACTION_PERMISSIONS`` this view does; None for reading.
    action_name: str | None = None

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        check_body_size(request)  # read now: a body over Django's cap is a 413, not a 500


@extend_schema(exclude=True)
class StateView(StaffAPIView):
    """The snapshot: each section the staff member has the view permission of, and
    which actions they may use (``can``)."""

    def get(self, request):
        form = FeedbackFilterSerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        filters = {"feedback": {key: value for key, value in form.validated_data.items() if value}}
        snapshot = selectors.dashboard_snapshot(sections=access.sections_for(request.user), filters=filters)
        return Response({**snapshot, "can": access.actions_for(request.user)})


@extend_schema(exclude=True)
class EventSubmitView(StaffAPIView):
    action_name = "submit"

    def post(self, request):
        form = EventFormSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        row = event_services.event_publish(event=data["event"], user=data["owner"])
        return Response(EventAcceptedSerializer(row).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(exclude=True)
class MessageRetryView(StaffAPIView):
    action_name = "retry"

    def post(self, request, message_id):
        message = get_object_or_404(ChatMessage.objects.select_related("session"), pk=message_id)
        message = assistant_services.message_retry(message=message)
        return Response({"id": str(message.pk), "status": message.status})


@extend_schema(exclude=True)
class ScheduleCancelView(StaffAPIView):
    """Cancel an active schedule (anyone's); a done or cancelled one is a 409 and
    stays as it is. Answers the schedule as ``GET /api/schedule/{id}`` does."""

    action_name = "cancel"

    def post(self, request, schedule_id):
        with transaction.atomic():
            # Locked, so that a firing waits and then finds it cancelled.
            schedule = get_object_or_404(
                Schedule.objects.select_related("user").select_for_update(of=("self",)), pk=schedule_id
            )
            if schedule.status != Schedule.Status.ACTIVE:
                raise Conflict(f"Only an active schedule can be cancelled; this one is {schedule.status}.")
            event_services.schedule_cancel(schedule=schedule)
        return Response(ScheduleSerializer(schedule).data)
