"""Fixtures of the dashboard tests: a staff member, a user who is not staff, and
captured hand-offs to workers."""

from __future__ import annotations

import pytest


@pytest.fixture
def staff(make_user):
    return make_user("root", is_staff=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def member_client(client, user):
    """A logged-in user who is not staff."""
    client.force_login(user)
    return client


@pytest.fixture
def routed(monkeypatch) -> list[str]:
    """Event ids handed to the workers (instead of routing them)."""
    calls: list[str] = []

    def record(*, event_id, **kwargs):
        calls.append(str(event_id))

    monkeypatch.setattr("events.services.event_enqueue", record)
    return calls
