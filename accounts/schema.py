"""The OpenAPI document's description of the API's Bearer auth (drf-spectacular)."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class LoginJWTScheme(SimpleJWTScheme):
    target_class = "accounts.tokens.LoginJWTAuthentication"
