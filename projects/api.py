"""The demo site's objects over the API: each user sees the projects they are a member
of, and the workflows, jobs and runs in them; editors and above add to them."""

from __future__ import annotations

from rest_framework import exceptions, generics, serializers
from rest_framework.pagination import LimitOffsetPagination

from .models import Job, Project, ProjectMembership, Run, Workflow
from .selectors import project_role

ID_MAX = 2**63 - 1


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "created_at", "updated_at"]


class WorkflowSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workflow
        fields = ["id", "project", "name", "spec", "created_at", "updated_at"]


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "workflow", "name", "adaptor", "code", "created_at", "updated_at"]


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = Run
        fields = ["id", "job", "state", "log", "started_at", "finished_at", "created_at"]


class ObjectPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class _MemberObjects(generics.ListCreateAPIView):
    """A kind of site object, limited to the user's projects, filtered by its parent."""

    pagination_class = ObjectPagination
    parent_field: str = ""
    path_to_project: str = ""

    def get_queryset(self):
        objects = self.serializer_class.Meta.model.objects.filter(
            **{f"{self.path_to_project}members": self.request.user}
        ).order_by("id")
        if self.parent_field:
            value = self.request.query_params.get(self.parent_field)
            if value is not None:
                if not value.isdigit() or int(value) > ID_MAX:
                    raise exceptions.ValidationError({self.parent_field: ["Give an id."]})
                objects = objects.filter(**{self.parent_field: int(value)})
        return objects

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
