"""The process's background event loop, on a daemon thread of its own.

Model streams run on it: a worker thread hands its stream over and waits without
using the CPU, so one process holds hundreds of streams on one loop and one
connection pool instead of a thread each under the GIL. The Redis event log's writer
runs on it too, and so do the wake-ups of any channel layer but the in-memory one (which
only works on the ASGI server's loop).
The loop is made on first use in each process (a forked child makes its own) and uses
uvloop where it is installed.
"""

from __future__ import annotations

import asyncio
import os
import threading

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid: int | None = None


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover  (uvicorn[standard] brings it)
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def loop() -> asyncio.AbstractEventLoop:
    """This process's background loop, started on first use."""
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or _loop.is_closed():
            new = _new_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(new)
                new.call_soon(ready.set)
                new.run_forever()

            threading.Thread(target=run, name="assistant-loop", daemon=True).start()
            ready.wait(10)
            _loop, _pid = new, os.getpid()
        return _loop


def on_a_loop() -> bool:
    """Whether this thread is running an event loop (and so must not wait on one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
