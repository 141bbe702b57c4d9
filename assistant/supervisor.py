"""Run the served product's processes and keep them running (``manage.py serve``).

The supervisor starts each command (the web server; with a broker, a Celery worker and
Celery beat too) in a process group of its own and prints every line they write as
``12:00:05 worker | text``, with its own lines under ``system``:

- **A process that dies is started again**, whatever its exit code, while the others
  go on serving. The line ``worker (pid 4242) was killed by SIGKILL after 63.0 s;
  restarting it in 1 s, at 12:01:09`` says which, why and when. First, whatever the dead
  process left in its group is killed: a child that outlived it would hold the port or
  the queue it served.
- **One that keeps dying backs off**: it waits 1 s before its first restart, twice as
  long before each next one, at most 30 s; after it stayed up a minute, its next
  restart waits 1 s again.
- **Ctrl-C, SIGTERM or SIGHUP stops everything**: each process gets SIGTERM (uvicorn and
  Celery then stop their own children), has ten seconds to exit, and then its whole
  group is killed. A second Ctrl-C kills them at once.

Why not a library: honcho's Manager, used here before, stops every process when one
exits (Foreman's model, by design). supervisord restarts, but it is a daemon driven by a
config file and writes each program's output unprefixed; it restarts a process that
dies after its ``startsecs`` at once, however often, and gives up on one that dies
sooner after ``startretries`` tries. circus needs ZeroMQ and retries after a fixed
delay. Restarting with a doubling delay, stopping each tree and prefixing lines takes
the page of ``subprocess`` code below. POSIX only (process groups and signals), as is
``make run``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TextIO

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
COLOURS = ("36", "33", "32", "35", "34", "31")  # cyan, yellow, green, magenta, blue, red
OWN_NAME = "system"


class Printer:
    """Writes ``HH:MM:SS name | text`` lines, names padded to one width, the prefix in
    colour on a terminal. Safe to call from several threads."""

    def __init__(self, names: list[str], output: TextIO) -> None:
        self.width = max(len(name) for name in names)
        self.output = output
        self.colour = hasattr(output, "isatty") and output.isatty()
        self._lock = threading.Lock()

    def line(self, name: str, text: str, colour: str = "") -> None:
        prefix = f"{time.strftime('%H:%M:%S')} {name.ljust(self.width)} | "
        if self.colour and colour:
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self._lock:
            self.output.write(prefix + text + "\n")
            self.output.flush()


class Program:
    """One command kept running, and what the supervisor knows of its current process."""

    def __init__(self, name: str, argv: list[str], colour: str, delay: float) -> None:
        self.name, self.argv, self.colour = name, argv, colour
        self.process: subprocess.Popen | None = None
        self.relay: threading.Thread | None = None
        self.started_at = 0.0
        self.start_at = 0.0  # monotonic time of its next start, while it is not running
        self.delay = delay  # the wait before its next restart


def describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def stopped(returncode: int) -> str:
    if returncode == 0:
        return "stopped"
    if returncode == -signal.SIGTERM:
        return "stopped on SIGTERM"
    return f"stopped: it {describe(returncode)}"


class Supervisor:
    def __init__(
        self,
        commands: dict[str, list[str]],
        *,
        output: TextIO | None = None,
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
        grace: float = 10.0,
        tick: float = 0.1,
    ) -> None:
        self.programs = [
            Program(name, argv, COLOURS[i % len(COLOURS)], first_delay)
            for i, (name, argv) in enumerate(commands.items())
        ]
        self.printer = Printer([*commands, OWN_NAME], output or sys.stdout)
        self.first_delay, self.max_delay, self.stable_after = first_delay, max_delay, stable_after
        self.grace, self.tick = grace, tick
        # Set by the signal handler (and stop()); plain attributes, read by the loop: a
        # handler must not take a lock the interrupted main thread may hold.
        self.stop_requested: str | None = None
        self.kill_now = False

    def say(self, text: str) -> None:
        self.printer.line(OWN_NAME, text)

    def stop(self, reason: str = "stop requested") -> None:
        """Stop every process and return from ``run()``; a second call stops them at once."""
        if self.stop_requested:
            self.kill_now = True
        self.stop_requested = reason

    def _on_signal(self, signum, frame) -> None:
        self.stop(f"{signal.Signals(signum).name} received")

    def run(self) -> int:
        """Start the programs and keep them running until a stop signal; then stop them."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            while not self.stop_requested:
                now = time.monotonic()
                for program in self.programs:
                    if program.process is None:
                        if now >= program.start_at:
                            self._start(program)
                    elif program.process.poll() is not None:
                        self._exited(program, now)
                time.sleep(self.tick)
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _start(self, program: Program) -> None:
        try:
            process = subprocess.Popen(
                program.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,  # its own group: Ctrl-C reaches the supervisor alone
                env={**os.environ, "PYTHONUNBUFFERED": "1"},  # lines as they are written
            )
        except OSError as error:
            self.say(f"could not start {program.name}: {error}; {self._schedule(program, 0.0)}")
            return
        program.process, program.started_at = process, time.monotonic()
        program.relay = threading.Thread(
            target=self._relay, args=(program.name, program.colour, process.stdout), daemon=True
        )
        self.say(f"started {program.name} (pid {process.pid})")  # before any line of its own
        program.relay.start()

    def _relay(self, name: str, colour: str, stream) -> None:
        with stream:
            for raw in stream:
                self.printer.line(name, raw.decode(errors="replace").rstrip("\r\n"), colour)

    def _exited(self, program: Program, now: float) -> None:
        process = program.process
        self._end(program)
        uptime = now - program.started_at
        self.say(
            f"{program.name} (pid {process.pid}) {describe(process.returncode)} after {uptime:.1f} s; "
            + self._schedule(program, uptime)
        )

    def _schedule(self, program: Program, uptime: float) -> str:
        if uptime >= self.stable_after:
            program.delay = self.first_delay
        delay, program.delay = program.delay, min(program.delay * 2, self.max_delay)
        program.start_at = time.monotonic() + delay
        at = time.strftime("%H:%M:%S", time.localtime(time.time() + delay))
        return f"restarting it in {delay:g} s, at {at}"

    def _end(self, program: Program) -> None:
        """Kill what is left of the program's process group, collect it, flush its output."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(program.process.pid, signal.SIGKILL)
        program.process.wait()
        program.relay.join(timeout=1)
        program.process = program.relay = None

    def _stop_all(self) -> None:
        running = [program for program in self.programs if program.process is not None]
        if not running:
            return
        names = ", ".join(program.name for program in running)
        self.say(f"{self.stop_requested}: stopping {names}" if self.stop_requested else f"stopping {names}")
        for program in running:
            program.process.terminate()  # the leader only: it stops its own children
        deadline = time.monotonic() + self.grace
        while not self.kill_now and time.monotonic() < deadline:
            if all(program.process.poll() is not None for program in running):
                break
            time.sleep(min(self.tick, 0.05))
        for program in running:
            process = program.process
            if process.poll() is None:
                why = "a second stop request" if self.kill_now else f"{self.grace:g} s"
                self.say(f"{program.name} (pid {process.pid}) still running after {why}: killing it")
            self._end(program)
            self.say(f"{program.name} (pid {process.pid}) {stopped(process.returncode)}")
