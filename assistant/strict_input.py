"""Input read as the OpenAPI document describes it, not as leniently as DRF reads it.

DRF coerces: a JSON body's ``"is_public": "yes"`` is true, ``"name": 5`` is ``"5"``,
``"job": "5"`` is 5; a query's empty value (``?offset=``, ``?status=``) counts as not
given, a nullable field's as null, and ``1.0`` or `` 5`` are integers. Each of those
breaks the document (``type: boolean``, ``type: string``, ``minLength: 1``, not
nullable) and is a 400 here, in the API's error shape.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django.db import models
from rest_framework import exceptions, serializers

INTEGER = re.compile(r"^-?[0-9]+$")

BLANK_TEXT = "Give a value, or leave the parameter out."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(field: serializers.Field) -> tuple[str, Any] | None:
    """The JSON type a field's value must have in a body (its name and a check), or None
    for fields that check their input themselves."""
    if isinstance(field, serializers.BooleanField):
        return "a boolean", lambda value: isinstance(value, bool)
    if isinstance(field, serializers.IntegerField):
        return "an integer", _is_int
    if isinstance(field, serializers.CharField | serializers.UUIDField | serializers.DateTimeField):
        return "a string", lambda value: isinstance(value, str)
    is_related = isinstance(field, serializers.PrimaryKeyRelatedField)
    related = field.queryset if is_related else None
    if related is not None and isinstance(related.model._meta.pk, models.IntegerField):
        return "an integer id", _is_int
    return None


class JSONBodySerializer(serializers.Serializer):
    """A JSON body's fields: each value of its documented JSON type (or null where the
    field allows it), not one DRF would turn into it. Mix in before a ModelSerializer."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            errors = {}
            for name, field in self.fields.items():
                value = data.get(name)
                if field.read_only or name not in data or value is None:
                    continue
                expected = _json_type(field)
                max_length = getattr(field, "max_length", None)
                if expected is not None and not expected[1](value):
                    errors[name] = [f"Must be {expected[0]}."]
                elif max_length is not None and isinstance(value, str) and len(value) > max_length:
                    # Counted as sent: DRF counts after trimming the whitespace around it.
                    errors[name] = [f"Ensure this field has no more than {max_length} characters."]
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


class QueryParamsSerializer(serializers.Serializer):
    """A list's query parameters: each is given with a value of its type, or not at all
    (a parameter is null by leaving it out)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = {}
        for name, field in super().get_fields().items():
            field = copy.deepcopy(field)  # fields the modes declare are theirs
            field.allow_null = False
            fields[name] = field
        return fields

    def to_internal_value(self, data):
        errors = {}
        for name, field in self.fields.items():
            if field.read_only or name not in data:
                continue
            value = data.get(name)
            if not isinstance(value, str):
                continue
            if value == "" and not getattr(field, "allow_blank", False):
                errors[name] = [BLANK_TEXT]
            elif isinstance(field, serializers.IntegerField) and not INTEGER.match(value):
                errors[name] = [field.error_messages["invalid"]]
        if errors:
            raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)
