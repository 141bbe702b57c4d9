"""The assistant's REST API."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services


class HealthView(APIView):
    """Whether the assistant is configured and its model endpoint answers. No auth."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {
                "enabled": serializers.BooleanField(),
                "endpoint_available": serializers.BooleanField(),
            },
        ),
        summary="Assistant health",
    )
    def get(self, request):
        return Response(
            {
                "enabled": services.assistant_enabled(),
                "endpoint_available": services.assistant_endpoint_available(),
            }
        )
