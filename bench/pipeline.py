"""The assistant's message pipeline, measured end to end on the production deployment
(PostgreSQL, Redis, a Celery worker process), against a local OpenAI-compatible server.

    python bench/pipeline.py [--messages 300] [--sequential 40] [--concurrent 400]

1. Throughput: messages per second through the whole path (save, enqueue, worker,
   model stream, save) with a zero-latency model.
2. Added latency: time from saving a message to its saved reply, against the time the
   SDK alone takes to stream the same answer from the same server.
3. Concurrency: how many answers one worker process streams at once when each takes
   two seconds.

Each figure stands next to the same work done by the ``openai`` SDK alone reading the
same server from this process (the physical limit), in a table at the end.

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL; defaults: the local
services, database ``assistant_bench``, Redis db 14).
"""

from __future__ import annotations

import argparse
import os
import time

from _setup import cpu_seconds, environment, member_job, percentiles, setup_django, start_worker, stop

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


def post(job, user, n: int, *, threads: int = 1) -> list:
    """Ask ``n`` questions (a session each) through the services, from ``threads``
    threads of this process."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from projects import sessions

    def ask(i: int):
        try:
            return sessions.job_session_create(job=job, user=user, content=f"Question {i}").messages.get().pk
        finally:
            if threads > 1:
                connection.close()

    if threads == 1:
        return [ask(i) for i in range(n)]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(ask, range(n)))


def post_held(job, user, n: int) -> list:
    """Ask ``n`` questions, then hand them all to the worker at once: saved through the
    services with their hand-over held back, then enqueued in a burst, so the worker
    (not this process's saving) decides how many stream at once."""
    from unittest import mock

    from assistant import dispatch, services

    held = []
    real = dispatch.enqueue_message
    with mock.patch.object(services, "enqueue_message", lambda message_id, **kw: held.append(message_id)):
        ids = post(job, user, n, threads=4)
    for message_id in held:
        real(message_id)
    return ids


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


async def sdk_many(url: str, count: int, at_once: int) -> tuple[float, int]:
    """The physical limit: the async SDK alone streams ``count`` answers from the same
    server, ``at_once`` at a time, in this process. (seconds, answers complete)."""
    import asyncio

    import openai

    client = openai.AsyncOpenAI(api_key="k", base_url=url, max_retries=0, timeout=120)
    gate = asyncio.Semaphore(at_once)
    done = 0

    async def one() -> None:
        nonlocal done
        async with gate:
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "q"}], stream=True,
                stream_options={"include_usage": True},
            )  # fmt: skip
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].finish_reason:
                    done += 1

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--sequential", type=int, default=40)
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--threads", type=int, default=4, help="threads asking questions (part 1)")
    args = parser.parse_args()

    setup_django()
    from django.contrib.auth import get_user_model

    from assistant.models import ChatMessage
    from tests.llm_server import ModelServer, Reply

    user, _ = get_user_model().objects.get_or_create(username="bench")
    job = member_job(user)
    server = ModelServer(default=Reply(chunks=ANSWER), keep_alive=True).start()
    env = {**environment(), "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "k", "OPENAI_MODEL": "m"}
    print(f"model server {server.url}; answers of {len(ANSWER)} chunks")

    import asyncio

    worker = start_worker(env, concurrency=max(args.concurrent, 64))
    rows = []
    try:
        # 1. Throughput.
        post(job, user, 20)  # warm up
        started = time.monotonic()
        cpu = {"worker": cpu_seconds(worker.pid), "benchmark": cpu_seconds(os.getpid())}
        ids = post(job, user, args.messages, threads=args.threads)
        finished = wait_all(ids)
        rate = args.messages / (finished - started)
        used = {
            name: cpu_seconds(pid) - cpu[name]
            for name, pid in (("worker", worker.pid), ("benchmark", os.getpid()))
        }
        print(
            f"CPU per message: worker {used['worker'] / args.messages * 1000:.1f} ms "
            f"({used['worker'] / (finished - started):.0%} of a core), this process (asking, and the model "
            f"server) {used['benchmark'] / args.messages * 1000:.1f} ms"
        )
        sdk_seconds, _ = asyncio.run(sdk_many(server.url, args.messages, 64))
        sdk_rate = args.messages / sdk_seconds
        print(f"throughput: {args.messages} messages in {finished - started:.2f} s = {rate:.0f} messages/s")
        print(f"model server (keep-alive): {server.calls} requests on {server.connections} connections")
        rows.append(("messages/s end to end, zero-latency model", f"{rate:.0f}", f"{sdk_rate:.0f}"))

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
        added = (p["median"] - d["median"]) * 1000
        rows.append((
            "save to saved reply, median (p95)",
            f"{p['median'] * 1000:.1f} ms ({p['p95'] * 1000:.1f}): +{added:.1f} ms",
            f"{d['median'] * 1000:.1f} ms ({d['p95'] * 1000:.1f})",
        ))  # fmt: skip

        # 3. Concurrency with two-second answers.
        server.default = Reply(chunks=ANSWER, chunk_delay=2.0 / len(ANSWER))
        server.reset()
        ids = post_held(job, user, args.concurrent)
        started = time.monotonic()
        finished = wait_all(ids)
        product_at_once = server.max_in_flight
        print(
            f"concurrency: {args.concurrent} two-second answers in {finished - started:.2f} s; "
            f"{product_at_once} streamed at once by one worker process"
        )
        server.reset()
        sdk_seconds, sdk_done = asyncio.run(sdk_many(server.url, args.concurrent, args.concurrent))
        rows.append((
            f"two-second answers streamed at once, of {args.concurrent} (all done in)",
            f"{product_at_once} ({finished - started:.1f} s)",
            f"{server.max_in_flight} ({sdk_seconds:.1f} s, {sdk_done} complete)",
        ))  # fmt: skip
    finally:
        stop(worker)
        server.stop()
    print("\n| measure | product | SDK alone |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
