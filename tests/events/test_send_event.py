"""manage.py send_event."""

import json

import pytest
from django.core.management import CommandError, call_command

from events.models import Event as EventRow

pytestmark = pytest.mark.django_db


def send(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("send_event", *args, stdout=out)
    return out.getvalue().strip()


def test_an_event_from_options(user, routed):
    event_id = send("--type", "user.message", "--user", "alice", "--metadata", '{"text": "hi"}')
    row = EventRow.objects.get()
    assert event_id == str(row.pk)
    assert (row.type, row.source, row.user, row.metadata, row.status) == (
        "user.message", "cli", user, {"text": "hi"}, "queued"
    )  # fmt: skip


def test_an_event_from_a_file_with_options_overriding_it(user, tmp_path, routed):
    path = tmp_path / "event.json"
    path.write_text(json.dumps({
        "timestamp": "2025-01-31T12:00:00Z", "source": "file", "type": "llm.chat", "userID": "alice",
        "metadata": {"messages": [{"role": "user", "content": "Hi"}]},
    }))  # fmt: skip
    event_id = send("--file", str(path), "--source", "override")
    row = EventRow.objects.get(pk=event_id)
    assert (row.type, row.source, row.metadata["messages"][0]["content"]) == ("llm.chat", "override", "Hi")
    assert row.timestamp.isoformat() == "2025-01-31T12:00:00+00:00"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--type", "user.message", "--user", "alice", "--metadata", "{nope"], "--metadata is not JSON"),
        (["--type", "user.message", "--user", "alice", "--metadata", "[1]"], "must be a JSON object"),
        (["--type", "nodots", "--user", "alice"], "type:"),
        (["--type", "user.message", "--user", "nobody"], "no user 'nobody'"),
        (["--type", "user.message"], "userID:"),
        (["--type", "llm.chat", "--user", "alice"], "metadata.messages"),
        (["--file", "/nonexistent/event.json"], "Can't read"),
    ],
)
def test_bad_input_is_a_command_error_and_nothing_is_stored(user, routed, args, message):
    with pytest.raises(CommandError, match=message):
        send(*args)
    assert not EventRow.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_command_routes_the_event_before_it_returns(user, registry, settings):
    import time

    settings.TASKS_IN_PROCESS = True
    registry.register("thing.happened", lambda row: time.sleep(0.3), name="Slow")
    event_id = send("--type", "thing.happened", "--user", "alice")
    row = EventRow.objects.get(pk=event_id)
    assert (row.status, row.handler) == ("handled", "Slow")
