"""The run_command agent: only the operator's allowed commands, no shell, output streamed
into the task's log line by line, and a time limit."""

import sys
import time

import pytest

from agents.models import WorkerTask
from events.models import Event as EventRow
from events.services import event_route

pytestmark = pytest.mark.django_db
PY = sys.executable


@pytest.fixture
def commands(settings):
    settings.AGENTS = {
        "COMMANDS": {
            "count": {"argv": [PY, "-c", "print('one'); print('two', flush=True); print('three')"]},
            "echo": {"argv": [PY, "-c", "import sys; print(' | '.join(sys.argv[1:]))"], "args": True},
            "fails": {"argv": [PY, "-c", "print('about to fail'); raise SystemExit(3)"]},
            "hangs": {"argv": [PY, "-c", "import time; print('started', flush=True); time.sleep(60)"],
                      "timeout": 0.5},
        }
    }  # fmt: skip


def body(**metadata) -> dict:
    return {"timestamp": "2025-01-31T12:00:00Z", "source": "tests", "type": "worker.task", "userID": "alice",
            "metadata": {"agent": "run_command", **metadata}}  # fmt: skip


def lines_of(task) -> list[str]:
    return list(task.log_lines.order_by("seq").values_list("text", flat=True))


def run(post_task, **input):  # noqa: A002
    row = post_task("run_command", input)
    event_route(event_id=row.pk)
    return WorkerTask.objects.get(pk=row.pk)


def test_an_allowed_command_streams_its_output_into_the_log(post_task, commands):
    task = run(post_task, command="count")
    assert task.status == "succeeded", task.error
    assert lines_of(task)[1:] == ["one", "two", "three"]
    assert lines_of(task)[0].startswith(f"$ {PY} -c ")
    assert task.result == {"command": "count", "exit_code": 0, "lines": 3}


def test_arguments_pass_without_a_shell(post_task, commands, tmp_path):
    marker = tmp_path / "pwned"
    task = run(post_task, command="echo", args=["a b", f"; touch {marker}", "$(id)"])
    assert task.status == "succeeded"
    assert lines_of(task)[-1] == f"a b | ; touch {marker} | $(id)"
    assert not marker.exists()


@pytest.mark.parametrize(
    "metadata, field",
    [
        ({"input": {"command": "rm"}}, "metadata.input.command"),
        ({"input": {"command": "count", "args": ["-rf"]}}, "metadata.input.args"),
        ({"input": {"command": "echo", "args": "not a list"}}, "metadata.input.args"),
        ({"input": {"command": "count", "shell": True}}, "metadata.input.shell"),
        ({"input": {}}, "metadata.input.command"),
    ],
)
def test_a_command_outside_the_list_is_refused_before_anything_runs(
    auth_client, routed, commands, metadata, field
):
    response = auth_client.post("/api/events", body(**metadata), format="json")
    assert response.status_code == 400
    assert list(response.json()["detail"]) == [field]
    assert not EventRow.objects.exists() and not WorkerTask.objects.exists() and routed == []


def test_with_no_commands_configured_nothing_runs(auth_client, routed):
    response = auth_client.post("/api/events", body(input={"command": "count"}), format="json")
    assert response.status_code == 400
    assert "none are configured" in response.json()["detail"]["metadata.input.command"][0]


def test_a_failing_command_fails_the_task_with_its_output_kept(post_task, commands):
    task = run(post_task, command="fails")
    assert (task.status, task.error) == ("failed", "fails exited with code 3.")
    assert "about to fail" in lines_of(task)


def test_a_command_over_its_time_limit_is_stopped(post_task, commands):
    started = time.monotonic()
    task = run(post_task, command="hangs")
    assert time.monotonic() - started < 10
    assert (task.status, task.error) == ("failed", "hangs ran longer than 0.5 s and was stopped.")
    assert "started" in lines_of(task)
