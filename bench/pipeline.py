"""The assistant's message pipeline, measured end to end on the production deployment
(PostgreSQL, Redis, a Celery worker process), against a local OpenAI-compatible server.

    python bench/pipeline.py [--messages 300] [--sequential 40] [--concurrent 400]

1. Throughput: messages per second through the whole path (save, enqueue, worker,
   model stream, save) with a zero-latency model.
2. Added latency: time from saving a message to its saved reply, against the time the
   SDK alone takes to stream the same answer from the same server.
3. Concurrency: how many answers one worker process streams at once when each takes
   two seconds.

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL; defaults: the local
services, database ``assistant_bench``, Redis db 14).
"""

from __future__ import annotations

import argparse
import time

from _setup import environment, percentiles, setup_django, start_worker, stop

ANSWER = [f"token{i} " for i in range(20)]


def wait_all(ids: list, timeout: float = 300) -> float:
    from assistant.models import ChatMessage

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = ChatMessage.objects.filter(pk__in=ids, status__in=["success", "error"]).count()
        if done == len(ids):
            failed = ChatMessage.objects.filter(pk__in=ids, status="error").count()
            if failed:
                raise RuntimeError(f"{failed} messages failed")
            return time.monotonic()
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for replies")


def post(job, user, n: int) -> list:
    from projects import sessions

    return [
        sessions.job_session_create(job=job, user=user, content=f"Question {i}").messages.get().pk
        for i in range(n)
    ]


def sdk_stream(url: str) -> float:
    import openai

    client = openai.OpenAI(api_key="k", base_url=url, max_retries=0)
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "q"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    for _ in stream:
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--sequential", type=int, default=40)
    parser.add_argument("--concurrent", type=int, default=400)
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model

    from assistant.models import ChatMessage
    from tests.factories import job as make_job
    from tests.llm_server import ModelServer, Reply

    user, _ = get_user_model().objects.get_or_create(username="bench")
    job = make_job()
    server = ModelServer(default=Reply(chunks=ANSWER)).start()
    env = {**environment(), "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "k", "OPENAI_MODEL": "m"}
    print(f"model server {server.url}; answers of {len(ANSWER)} chunks")

    worker = start_worker(env, concurrency=max(args.concurrent, 64))
    try:
        # 1. Throughput.
        post(job, user, 20)  # warm up
        started = time.monotonic()
        ids = post(job, user, args.messages)
        finished = wait_all(ids)
        rate = args.messages / (finished - started)
        print(f"throughput: {args.messages} messages in {finished - started:.2f} s = {rate:.0f} messages/s")

        # 2. Added latency, one message at a time.
        product, direct = [], []
        for _ in range(args.sequential):
            started = time.perf_counter()
            [message_id] = post(job, user, 1)
            while not ChatMessage.objects.filter(pk=message_id, status="success").exists():
                time.sleep(0.001)
            product.append(time.perf_counter() - started)
            direct.append(sdk_stream(server.url))
        p, d = percentiles(product), percentiles(direct)
        print(
            f"per answer: product {p['median'] * 1000:.1f} ms median ({p['p95'] * 1000:.1f} p95), "
            f"SDK alone {d['median'] * 1000:.1f} ms ({d['p95'] * 1000:.1f} p95): "
            f"the product adds {(p['median'] - d['median']) * 1000:.1f} ms"
        )

        # 3. Concurrency with two-second answers.
        server.default = Reply(chunks=ANSWER, chunk_delay=2.0 / len(ANSWER))
        server.reset()
        started = time.monotonic()
        ids = post(job, user, args.concurrent)
        finished = wait_all(ids)
        print(
            f"concurrency: {args.concurrent} two-second answers in {finished - started:.2f} s; "
            f"{server.max_in_flight} streamed at once by one worker process"
        )
    finally:
        stop(worker)
        server.stop()


if __name__ == "__main__":
    main()
