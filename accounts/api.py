"""The auth API: register, token, refresh. Thin views over ``accounts.services``."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import InvalidToken

from assistant.openapi import errors
from assistant.strict_input import JSONBodySerializer

from . import api_keys, services
from .clients import ScopedRateThrottle
from .models import ApiKey
from .serializers import (
    CredentialsSerializer,
    ProfileSerializer,
    RegisteredSerializer,
    TokenSerializer,
)
from .tokens import LoginRefreshSerializer

INVALID_TOKEN = "The token is invalid, expired or ended (logged out, blacklisted)."


def _credentials(request) -> dict[str, str]:
    data = CredentialsSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return {"username": data.validated_data["userID"], "password": data.validated_data["password"]}


class PublicAuthView(APIView):
    """Open to anyone; answers 401 (not 403) with a Bearer challenge on bad tokens."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class RegisterView(PublicAuthView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=CredentialsSerializer,
        responses={201: RegisteredSerializer, **errors({409: "A user with that userID already exists."})},
        summary="Register a user",
    )
    def post(self, request):
        user = services.user_register(**_credentials(request))
        return Response(RegisteredSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(PublicAuthView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=CredentialsSerializer,
        responses={
            200: TokenSerializer,
            **errors(
                {
                    401: "Wrong userID or password.",
                    429: "Too many failed logins (locked out for a while), or throttled (Retry-After).",
                }
            ),
        },
        summary="Exchange credentials for a JWT",
    )
    def post(self, request):
        tokens = services.token_obtain(request=request, **_credentials(request))
        return Response(tokens)


class RefreshView(PublicAuthView):
    @extend_schema(
        request=None,
        responses={200: TokenSerializer, **errors({401: INVALID_TOKEN})},
        summary="Exchange the token in the Authorization header for a fresh one",
    )
    def post(self, request):
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise InvalidToken("Send the current token as 'Authorization: Bearer <token>'.")
        return Response(services.token_refresh(raw=raw.strip()))


class MeView(APIView):
    """The authenticated user's own profile."""

    @extend_schema(responses=ProfileSerializer, summary="Your profile")
    def get(self, request):
        return Response(ProfileSerializer(request.user).data)

    @extend_schema(request=ProfileSerializer, responses=ProfileSerializer, summary="Change your profile")
    def patch(self, request):
        data = ProfileSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, **data.validated_data)
        return Response(ProfileSerializer(user).data)


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "hint", "can_write", "created_at", "last_used_at"]
        read_only_fields = ["id", "hint", "created_at", "last_used_at"]


class NewApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The key itself: shown this once.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = [*ApiKeySerializer.Meta.read_only_fields, "key"]


class ApiKeyInputSerializer(JSONBodySerializer):
    name = serializers.CharField(max_length=100)
    can_write = serializers.BooleanField(
        default=False, help_text="Writing tools run over this key without asking for approval."
    )


class ApiKeysView(APIView):
    """Your personal API keys, for outside agents (``/mcp/``)."""

    @extend_schema(responses=ApiKeySerializer(many=True), summary="Your live API keys")
    def get(self, request):
        return Response(ApiKeySerializer(api_keys.api_keys_of(request.user), many=True).data)

    @extend_schema(
        request=ApiKeyInputSerializer, responses={201: NewApiKeySerializer}, summary="Make an API key"
    )
    def post(self, request):
        data = ApiKeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, raw = api_keys.api_key_create(user=request.user, **data.validated_data)
        key.key = raw
        return Response(NewApiKeySerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyView(APIView):
    @extend_schema(
        responses={204: None, **errors({404: "You have no such key."})}, summary="Revoke an API key"
    )
    def delete(self, request, key_id):
        api_keys.api_key_revoke(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=extend_schema(
        responses={200: LoginRefreshSerializer, **errors({401: INVALID_TOKEN})},
        summary="Exchange a refresh token for a new access and refresh token",
    )
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    """simplejwt's refresh with rotation (``SIMPLE_JWT``), documented with its 401."""


@extend_schema_view(
    post=extend_schema(
        responses={200: None, **errors({401: INVALID_TOKEN})},
        summary="Log out: blacklist the refresh token and end its login",
    )
)
class TokenBlacklistView(jwt_views.TokenBlacklistView):
    """simplejwt's logout (``SIMPLE_JWT``), documented with its 401."""
