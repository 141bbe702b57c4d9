"""The dashboard's event form: its fields as typed, checked by the ``events.types``
dataclasses, with every error under the field it is about."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from events.conf import events_settings
from events.services import event_validate
from events.types import EventValidationError, event_from_dict


class EventFormSerializer(serializers.Serializer):
    """``{"type", "source", "userID", "metadata"}`` as the form sends them, checked as
    ``POST /api/events`` checks an event (the system's own types and sources refused):
    ``metadata`` is the JSON text of an object (empty for ``{}``) and ``userID``
    defaults to the staff member sending it. Valid data is ``{"event", "owner"}``."""

    type = serializers.CharField()
    source = serializers.CharField()
    userID = serializers.CharField(required=False, allow_blank=True, default="")  # noqa: N815
    metadata = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)

    def validate_userID(self, value: str):  # noqa: N802
        """The owner of the event: the sender, or any active user."""
        sender = self.context["request"].user
        if not value or value == sender.get_username():
            return sender
        owner = get_user_model().objects.filter(username=value, is_active=True).first()
        if owner is None:
            raise serializers.ValidationError(f"There is no user {value!r}.")
        return owner

    def validate_metadata(self, value: str) -> dict:
        limit = events_settings.MAX_BODY_BYTES
        if len(value.encode()) > limit:
            raise serializers.ValidationError(f"must be at most {limit} bytes of JSON.")
        if not value.strip():
            return {}
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise serializers.ValidationError(
                f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        except ValueError as exc:  # a number too long to convert
            raise serializers.ValidationError(f"is not valid JSON: {exc}.") from None
        except RecursionError:
            raise serializers.ValidationError("is nested too deeply.") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError('must be a JSON object, e.g. {"text": "Hello"}.')
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise serializers.ValidationError("must not contain unpaired surrogate escapes.") from None
        except RecursionError:
            raise serializers.ValidationError("is nested too deeply.") from None
        return data

    def validate(self, attrs: dict) -> dict:
        owner = attrs["userID"]
        try:
            event = event_validate(
                event=event_from_dict(
                    {
                        "timestamp": timezone.now(),
                        "source": attrs["source"],
                        "type": attrs["type"],
                        "userID": owner.get_username(),
                        "metadata": attrs["metadata"],
                    }
                )
            )
        except EventValidationError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return {"event": event, "owner": owner}


class FeedbackFilterSerializer(serializers.Serializer):
    """The feedback section's filters, from the snapshot's query string."""

    rating = serializers.ChoiceField(["", "up", "down"], required=False, default="")
    model = serializers.CharField(required=False, default="", allow_blank=True, max_length=255)
