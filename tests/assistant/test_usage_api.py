"""GET /api/usage/: a user's tokens this period against their limit, by model."""

from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.models import AIUsage

pytestmark = pytest.mark.django_db


def test_this_periods_tokens_by_model_against_the_limit(client_of, user, make_user, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 1000, "USAGE_PERIOD": "month"}
    AIUsage.objects.create(user=user, model="fast", total_tokens=100)
    AIUsage.objects.create(user=user, model="fast", total_tokens=20)
    AIUsage.objects.create(user=user, model="thinker", total_tokens=300)
    old = AIUsage.objects.create(user=user, model="fast", total_tokens=5000)
    AIUsage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    AIUsage.objects.create(user=make_user("mallory"), model="fast", total_tokens=777)

    body = client_of(user).get("/api/usage/").json()
    assert (body["used"], body["limit"], body["period"]) == (420, 1000, "month")
    assert body["by_model"] == [{"model": "thinker", "tokens": 300}, {"model": "fast", "tokens": 120}]
    start = timezone.datetime.fromisoformat(body["period_start"].replace("Z", "+00:00"))
    resets = timezone.datetime.fromisoformat(body["resets_at"].replace("Z", "+00:00"))
    assert start.day == 1 and resets.day == 1 and 28 <= (resets - start).days <= 31


def test_without_a_limit_or_usage(client_of, user, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": None, "USAGE_PERIOD": "day"}
    body = client_of(user).get("/api/usage/").json()
    assert (body["used"], body["limit"], body["by_model"], body["period"]) == (0, None, [], "day")


def test_it_needs_a_login(api_client):
    assert api_client.get("/api/usage/").status_code == 401
