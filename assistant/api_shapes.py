"""The shape of a session in the API: the core's fields and those of its mode
(``ModeBehaviour.session_fields`` and ``session_values``)."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from modes.registry import NotRegistered, site

from .models import ChatSession
from .serializers import ChatMessageSerializer, ObjectField


def mode_choices() -> list[tuple[str, str]]:
    """The registered modes as choices, ``(id, name)``: the document's ``ModeEnum``
    (``SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]``)."""
    return [(mode.id, mode.name) for mode in site.all()]


class ModeField(serializers.ChoiceField):
    """A registered mode's id. Its choices are the modes registered when the field is made
    (a serializer copies its declared fields each time it is made), so the document's
    enum is the modes registered when it is generated."""

    default_error_messages = {"invalid_choice": 'No mode "{input}" is enabled.'}

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=mode_choices(), **kwargs)


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


class SubjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="app_label.model")
    id = serializers.CharField()


class ChatSessionSerializer(serializers.ModelSerializer):
    mode = ModeField(read_only=True, help_text="A registered mode's id.")
    meta = ObjectField(read_only=True, help_text="What the session was started with (a mode's own data).")
    message_count = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Its messages but the cancelled ones, in lists; null where the messages come with it.",
    )
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

    @extend_schema_field(SubjectSerializer(allow_null=True))
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
