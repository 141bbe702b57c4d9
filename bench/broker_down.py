"""What a client sees when the broker is down: ``POST /api/sessions/`` with a closed
broker port answers 503 with the session kept; the same request again with its
``Idempotency-Key`` returns that session and creates nothing.

    .venv/bin/python bench/broker_down.py   # --posts 5

Runs on a throw-away SQLite database (no services needed) through Django's test client.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="assistant-broker-down-")
    os.environ.update(
        ENV_FILE="",
        DATABASE_URL=f"sqlite:///{folder}/db.sqlite3",
        CELERY_BROKER_URL="redis://127.0.0.1:6399/0",  # nothing listens there
        AI_REQUIRE_DISCLAIMER="false",
        LOG_LEVEL="CRITICAL",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from assistant.models import ChatMessage, ChatSession
    from projects.demo import demo_data_ensure

    call_command("migrate", verbosity=0)
    demo = demo_data_ensure()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(demo.user)
    body = {"mode": "job_code", "job": demo.job.pk, "content": "Why does it fail?"}
    first, again = [], []
    for i in range(args.posts):
        headers = {"Idempotency-Key": f"broker-down-{i}"}
        start = time.perf_counter()
        response = client.post("/api/sessions/", body, content_type="application/json", headers=headers)
        first.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 503, response.content
        kept = response.json()["result"]["id"]
        start = time.perf_counter()
        retried = client.post("/api/sessions/", body, content_type="application/json", headers=headers)
        again.append((time.perf_counter() - start) * 1000)
        assert retried.json()["id"] == kept, retried.content
    print(f"first posts:  {args.posts} × 503, median {statistics.median(first):.0f} ms")
    print(f"same key:     {args.posts} × {retried.status_code}, median {statistics.median(again):.0f} ms")
    pending = ChatMessage.objects.filter(status=ChatMessage.Status.PENDING).count()
    print(f"stored:       {ChatSession.objects.count()} sessions, {pending} pending messages")


if __name__ == "__main__":
    main()
