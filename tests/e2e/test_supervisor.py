"""The supervisor behind `manage.py serve`, on small shell programs and short delays."""

import io
import os
import re
import signal
import threading
import time

from assistant.supervisor import Supervisor
from tests.e2e.processes import alive, descendants, wait_for

FAST = {"first_delay": 0.05, "max_delay": 0.2, "stable_after": 10, "grace": 2, "tick": 0.01}


def supervise(commands, until, *, then=None, **options) -> tuple[int, str, float]:
    """Run a Supervisor over ``commands`` in this (the main) thread until ``until(output)``
    holds, then ``then(supervisor, output)`` (by default: stop it). Its exit code, its
    output and how long it ran."""
    output = io.StringIO()
    supervisor = Supervisor(commands, output=output, **{**FAST, **options})

    def watch():
        assert wait_for(lambda: until(output.getvalue()), timeout=20, interval=0.01)
        (then or (lambda s, out: s.stop()))(supervisor, output.getvalue())

    threading.Thread(target=watch, daemon=True).start()
    began = time.monotonic()
    code = supervisor.run()
    return code, output.getvalue(), time.monotonic() - began


def pids_of(name: str, output: str) -> list[int]:
    return [int(pid) for pid in re.findall(rf"\| started {name} \(pid (\d+)\)$", output, re.MULTILINE)]


def test_a_crashing_program_backs_off_doubling_to_the_maximum_and_resets_after_it_stayed_up(tmp_path):
    # Runs 1-4 and 6 exit at once; run 5 stays up longer than stable_after.
    crashy = (
        'n=$(( $(cat runs 2>/dev/null || echo 0) + 1 )); echo $n > runs; echo "run $n"; '
        '[ "$n" -eq 5 ] && sleep 0.5; exit 3'
    )
    code, out, ran = supervise(
        {"crashy": ["sh", "-c", f"cd {tmp_path} && {crashy}"], "steady": ["sleep", "30"]},
        until=lambda out: out.count(") exited with code 3") >= 6,
        stable_after=0.4,
    )
    delays = re.findall(
        r"^\d\d:\d\d:\d\d system \| crashy \(pid \d+\) exited with code 3 after [\d.]+ s; "
        r"restarting it in ([\d.]+) s, at \d\d:\d\d:\d\d$",
        out,
        re.MULTILINE,
    )
    assert delays[:6] == ["0.05", "0.1", "0.2", "0.2", "0.05", "0.1"], out
    assert ran >= 0.05 + 0.1 + 0.2 + 0.2 + 0.5 + 0.05  # the waits were waited
    assert re.search(r"^\d\d:\d\d:\d\d crashy \| run 1$", out, re.MULTILINE), out
    assert code == 0
    # The other program ran on, one process from start to stop.
    [steady] = pids_of("steady", out)
    assert f"steady (pid {steady}) stopped on SIGTERM" in out
    assert not alive(steady)


def test_what_a_dead_program_left_in_its_group_is_killed_before_it_restarts():
    code, out, _ = supervise(
        {"leaky": ["sh", "-c", 'sleep 30 & echo "left $!"; exit 1']},
        until=lambda out: out.count(") exited with code 1") >= 2,
    )
    left = [int(pid) for pid in re.findall(r"left (\d+)", out)]
    assert code == 0 and len(left) >= 2 and not any(alive(pid) for pid in left), out


def test_stopping_ends_each_program_and_its_children_and_kills_one_that_ignores_sigterm():
    children = {}

    def record_then_stop(supervisor, out):
        for name in ("parent", "stubborn"):
            [pid] = pids_of(name, out)
            children[name] = {pid} | descendants(pid)
        supervisor.stop()

    code, out, _ = supervise(
        {
            "parent": ["sh", "-c", "sleep 30 & sleep 30 & echo up; wait"],
            "stubborn": ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"],
        },
        until=lambda out: out.count(" | up") == 2,
        then=record_then_stop,
        grace=0.3,
    )
    assert code == 0
    assert len(children["parent"]) == 3, out  # sh and its two sleeps
    assert re.search(r"stubborn \(pid \d+\) still running after 0.3 s: killing it", out), out
    assert re.search(r"stubborn \(pid \d+\) stopped: it was killed by SIGKILL", out), out
    assert not [pid for pids in children.values() for pid in pids if alive(pid)], out


def test_ctrl_c_stops_and_a_second_ctrl_c_kills_at_once():
    def press_ctrl_c_twice(supervisor, out):
        os.kill(os.getpid(), signal.SIGINT)
        assert wait_for(lambda: "SIGINT received: stopping stubborn" in supervisor.printer.output.getvalue())
        os.kill(os.getpid(), signal.SIGINT)

    handler = signal.getsignal(signal.SIGINT)
    code, out, ran = supervise(
        {"stubborn": ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.1; done"]},
        until=lambda out: " | up" in out,
        then=press_ctrl_c_twice,
        grace=30,
    )
    assert code == 0 and ran < 10, out
    assert "stubborn (pid" in out and "still running after a second stop request: killing it" in out
    assert not alive(pids_of("stubborn", out)[0])
    assert signal.getsignal(signal.SIGINT) is handler  # given back when it returns


def test_a_command_that_cannot_start_is_retried_with_the_same_backoff():
    _, out, _ = supervise(
        {"ghost": ["/nonexistent/ghost"]}, until=lambda out: out.count("could not start ghost") >= 3
    )
    assert re.findall(r"could not start ghost: .+; restarting it in ([\d.]+) s", out)[:3] == [
        "0.05",
        "0.1",
        "0.2",
    ], out
