"""The shape of a session in the API: the core's fields and those of its mode
(``ModeBehaviour.session_fields`` and ``session_values``)."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from modes.registry import NotRegistered, site

from .models import ChatSession
from .serializers import ChatMessageSerializer


def mode_fields() -> dict[str, serializers.Field]:
    """The fields the registered modes add to sessions, by name (the first mode that
    declares a name gives its type)."""
    fields: dict[str, serializers.Field] = {}
    for mode in site.all():
        for name, field in mode.session_fields().items():
            fields.setdefault(name, field)
    return fields


def mode_values(session: ChatSession) -> dict[str, Any]:
    """The values of its mode's fields for one session, computed once per session."""
    values = getattr(session, "_mode_values", None)
    if values is None:
        try:
            values = site.get(session.mode).session_values(session)
        except NotRegistered:
            values = {}
        session._mode_values = values
    return values


class ModeValue(serializers.Field):
    """A field a mode adds to its sessions; null on the sessions of other modes."""

    def __init__(self, declared: serializers.Field) -> None:
        self.declared = declared
        super().__init__(source="*", read_only=True)

    def to_representation(self, session: ChatSession) -> Any:
        return mode_values(session).get(self.field_name)


class ModeValueExtension(OpenApiSerializerFieldExtension):
    """A mode's field is documented as the field the mode declared."""

    target_class = ModeValue

    def map_serializer_field(self, auto_schema, direction):
        return auto_schema._map_serializer_field(self.target.declared, direction)


class ChatSessionSerializer(serializers.ModelSerializer):
    message_count = serializers.IntegerField(read_only=True, default=None)
    subject = serializers.SerializerMethodField(
        help_text='The object the session is about, as {"type": "app_label.model", "id"}, or null.'
    )

    class Meta:
        model = ChatSession
        fields = [
            "id",
            "title",
            "mode",
            "subject",
            "scope",
            "meta",
            "is_public",
            "message_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, declared in mode_fields().items():
            fields.setdefault(name, ModeValue(declared))
        return fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_subject(self, session: ChatSession) -> dict[str, str] | None:
        if session.subject_type_id is None:
            return None
        kind = ContentType.objects.get_for_id(session.subject_type_id)
        return {"type": f"{kind.app_label}.{kind.model}", "id": session.subject_id}


class ChatSessionDetailSerializer(ChatSessionSerializer):
    messages = ChatMessageSerializer(
        many=True,
        read_only=True,
        source="conversation",
        help_text="The branch shown, each question with its shown answer.",
    )

    class Meta(ChatSessionSerializer.Meta):
        fields = [*ChatSessionSerializer.Meta.fields, "messages"]
        read_only_fields = fields
