"""Who may use which part of the dashboard: staff members (``is_staff``), each part with
its Django model permission (superusers have them all)."""

from __future__ import annotations

#: The snapshot's sections, each shown with the view permission of what it lists.
SECTION_PERMISSIONS: dict[str, str] = {
    "events": "events.view_event",
    "messages": "assistant.view_chatmessage",
    "schedules": "events.view_schedule",
    "tasks": "agents.view_workertask",
    "feedback": "assistant.view_feedback",
}

#: The page's actions, each allowed with this permission.
ACTION_PERMISSIONS: dict[str, str] = {
    # Submit an event (for any active user).
    "submit": "events.add_event",
    # Retry a failed or cancelled message.
    "retry": "assistant.change_chatmessage",
    # Cancel anyone's active schedule.
    "cancel": "events.change_schedule",
}


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def sections_for(user) -> list[str]:
    """The sections ``user`` may see, in the page's order."""
    if not is_staff(user):
        return []
    return [name for name, perm in SECTION_PERMISSIONS.items() if user.has_perm(perm)]


def actions_for(user) -> dict[str, bool]:
    """Each action, and whether ``user`` may use it."""
    staff = is_staff(user)
    return {name: staff and user.has_perm(perm) for name, perm in ACTION_PERMISSIONS.items()}


def may_use_dashboard(user) -> bool:
    """Staff with the permission of at least one section or action."""
    return bool(sections_for(user)) or any(actions_for(user).values())
