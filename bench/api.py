"""Latency of listing sessions, getting one and searching what was said through the
API, at 1,000 and 100,000 sessions of 10 messages each, on PostgreSQL (in-process
requests through the whole DRF stack), with the queries each request takes.

    python bench/api.py [--sizes 1000 100000] [--requests 50]
"""

from __future__ import annotations

import argparse
import random
import time

from _setup import percentiles, setup_django

SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
#: 2,000 made-up words; each message says 12 of them, so a word is in about 0.6% of
#: messages (about 6% of sessions), and "marker{n}" only in session n.
VOCABULARY = sorted({"".join(random.Random(n).choices(SYLLABLES, k=3)) for n in range(2300)})[:2000]


def text(rng: random.Random, *extra: str) -> str:
    return " ".join([*rng.choices(VOCABULARY, k=12), *extra]).capitalize() + "."


def grow(user, job, total: int) -> None:
    from assistant.models import ChatMessage, ChatSession
    from tests.factories import about

    have = ChatSession.objects.filter(user=user).count()
    batch, rng = 2000, random.Random(have)
    while have < total:
        n = min(batch, total - have)
        sessions = ChatSession.objects.bulk_create(
            ChatSession(mode="job_code", user=user, **about(job), title=f"Session {i}")
            for i in range(have, have + n)
        )
        rows = []
        for i, session in enumerate(sessions, start=have):
            question = None
            for turn in range(10):
                words = (f"marker{i}",) if turn == 3 else ()
                if turn % 2 == 0:
                    question = ChatMessage(
                        session=session, role="user", user=user, content=text(rng, *words), status="success"
                    )
                    rows.append(question)
                else:
                    rows.append(
                        ChatMessage(
                            session=session, role="assistant", content=text(rng, *words), status="success"
                        )
                    )
        ChatMessage.objects.bulk_create(rows, batch_size=5000)
        have += n
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # as autovacuum would, before the figures
            cursor.execute("ANALYZE assistant_chatsession, assistant_chatmessage")


def timed(client, url: str, params: dict, requests: int) -> tuple[dict[str, float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, params)  # warm up
    times = []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, params)
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    return percentiles(times), len(queries)


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
    from tests import factories

    user, _ = get_user_model().objects.get_or_create(username="bench-api")
    # In SQL, not through the ORM's collector: a million rows are gone in seconds.
    from django.db import connection

    with connection.cursor() as cursor:
        sessions = "SELECT id FROM assistant_chatsession WHERE user_id = %s"
        cursor.execute(f"DELETE FROM assistant_chatmessage WHERE session_id IN ({sessions})", [user.pk])
        cursor.execute("DELETE FROM assistant_chatsession WHERE user_id = %s", [user.pk])
    job = factories.job(workflow_=factories.workflow(project_=factories.project(members=[user])))
    client = APIClient()
    client.force_authenticate(user)
    for size in sorted(args.sizes):
        grow(user, job, size)
        newest = ChatSession.objects.filter(user=user).order_by("-updated_at").first()
        common = VOCABULARY[7]
        for label, url, params in [
            ("list, first page", "/api/sessions/", {"limit": 20}),
            ("list, by job, last page", "/api/sessions/", {"job": job.pk, "limit": 20, "offset": size - 20}),
            ("list, title search", "/api/sessions/", {"search": "Session 42", "limit": 20}),
            ("one session", f"/api/sessions/{newest.pk}/", {}),
            ("search, one session's word", "/api/search/", {"q": f"marker{size // 2}"}),
            ("search, common word", "/api/search/", {"q": common}),
            ("search, prefix", "/api/search/", {"q": common[:4]}),
        ]:
            p, queries = timed(client, url, params, args.requests)
            median, p95 = p["median"] * 1000, p["p95"] * 1000
            print(
                f"{size:>7} sessions  {label:<28} {median:7.1f} ms median  {p95:7.1f} ms p95"
                f"  {queries} queries",
                flush=True,
            )


if __name__ == "__main__":
    main()
