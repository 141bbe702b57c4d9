"""Fixtures of the dashboard tests: a staff member with every dashboard permission, a
user who is not staff, and captured hand-offs to workers."""

from __future__ import annotations

import pytest

from tests.permissions import DASHBOARD_PERMISSIONS, grant


@pytest.fixture
def staff(make_user):
    """A staff member (not a superuser) whose group has every dashboard permission."""
    return grant(make_user("root", is_staff=True), *DASHBOARD_PERMISSIONS, group="Operators")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def member_client(client, user):
    """A logged-in user who is not staff."""
    client.force_login(user)
    return client
