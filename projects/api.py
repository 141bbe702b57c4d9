"""The demo site's objects over the API: each user sees the projects they are a member
of, and the workflows, jobs and runs in them; editors and above add to them."""

from __future__ import annotations

from rest_framework import exceptions, filters, generics, serializers
from rest_framework.pagination import LimitOffsetPagination

from assistant.strict_input import JSONBodySerializer, QueryParamsSerializer

from .models import Job, Project, ProjectMembership, Run, Workflow
from .selectors import project_role

ID_MAX = 2**63 - 1
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class ProjectSerializer(JSONBodySerializer, serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "created_at", "updated_at"]


class WorkflowSerializer(JSONBodySerializer, serializers.ModelSerializer):
    class Meta:
        model = Workflow
        fields = ["id", "project", "name", "spec", "created_at", "updated_at"]


class JobSerializer(JSONBodySerializer, serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "workflow", "name", "adaptor", "code", "created_at", "updated_at"]


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = Run
        fields = ["id", "job", "state", "log", "started_at", "finished_at", "created_at"]


class PageQuerySerializer(QueryParamsSerializer):
    limit = serializers.IntegerField(default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT)
    offset = serializers.IntegerField(default=0, min_value=0, max_value=ID_MAX)


class ParentQuerySerializer(QueryParamsSerializer):
    """The one filter of a view: its ``parent_field`` (``context``), an id."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            self.context["parent_field"]: serializers.IntegerField(
                required=False, min_value=1, max_value=ID_MAX
            )
        }


def _checked(query: QueryParamsSerializer) -> dict:
    query.is_valid(raise_exception=True)
    return query.validated_data


def _parameter(name: str, description: str, **schema) -> dict:
    return {"name": name, "required": False, "in": "query", "description": description, "schema": schema}


class ObjectPagination(LimitOffsetPagination):
    """``limit`` (1 to 500, 50 by default) and ``offset``, read as the document says: any
    other value is a 400 (DRF's own falls back to the default, or to 500)."""

    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request) -> int:
        return _checked(PageQuerySerializer(data=request.query_params))["limit"]

    def get_offset(self, request) -> int:
        return _checked(PageQuerySerializer(data=request.query_params))["offset"]

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            _parameter(
                "limit", "Number of results to return.", type="integer", minimum=1, maximum=MAX_LIMIT,
                default=DEFAULT_LIMIT,
            ),
            _parameter(
                "offset", "The index of the first result to return.", type="integer", format="int64",
                minimum=0, maximum=ID_MAX, default=0,
            ),
        ]  # fmt: skip


class ParentFilter(filters.BaseFilterBackend):
    """``?<parent_field>=<id>``: only the objects of that parent (the view's
    ``parent_field``: a workflow's project, a job's workflow, a run's job)."""

    def filter_queryset(self, request, queryset, view):
        if not view.parent_field:
            return queryset
        query = ParentQuerySerializer(data=request.query_params, context={"parent_field": view.parent_field})
        parent = _checked(query).get(view.parent_field)
        return queryset if parent is None else queryset.filter(**{view.parent_field: parent})

    def get_schema_operation_parameters(self, view) -> list[dict]:
        if not view.parent_field:
            return []
        return [
            _parameter(
                view.parent_field, f"Only those of this {view.parent_field} (its id).", type="integer",
                format="int64", minimum=1, maximum=ID_MAX,
            )
        ]  # fmt: skip


class _MemberObjects(generics.ListCreateAPIView):
    """A kind of site object, limited to the user's projects, filtered by its parent."""

    pagination_class = ObjectPagination
    filter_backends = [ParentFilter]
    parent_field: str = ""
    path_to_project: str = ""

    def get_queryset(self):
        return self.serializer_class.Meta.model.objects.filter(
            **{f"{self.path_to_project}members": self.request.user}
        ).order_by("id")

    def perform_create(self, serializer):
        parent = serializer.validated_data.get(self.parent_field) if self.parent_field else None
        if parent is not None:
            project = parent if isinstance(parent, Project) else parent.project
            role = project_role(user=self.request.user, project_id=project.pk)
            if role is None:
                raise exceptions.ValidationError({self.parent_field: ["Not one of your projects."]})
            if role not in ProjectMembership.WRITE_ROLES:
                raise exceptions.PermissionDenied("Your role in this project can't add to it.")
        serializer.save()


class ProjectsView(_MemberObjects):
    serializer_class = ProjectSerializer

    def perform_create(self, serializer):
        project = serializer.save()
        project.memberships.create(user=self.request.user, role=ProjectMembership.Role.OWNER)


class WorkflowsView(_MemberObjects):
    serializer_class = WorkflowSerializer
    parent_field = "project"
    path_to_project = "project__"


class JobsView(_MemberObjects):
    serializer_class = JobSerializer
    parent_field = "workflow"
    path_to_project = "workflow__project__"


class RunsView(_MemberObjects):
    serializer_class = RunSerializer
    parent_field = "job"
    path_to_project = "job__workflow__project__"
    http_method_names = ["get", "head", "options"]
