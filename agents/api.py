"""The task API: thin views over ``agents.selectors``. Owners only; anyone else's task is a 404."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .conf import agents_settings
from .serializers import (
    TaskDetailQuerySerializer,
    TasksQuerySerializer,
    WorkerTaskDetailSerializer,
    WorkerTaskSerializer,
)


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


class TasksView(APIView):
    @extend_schema(
        parameters=[TasksQuerySerializer],
        responses={200: inline_serializer("Tasks", {"tasks": WorkerTaskSerializer(many=True)})},
        operation_id="tasks_list",
        summary="Your latest worker tasks, newest first",
    )
    def get(self, request):
        limit = _query(TasksQuerySerializer, request)["limit"]
        tasks = selectors.tasks_visible_to(user=request.user)[:limit]
        return Response({"tasks": WorkerTaskSerializer(tasks, many=True).data})


class TaskDetailView(APIView):
    @extend_schema(
        parameters=[TaskDetailQuerySerializer],
        responses={
            200: WorkerTaskDetailSerializer,
            404: OpenApiResponse(description="Not one of your tasks."),
        },
        summary="One of your worker tasks with its log lines (after=<seq> for the newer ones only)",
    )
    def get(self, request, task_id):
        after = _query(TaskDetailQuerySerializer, request)["after"]
        task = get_object_or_404(selectors.tasks_visible_to(user=request.user), pk=task_id)
        page = agents_settings.LOG_PAGE_SIZE
        lines = selectors.task_log_lines(task=task, after=after, limit=page + 1)
        context = {"lines": lines[:page], "more_lines": len(lines) > page}
        return Response(WorkerTaskDetailSerializer(task, context=context).data)
