"""assistant.dispatch.run_periodically: the embedded default's background loops."""

import threading

from assistant import dispatch


def test_a_loop_runs_its_function_repeatedly_and_starts_once_per_name(settings):
    settings.TASKS_IN_PROCESS, settings.BACKGROUND_LOOPS = True, True
    calls, done = [], threading.Event()

    def tick():
        calls.append(1)
        if len(calls) == 3:
            done.set()
        if len(calls) == 2:
            raise RuntimeError("a failure does not stop the loop")

    def every() -> float:
        return 3600 if done.is_set() else 0.01  # then idle for the rest of the run

    assert dispatch.run_periodically("test-loop", tick, every=every, first_after=0)
    assert not dispatch.run_periodically("test-loop", tick, every=every, first_after=0)
    assert done.wait(5)


def test_no_loop_with_a_broker_or_in_the_test_process(settings):
    settings.TASKS_IN_PROCESS, settings.BACKGROUND_LOOPS = False, True
    assert not dispatch.run_periodically("test-broker", lambda: None, every=lambda: 1, first_after=0)
    settings.TASKS_IN_PROCESS, settings.BACKGROUND_LOOPS = True, False
    assert not dispatch.run_periodically("test-off", lambda: None, every=lambda: 1, first_after=0)
