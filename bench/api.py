"""Latency of listing sessions and getting one through the API, at 1,000 and 100,000
sessions, on PostgreSQL (in-process requests through the whole DRF stack).

    python bench/api.py [--sizes 1000 100000] [--requests 50]
"""

from __future__ import annotations

import argparse
import time

from _setup import percentiles, setup_django


def grow(user, job, total: int) -> None:
    from assistant.models import ChatMessage, ChatSession

    have = ChatSession.objects.filter(user=user).count()
    batch = 5000
    while have < total:
        n = min(batch, total - have)
        sessions = ChatSession.objects.bulk_create(
            ChatSession(
                mode="job_code", user=user, job=job, project=job.workflow.project, title=f"Session {i}"
            )
            for i in range(have, have + n)
        )
        ChatMessage.objects.bulk_create(
            message
            for s in sessions
            for message in (
                ChatMessage(session=s, role="user", user=user, content="How do I fix it?", status="success"),
                ChatMessage(session=s, role="assistant", content="Like this.", status="success"),
            )
        )
        have += n


def timed(client, url: str, params: dict, requests: int) -> dict[str, float]:
    client.get(url, params)  # warm up
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, params)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    return percentiles(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from assistant.models import ChatSession
    from tests.factories import job as make_job

    user, _ = get_user_model().objects.get_or_create(username="bench-api")
    ChatSession.objects.filter(user=user).delete()
    job = make_job()
    client = APIClient()
    client.force_authenticate(user)
    for size in sorted(args.sizes):
        grow(user, job, size)
        newest = ChatSession.objects.filter(user=user).order_by("-updated_at").first()
        for label, url, params in [
            ("list, first page", "/api/sessions/", {"limit": 20}),
            ("list, by job, last page", "/api/sessions/", {"job": job.pk, "limit": 20, "offset": size - 20}),
            ("list, title search", "/api/sessions/", {"search": "Session 42", "limit": 20}),
            ("one session", f"/api/sessions/{newest.pk}/", {}),
        ]:
            p = timed(client, url, params, args.requests)
            median, p95 = p["median"] * 1000, p["p95"] * 1000
            print(f"{size:>7} sessions  {label:<24} {median:6.1f} ms median  {p95:6.1f} ms p95")


if __name__ == "__main__":
    main()
