"""Streamed answers as a websocket client sees them, through the whole production
deployment: PostgreSQL, Redis, one Celery worker process and one ASGI server process
(the web process ``manage.py serve`` runs: uvicorn), against a local OpenAI-compatible
server whose every chunk carries the time it was sent (``t=<perf_counter_ns>;``, one
clock: the server runs in this process).

    python bench/stream.py [--messages 30] [--chunks 50] [--chunk-delay 0.02]
                           [--connections 100,500,1000] [--sessions 20] [--load-chunk-delay 0.1]

1. Latency, one message at a time: time to first token (from the POST of the message
   to the first ``token`` frame on the session's websocket) and the latency each token
   gains on its way (arrival at the client minus the model server's send time), next
   to the same figures for the ``openai`` SDK reading the same server directly.
2. Concurrent streaming websockets on one ASGI process: N websockets over ``--sessions``
   sessions (N / sessions sockets watch each session, as tabs or watchers of a public
   session do), whose answers all stream at once, so every socket streams. Checks that
   every socket got its whole answer, each event once and in order, and reads the ASGI
   process's resident memory (``/proc/<pid>/status``) before and after the sockets are
   open, and the CPU each process used while they streamed.

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL; defaults: the local
services, database ``assistant_bench``, Redis db 14).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from _setup import ROOT, cpu_seconds, environment, member_job, percentiles, setup_django, start_worker, stop

WEB_LOG = Path(os.environ.get("BENCH_WEB_LOG", "/tmp/assistant-bench-web.log"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
STAMP = re.compile(r"t=(\d+);")


class StampedChunks:
    """A model answer of ``count`` chunks, each made as it is sent: ``t=<perf_counter_ns>;``."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __iter__(self):
        for _ in range(self.count):
            yield f"t={time.perf_counter_ns()};"


def lag_ms(delta: str, arrived_ns: int) -> float:
    return (arrived_ns - int(STAMP.match(delta).group(1))) / 1e6


# --- Processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(env: dict[str, str], port: int) -> subprocess.Popen:
    """The ASGI server exactly as ``manage.py serve`` starts its web process."""
    import httpx

    from assistant.management.commands.serve import Command

    command = Command().processes("127.0.0.1", port)["web"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=WEB_LOG.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the ASGI server exited: {WEB_LOG.read_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/health/", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(process)
    raise RuntimeError("the ASGI server did not answer")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idle and iowait."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


class CpuMeter:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.machine = machine_busy_seconds()
        self.cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def report(self) -> str:
        wall = time.monotonic() - self.started
        used = {name: (cpu_seconds(pid) - self.cpu[name]) / wall for name, pid in self.pids.items()}
        parts = [f"{name} {share:.0%}" for name, share in used.items()]
        machine = (machine_busy_seconds() - self.machine) / wall
        return f"CPU (of one core) {', '.join(parts)}; whole machine {machine:.0%} of {os.cpu_count()} cores"


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))  # children inherit it


# --- Rows -----------------------------------------------------------------------------


def make_user_and_job(name: str):
    from django.contrib.auth import get_user_model

    from accounts.services import tokens_for_user

    user, _ = get_user_model().objects.get_or_create(username=name)
    return user, member_job(user), tokens_for_user(user)["token"]


def make_sessions(user, job, count: int) -> list[str]:
    """Sessions without a message yet, straight through the ORM."""
    from assistant.models import ChatSession
    from tests.factories import about

    made = [
        ChatSession.objects.create(mode="job_code", user=user, title=f"S{i}", **about(job))
        for i in range(count)
    ]
    return [str(session.pk) for session in made]


# --- 1. Latency -----------------------------------------------------------------------


def sdk_stream(client) -> tuple[float, list[float]]:
    """(time to first chunk, lag of every chunk) in ms, reading the model server directly."""
    started = time.perf_counter_ns()
    first, lags = None, []
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "q"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    for chunk in stream:
        now = time.perf_counter_ns()
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or now
            lags.append(lag_ms(chunk.choices[0].delta.content, now))
    return (first - started) / 1e6, lags


async def latency(base: str, ws_base: str, token: str, session_id: str, model_url: str, args) -> None:
    import httpx
    import openai
    import websockets

    sdk = openai.OpenAI(api_key="k", base_url=model_url, max_retries=0)
    frames: asyncio.Queue = asyncio.Queue()

    async def read(ws) -> None:
        async for raw in ws:
            await frames.put((time.perf_counter_ns(), json.loads(raw)))

    product_first, product_lag, direct_first, direct_lag, post_times = [], [], [], [], []
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http,
        websockets.connect(f"{ws_base}/ws/sessions/{session_id}/?token={token}") as ws,
    ):
        await ws.send(json.dumps({"action": "resume", "after": 0}))
        reader = asyncio.create_task(read(ws))
        try:
            for i in range(args.warmup + args.messages):
                posted = time.perf_counter_ns()
                response = await http.post(f"/api/sessions/{session_id}/messages/", json={"content": f"Q{i}"})
                if response.status_code != 202:
                    raise RuntimeError(f"POST answered {response.status_code}: {response.text}")
                answered = (time.perf_counter_ns() - posted) / 1e6
                message_id = response.json()["id"]
                first, lags, text = None, [], ""
                while True:
                    arrived, event = await asyncio.wait_for(frames.get(), 30)
                    if event["type"] == "token" and event["message_id"] == message_id:
                        first = first or arrived
                        lags.append(lag_ms(event["delta"], arrived))
                        text += event["delta"]
                    elif event["type"] == "message.completed" and event["reply_to"] == message_id:
                        if text != event["message"]["content"] or len(lags) != args.chunks:
                            raise RuntimeError(f"message {i}: {len(lags)} of {args.chunks} tokens")
                        break
                    elif event["type"] == "message.error":
                        raise RuntimeError(f"message {i} failed: {event}")
                direct = await asyncio.to_thread(sdk_stream, sdk)
                if i >= args.warmup:
                    product_first.append((first - posted) / 1e6)
                    post_times.append(answered)
                    product_lag += lags
                    direct_first.append(direct[0])
                    direct_lag += direct[1]
        finally:
            reader.cancel()

    pf, pl = percentiles(product_first), percentiles(product_lag)
    df, dl = percentiles(direct_first), percentiles(direct_lag)
    print(
        f"time to first token: websocket {pf['median']:.1f} ms median ({pf['p95']:.1f} p95), "
        f"SDK alone {df['median']:.1f} ms ({df['p95']:.1f} p95); the POST itself is answered in "
        f"{percentiles(post_times)['median']:.1f} ms median"
    )
    print(
        f"per-token latency (arrival minus the model server's send time, {len(product_lag)} tokens): "
        f"websocket {pl['median']:.2f} ms median ({pl['p95']:.2f} p95, {max(product_lag):.1f} max), "
        f"SDK alone {dl['median']:.2f} ms ({dl['p95']:.2f} p95): the product adds "
        f"{pl['median'] - dl['median']:.2f} ms median, {pl['p95'] - dl['p95']:.2f} ms p95"
    )
    return [
        (
            "time to first token (POST to first websocket token), median",
            f"{pf['median']:.1f} ms: +{pf['median'] - df['median']:.1f} ms",
            f"{df['median']:.1f} ms",
        ),
        (
            "latency each token gains, median (p95)",
            f"{pl['median']:.2f} ms ({pl['p95']:.2f}): +{pl['median'] - dl['median']:.2f} ms",
            f"{dl['median']:.2f} ms ({dl['p95']:.2f})",
        ),
    ]


async def sdk_at_once(model_url: str, count: int) -> tuple[dict, dict]:
    """First token and per-token lag when the async SDK alone reads ``count`` answers
    at once from the model server (ms percentiles)."""
    import openai

    client = openai.AsyncOpenAI(api_key="k", base_url=model_url, max_retries=0, timeout=120)
    firsts, lags = [], []

    async def one() -> None:
        started, first = time.perf_counter_ns(), None
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "q"}], stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        async for chunk in stream:
            now = time.perf_counter_ns()
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or now
                lags.append(lag_ms(chunk.choices[0].delta.content, now))
        firsts.append((first - started) / 1e6)

    await asyncio.gather(*(one() for _ in range(count)))
    await client.close()
    return percentiles(firsts), percentiles(lags)


# --- 2. Concurrent websockets ---------------------------------------------------------


@dataclass
class Watcher:
    session_id: str
    ws: object = None
    first: int | None = None
    lags: list[float] = field(default_factory=list)
    text: str = ""
    seqs: list[int] = field(default_factory=list)
    completed: str | None = None
    failure: str = ""

    def whole(self, chunks: int) -> bool:
        return self.completed == self.text and len(self.lags) == chunks

    def in_order(self) -> bool:
        return self.seqs == list(range(1, len(self.seqs) + 1))


def missed_events(watchers: list[Watcher]) -> dict[str, int]:
    """How many sockets missed each kind of event (by its place in the session's log)."""
    from assistant import realtime

    logs: dict[str, dict[int, str]] = {}
    missed: dict[str, int] = {}
    for w in watchers:
        if w.in_order() or not w.seqs:
            continue
        if w.session_id not in logs:
            logs[w.session_id] = {e["seq"]: e["type"] for e in realtime.event_log().read(w.session_id)}
        seen = set(w.seqs)
        for seq in range(1, max(seen) + 1):
            if seq not in seen:
                name = f"seq {seq} {logs[w.session_id].get(seq, '?')}"
                missed[name] = missed.get(name, 0) + 1
        if len(seen) != len(w.seqs) or sorted(w.seqs) != w.seqs:
            missed["duplicated or out of order"] = missed.get("duplicated or out of order", 0) + 1
    return missed


async def watch(watcher: Watcher, deadline: float) -> None:
    try:
        while True:
            raw = await asyncio.wait_for(watcher.ws.recv(), max(0.1, deadline - time.monotonic()))
            arrived = time.perf_counter_ns()
            event = json.loads(raw)
            watcher.seqs.append(event["seq"])
            if event["type"] == "token":
                watcher.first = watcher.first or arrived
                watcher.lags.append(lag_ms(event["delta"], arrived))
                watcher.text += event["delta"]
            elif event["type"] == "message.completed":
                watcher.completed = event["message"]["content"]
                return
            elif event["type"] == "message.error":
                watcher.failure = event["error"]
                return
    except TimeoutError:
        watcher.failure = "timed out"
    except Exception as exc:  # noqa: BLE001  (counted and reported, the run goes on)
        watcher.failure = repr(exc)


async def concurrent(base, ws_base, token, user, job, count, pids, args) -> None:
    import httpx
    import websockets

    sessions = await asyncio.to_thread(make_sessions, user, job, min(args.sessions, count))
    watchers = [Watcher(sessions[i % len(sessions)]) for i in range(count)]
    gate = asyncio.Semaphore(100)  # handshakes in flight at once

    async def open_one(watcher: Watcher) -> None:
        async with gate:
            url = f"{ws_base}/ws/sessions/{watcher.session_id}/?token={token}"
            watcher.ws = await websockets.connect(url, open_timeout=60, ping_interval=None, max_queue=None)
            await watcher.ws.send(json.dumps({"action": "resume", "after": 0}))

    web = pids["ASGI"]
    before = rss_mib(web)
    started = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*(open_one(w) for w in watchers)), 120)
        opened = time.monotonic() - started
        await asyncio.sleep(1)
        idle = rss_mib(web)

        meter = CpuMeter(pids)
        answer_s = args.chunks * args.load_chunk_delay
        deadline = time.monotonic() + 60 + 4 * answer_s
        readers = [asyncio.create_task(watch(w, deadline)) for w in watchers]
        posted: dict[str, int] = {}
        answered: list[float] = []
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:

            async def post(session_id: str) -> None:
                posted[session_id] = time.perf_counter_ns()
                response = await http.post(f"/api/sessions/{session_id}/messages/", json={"content": "Q"})
                answered.append((time.perf_counter_ns() - posted[session_id]) / 1e6)
                if response.status_code != 202:
                    raise RuntimeError(f"POST answered {response.status_code}: {response.text}")

            await asyncio.gather(*(post(s) for s in sessions))
        await asyncio.gather(*readers)
        streamed = time.monotonic() - meter.started
        cpu = meter.report()
        streaming = rss_mib(web)
    finally:
        await asyncio.gather(*(w.ws.close() for w in watchers if w.ws is not None), return_exceptions=True)
    await asyncio.sleep(2)
    closed = rss_mib(web)

    whole = sum(w.whole(args.chunks) for w in watchers)
    in_order = sum(w.in_order() for w in watchers)
    failures: dict[str, int] = {}
    for w in watchers:
        if not w.whole(args.chunks):
            reason = w.failure or f"{len(w.lags)} of {args.chunks} tokens"
            failures[reason] = failures.get(reason, 0) + 1
    missed = await asyncio.to_thread(missed_events, watchers)
    firsts = [(w.first - posted[w.session_id]) / 1e6 for w in watchers if w.first]
    lags = [lag for w in watchers for lag in w.lags]
    f, lag = percentiles(firsts or [0.0]), percentiles(lags or [0.0])
    frames = len(lags) / streamed
    print(
        f"{count} websockets ({count // len(sessions)} per session, {len(sessions)} answers at once, "
        f"{args.chunks} chunks every {args.load_chunk_delay * 1000:.0f} ms): opened in {opened:.1f} s; "
        f"{whole}/{count} got the whole answer"
        + (f" (others: {failures})" if failures else "")
        + f"; {in_order}/{count} saw every event once and in order"
        + (f" (missed: {missed})" if missed else "")
    )
    print(
        f"  ASGI resident memory {before:.1f} MiB -> {idle:.1f} MiB open "
        f"({(idle - before) * 1024 / count:.1f} KiB per connection) -> {streaming:.1f} MiB after streaming "
        f"-> {closed:.1f} MiB closed"
    )
    print(
        f"  streamed in {streamed:.1f} s ({answer_s:.1f} s of model time), {frames:.0f} token frames/s; "
        f"{len(sessions)} POSTs answered in {max(answered):.0f} ms (slowest); "
        f"first token {f['median']:.0f} ms median ({f['p95']:.0f} p95); per-token latency "
        f"{lag['median']:.1f} ms median ({lag['p95']:.1f} p95, {max(lags or [0]):.0f} max)"
    )
    print(f"  {cpu}")
    return {
        "count": count,
        "first": f,
        "lag": lag,
        "kib": (idle - before) * 1024 / count,
        "whole": whole,
        "answers": len(sessions),
    }


# --- Main -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=30, help="sequential messages measured")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=50, help="chunks in every answer")
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between chunks (part 1)")
    parser.add_argument("--connections", default="100,500,1000", help="websocket counts, comma-separated")
    parser.add_argument("--sessions", type=int, default=20, help="answers streaming at once (part 2)")
    parser.add_argument("--load-chunk-delay", type=float, default=0.1, help="seconds between chunks (part 2)")
    args = parser.parse_args()
    counts = [int(n) for n in args.connections.split(",") if n.strip()]
    raise_fd_limit(4 * max(counts, default=0) + 1024)

    setup_django()
    from tests.llm_server import ModelServer, Reply

    user, job, token = make_user_and_job("bench-stream")
    [session_id] = make_sessions(user, job, 1)
    answer = Reply(chunks=StampedChunks(args.chunks), chunk_delay=args.chunk_delay)
    server = ModelServer(default=answer, keep_alive=True).start()
    env = {**environment(), "OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "k", "OPENAI_MODEL": "m"}
    port = free_port()
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    print(f"model server {server.url}; load average {Path('/proc/loadavg').read_text().split()[:3]}")

    worker = web = None
    rows, runs = [], []
    try:
        worker = start_worker(env, concurrency=max(2 * args.sessions, 20))
        web = start_web(env, port)
        pids = {"ASGI": web.pid, "worker": worker.pid, "benchmark": os.getpid()}
        print(
            f"1. one session, {args.messages} messages after {args.warmup} warm-up, answers of "
            f"{args.chunks} chunks every {args.chunk_delay * 1000:.0f} ms"
        )
        rows = asyncio.run(latency(base, ws_base, token, session_id, server.url, args))

        server.default = Reply(chunks=StampedChunks(args.chunks), chunk_delay=args.load_chunk_delay)
        print("2. concurrent streaming websockets on one ASGI process")
        for count in counts:
            runs.append(asyncio.run(concurrent(base, ws_base, token, user, job, count, pids, args)))
        sdk_first, sdk_lag = asyncio.run(sdk_at_once(server.url, args.sessions))
    finally:
        for process in (web, worker):
            if process is not None:
                stop(process)
        server.stop()
    if runs:
        first = runs[0]
        rows.append((
            f"first token with {first['answers']} questions posted at once, median (p95)",
            f"{first['first']['median']:.0f} ms ({first['first']['p95']:.0f})",
            f"{sdk_first['median']:.0f} ms ({sdk_first['p95']:.0f})",
        ))  # fmt: skip
    for run in runs:
        rows.append((
            f"{run['count']} sockets on one ASGI process: whole answers; per-token latency p95",
            f"{run['whole']} of {run['count']}; {run['lag']['p95']:.0f} ms",
            f"{sdk_lag['p95']:.1f} ms ({args.sessions} streams read at once)",
        ))  # fmt: skip
    if runs:
        rows.append(("memory per open socket", f"{runs[0]['kib']:.0f} KiB", ""))
    print("\n| measure | product | SDK alone |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
