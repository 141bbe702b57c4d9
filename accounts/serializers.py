from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from assistant.strict_input import JSONBodySerializer


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, lists and objects instead of coercing them."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CredentialsSerializer(JSONBodySerializer):
    userID = StrictCharField(max_length=150, validators=[UnicodeUsernameValidator()])
    password = StrictCharField(max_length=128, trim_whitespace=False)


class RegisteredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    userID = serializers.CharField(source="username")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The access token (same as `access`).")
    access = serializers.CharField()
    refresh = serializers.CharField(required=False)


class ProfileSerializer(JSONBodySerializer):
    id = serializers.IntegerField(read_only=True)
    userID = serializers.CharField(source="username", read_only=True)
    display_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    preferences = serializers.DictField(required=False)
    is_staff = serializers.BooleanField(read_only=True)
