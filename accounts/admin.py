from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Login, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Assistant", {"fields": ("display_name", "preferences")}),
    )
    list_display = ("username", "display_name", "email", "is_staff", "is_active", "date_joined")
    search_fields = ("username", "display_name", "email")


@admin.register(Login)
class LoginAdmin(admin.ModelAdmin):
    """Signed-in API clients; deleting one logs it out (every token of it stops working)."""

    list_display = ("user", "created_at", "expires_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    readonly_fields = ("id", "user", "created_at", "expires_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
