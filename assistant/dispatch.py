"""The one background runner: work goes to Celery with a broker, else to a thread pool
of this process (the embedded default), by the name of its Celery task.

The code that does the work registers what a task name runs in this process
(``runs_here``); the code that queues work names the task (``enqueue``) and imports
neither the task module nor the work."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections

from .conf import assistant_settings

logger = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def backoff(retries_done: int) -> float:
    """Seconds before the next try: exponential, capped, with full jitter on the upper half."""
    ceiling = min(assistant_settings.BACKOFF_MAX, assistant_settings.BACKOFF * 2**retries_done)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def reconnect_delay() -> float:
    """Seconds before a run whose database connection broke is tried again: about
    RECONNECT_DELAY, with jitter, so that runs cut off together do not return together."""
    return assistant_settings.RECONNECT_DELAY * random.uniform(0.5, 1.5)


#: Message ids the broker did not take during a ``tracking_unqueued`` block.
_unqueued: ContextVar[list[str] | None] = ContextVar("unqueued", default=None)


@contextlib.contextmanager
def tracking_unqueued() -> Iterator[list[str]]:
    """Collect the ids of the messages the broker refused inside the block (for the API
    to answer 503 while the messages stay saved)."""
    token = _unqueued.set([])
    try:
        yield _unqueued.get()
    finally:
        _unqueued.reset(token)


@dataclass(frozen=True)
class Outcome:
    """What one run of a task's work came to: its ``state`` (the work's own words, such
    as success, error, skipped, handled) and, to be run again, ``retry_in`` seconds."""

    state: str
    retry_in: float | None = None


#: What a task name runs when this process does the work (the embedded default).
_here: dict[str, Callable[..., Any]] = {}


def runs_here(task_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``step(*args, retries_done=n)``, which returns an outcome with
    ``retry_in`` and ``state`` (as the task does), as what the Celery task
    ``task_name`` runs in this process."""

    def register(step: Callable[..., Any]) -> Callable[..., Any]:
        _here[task_name] = step
        return step

    return register


def enqueue(task_name: str, *args: Any, countdown: float = 0, retries_done: int = 0, queue=None) -> None:
    """Run the task ``task_name`` with ``args``: sent to the broker (on ``queue``, if
    given), or run on this process's threads, retried as its outcomes ask. Raises the
    broker's error when it can't be reached."""
    if settings.TASKS_IN_PROCESS:
        try:
            submit(_run_here, task_name, args, countdown, retries_done)
        except RuntimeError:
            # The process is shutting down (a command finishing): run it here and now.
            _run_here(task_name, args, countdown, retries_done)
        return
    from .celery import app

    options = {"queue": queue} if queue else {}
    app.send_task(task_name, args=list(args), countdown=countdown or None, retries=retries_done, **options)


def _run_here(task_name: str, args: tuple, countdown: float, retries_done: int) -> None:
    step = _here[task_name]
    run_with_retries(
        lambda retries: step(*args, retries_done=retries), countdown=countdown, retries_done=retries_done
    )


PROCESS_MESSAGE = "assistant.tasks.process_message"


def enqueue_message(message_id, *, countdown: float = 0, retries_done: int = 0) -> bool:
    """Start processing ``message_id``. Call it after the commit that made it pending.
    False when the broker could not be reached: the message stays pending, marked for
    the sweeper to hand on as soon as the broker is back (nothing is lost)."""
    from kombu.exceptions import OperationalError

    try:
        enqueue(PROCESS_MESSAGE, str(message_id), countdown=countdown, retries_done=retries_done)
    except (OperationalError, OSError) as exc:
        logger.warning(
            "The broker did not take message %s (%s); the sweeper hands it on later", message_id, exc
        )
        _mark_unqueued(message_id)
        unqueued = _unqueued.get()
        if unqueued is not None:
            unqueued.append(str(message_id))
        return False
    return True


def _mark_unqueued(message_id) -> None:
    """Make the pending message due for the next sweep (its ``due_at`` is past the
    sweeper's PENDING_AFTER already), rather than a lost task's wait."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import ChatMessage

    due = timezone.now() - timedelta(seconds=assistant_settings.PENDING_AFTER + 1)
    try:
        ChatMessage.objects.filter(pk=message_id, status=ChatMessage.Status.PENDING).update(due_at=due)
    except Exception:  # noqa: BLE001  (the periodic sweep still finds it, later)
        logger.warning("Could not mark message %s for the sweeper", message_id, exc_info=True)


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=assistant_settings.IN_PROCESS_WORKERS, thread_name_prefix="assistant"
            )
        return _executor


#: Work given to ``submit`` that has not finished yet.
_submitted: set[Future] = set()


def submit(function: Callable[..., Any], /, *args: Any) -> Future:
    """Run ``function(*args)`` on this process's worker threads (the embedded default's
    stand-in for a Celery worker). A failure is logged; the thread's database
    connections are closed afterwards."""
    future = _pool().submit(_run_logged, function, args)
    with _executor_lock:
        _submitted.add(future)
    future.add_done_callback(_submitted.discard)
    return future


def wait_for_submitted(*, timeout: float) -> bool:
    """Wait until the work given to ``submit`` (and the work it submitted) is done, at
    most ``timeout`` seconds; True when it all finished. For a command that must not
    exit while its work runs."""
    deadline = time.monotonic() + timeout
    while True:
        with _executor_lock:
            pending = list(_submitted)
        remaining = deadline - time.monotonic()
        if not pending:
            return True
        if remaining <= 0:
            return False
        wait(pending, timeout=remaining)


def _run_logged(function: Callable[..., Any], args: tuple) -> Any:
    try:
        close_old_connections()
        return function(*args)
    except Exception:
        logger.exception("Background work %s%r failed", getattr(function, "__qualname__", function), args)
    finally:
        connections.close_all()


def run_with_retries(step: Callable[[int], Any], *, countdown: float, retries_done: int) -> None:
    """The in-process stand-in for a task that retries itself: after ``countdown``
    seconds run ``step(retries_done)``; while its outcome asks for a retry
    (``retry_in``), wait that long and run it again. An ``interrupted`` outcome (the
    database connection broke) is tried again without counting as a retry, at most
    MAX_RECONNECTS times in a row; then the sweeper takes over."""
    reconnects = 0
    while True:
        if countdown:
            time.sleep(countdown)
        close_old_connections()
        outcome = step(retries_done)
        if outcome.retry_in is None:
            return
        if outcome.state == "interrupted":
            reconnects += 1
            if reconnects > assistant_settings.MAX_RECONNECTS:
                return
        else:
            retries_done, reconnects = retries_done + 1, 0
        countdown = outcome.retry_in


#: Names of the loops ``run_periodically`` has started in this process.
_loops: set[str] = set()


def run_periodically(
    name: str, function: Callable[[], Any], *, every: Callable[[], float], first_after: float
) -> bool:
    """On the embedded default, call ``function()`` from a daemon thread of this
    process every ``every()`` seconds, the first time after ``first_after`` (Celery
    beat does such work otherwise). Starts once per name; False when it did not start
    (with a broker, or with ``settings.BACKGROUND_LOOPS`` off, as in the test process)."""
    with _executor_lock:
        if name in _loops or not (settings.TASKS_IN_PROCESS and settings.BACKGROUND_LOOPS):
            return False
        _loops.add(name)
    threading.Thread(
        target=_forever, args=(name, function, every, first_after), name=name, daemon=True
    ).start()
    return True


def _forever(name: str, function: Callable[[], Any], every: Callable[[], float], first_after: float) -> None:
    time.sleep(first_after)
    while True:
        try:
            close_old_connections()
            function()
        except Exception:
            logger.exception("%s failed", name)
        finally:
            connections.close_all()
        time.sleep(every())
