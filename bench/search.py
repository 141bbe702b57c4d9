"""Semantic search on PostgreSQL: the latency of one search (the query embedded by the
demo model, the vectors in the user's scope read and ranked, the rows read) at 10,000 and
100,000 job vectors of 384 dimensions in one user's scope; and embedding throughput of
one worker process (``embed_rows`` over new jobs, the demo model answering in-process,
so what is measured is the product's own work per row: reading, hashing, the request
and the upsert).

    python bench/search.py [--sizes 10000 100000] [--searches 40] [--embed 2000]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from _setup import member_job, percentiles, setup_django

DIMENSIONS = 384
WORDS = ["patients", "registry", "invoices", "sync", "fetch", "clinic", "orders", "stock", "email", "report"]


def grow(workflow, content_type, total: int) -> None:
    """Jobs (and random unit vectors of them) until the workflow has ``total``."""
    from django.db import connection

    from assistant.models import Embedding
    from projects.models import Job

    have = Job.objects.filter(workflow=workflow).count()
    rng = np.random.default_rng(have)
    while have < total:
        count = min(5_000, total - have)
        jobs = Job.objects.bulk_create(
            Job(
                workflow=workflow,
                name=f"Bench job {have + n}",
                adaptor="@openfn/language-http@6",
                code="fn(s => s);",
            )
            for n in range(count)
        )
        vectors = rng.standard_normal((count, DIMENSIONS)).astype("<f4")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        Embedding.objects.bulk_create(
            Embedding(
                content_type=content_type,
                object_id=str(job.pk),
                model="demo",
                dimensions=DIMENSIONS,
                text_hash="bench",
                vector=vector.tobytes(),
            )  # fmt: skip
            for job, vector in zip(jobs, vectors, strict=True)
        )
        have += count
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum does after such a load, for the planner's estimates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--searches", type=int, default=40)
    parser.add_argument("--embed", type=int, default=2_000)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from assistant import embeddings
    from projects.models import Job
    from tests import factories as f

    with connection.cursor() as cursor:  # the benchmark's own database: start from no jobs and no vectors
        cursor.execute("TRUNCATE assistant_embedding, projects_job CASCADE")
    get_user_model().objects.filter(username="bench-search").delete()
    user = get_user_model().objects.create_user("bench-search", password=None)
    job = member_job(user)
    workflow = job.workflow
    content_type = ContentType.objects.get_for_model(Job)
    declaration = embeddings.site.get("projects.job")
    rng = random.Random(1)
    print(f"| vectors in scope | search p50 | search p95 |  (PostgreSQL, {DIMENSIONS} dimensions, exact)")
    print("|---|---|---|")
    for size in args.sizes:
        grow(workflow, content_type, size)
        embeddings.nearest(declaration, user=user, query="warm up", k=10)
        times = []
        for _ in range(args.searches):
            query = " ".join(rng.sample(WORDS, 3))
            start = time.perf_counter()
            hits = embeddings.nearest(declaration, user=user, query=query, k=10)
            times.append((time.perf_counter() - start) * 1000)
            assert len(hits) == 10
        figures = percentiles(times)
        print(f"| {size:,} | {figures['median']:.1f} ms | {figures['p95']:.1f} ms |")

    other = f.workflow(project_=workflow.project, name="Embedded by the bench")
    new = Job.objects.bulk_create(
        Job(workflow=other, name=f"New job {n}", adaptor="x", code=" ".join(rng.choices(WORDS, k=40)))
        for n in range(args.embed)
    )
    start = time.perf_counter()
    counts = embeddings.embed_rows(declaration, [job.pk for job in new])
    seconds = time.perf_counter() - start
    rate = counts.embedded / seconds
    print(f"\nembedded {counts.embedded:,} rows in {counts.requests} requests: {rate:,.0f} rows/s"
          " on one worker process (demo model, in-process)")  # fmt: skip


if __name__ == "__main__":
    main()
