from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils import timezone

from .models import ApiKey, Login, User


class RecordAdmin(admin.ModelAdmin):
    """An admin of rows the product writes: staff read them (and may delete them), but
    neither add nor change them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Assistant", {"fields": ("display_name", "preferences")}),
    )
    list_display = ("username", "display_name", "email", "is_staff", "is_active", "date_joined")
    search_fields = ("username", "display_name", "email")


@admin.register(Login)
class LoginAdmin(RecordAdmin):
    """Signed-in API clients; deleting one logs it out (every token of it stops working)."""

    list_display = ("user", "created_at", "expires_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    readonly_fields = ("id", "user", "created_at", "expires_at")


@admin.register(ApiKey)
class ApiKeyAdmin(RecordAdmin):
    """Users' API keys (only a hint of each is kept); revoking one ends it at once."""

    list_display = ("name", "user", "hint", "can_write", "created_at", "last_used_at", "revoked_at")
    list_filter = ("can_write", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("user__username", "name", "hint")
    readonly_fields = ("id", "user", "name", "hint", "can_write", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} key(s) revoked.")
