"""Django model permissions for the tests of staff pages and actions."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from dashboard.access import ACTION_PERMISSIONS, SECTION_PERMISSIONS

#: Every permission the dashboard asks for: its sections' and its actions'.
DASHBOARD_PERMISSIONS = (*SECTION_PERMISSIONS.values(), *ACTION_PERMISSIONS.values())


def grant(user, *perms: str, group: str | None = None):
    """Give ``user`` the permissions named ``app_label.codename`` (through a group of
    that name when ``group`` is given), and forget the ones it had cached."""
    rows = []
    for perm in perms:
        app_label, codename = perm.split(".")
        rows.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    if group:
        holder, _ = Group.objects.get_or_create(name=group)
        holder.permissions.add(*rows)
        user.groups.add(holder)
    else:
        user.user_permissions.add(*rows)
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    return user
