"""The event dataclasses: round trips, every validation error, and LLMChatEvent."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from events.types import Event, EventValidationError, LLMChatEvent, event_from_dict
from tests.conftest import ROOT

WHEN = "2025-01-31T12:00:00+00:00"
MESSAGES = [{"role": "user", "content": "Hello"}]


def body(**changes) -> dict:
    data = {"timestamp": WHEN, "source": "tests", "type": "user.message", "userID": "alice", "metadata": {}}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def test_an_event_round_trips_through_its_dict():
    event = Event.from_dict(body(metadata={"text": "hi", "n": [1, 2]}))
    assert event.timestamp == datetime(2025, 1, 31, 12, tzinfo=UTC)
    data = event.to_dict()
    assert data == body(metadata={"text": "hi", "n": [1, 2]})
    assert Event.from_dict(data) == event


def test_z_and_offsets_are_accepted_and_kept():
    event = Event.from_dict(body(timestamp="2025-01-31T14:00:00+02:00"))
    assert event.timestamp.utcoffset() == timedelta(hours=2)
    assert event.timestamp == datetime(2025, 1, 31, 12, tzinfo=UTC)
    assert Event.from_dict(body(timestamp="2025-01-31T12:00:00Z")).timestamp == event.timestamp


def test_a_datetime_timestamp_is_accepted_and_one_is_made_when_omitted():
    moment = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert Event(type="a.b", source="s", userID="u", timestamp=moment).timestamp == moment
    made = Event(type="a.b", source="s", userID="u")
    assert made.timestamp.tzinfo is not None and made.metadata == {}


def test_to_dict_is_a_copy():
    event = Event(type="a.b", source="s", userID="u", metadata={"nested": {"x": 1}})
    event.to_dict()["metadata"]["nested"]["x"] = 2
    assert event.metadata == {"nested": {"x": 1}}


def test_unknown_keys_are_ignored():
    assert Event.from_dict(body(extra="ignored")).to_dict() == body()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"timestamp": ...}, "timestamp"),
        ({"timestamp": None}, "timestamp"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "2025-01-31T12:00:00"}, "timestamp"),  # no timezone
        ({"timestamp": 1738324800}, "timestamp"),
        ({"source": ...}, "source"),
        ({"source": ""}, "source"),
        ({"source": "x" * 101}, "source"),
        ({"type": ...}, "type"),
        ({"type": "message"}, "type"),  # not dotted
        ({"type": "User.Message"}, "type"),
        ({"type": "user..message"}, "type"),
        ({"type": "user.message."}, "type"),
        ({"type": 3}, "type"),
        ({"userID": ...}, "userID"),
        ({"userID": "   "}, "userID"),
        ({"userID": 7}, "userID"),
        ({"metadata": ...}, "metadata"),
        ({"metadata": ["a"]}, "metadata"),
        ({"metadata": "text"}, "metadata"),
        ({"metadata": {"bad": float("nan")}}, "metadata"),
        ({"metadata": {"text": ["a\x00b"]}}, "metadata"),
        ({"source": "a\x00b"}, "source"),
        ({"timestamp": "0001-01-01T00:00:00+05:00"}, "timestamp"),  # before year 1 in UTC
    ],
)
def test_each_bad_field_is_named(changes, field):
    with pytest.raises(EventValidationError) as caught:
        Event.from_dict(body(**changes))
    assert caught.value.field == field
    assert caught.value.message and field in str(caught.value)


def test_a_non_mapping_is_refused():
    with pytest.raises(EventValidationError) as caught:
        Event.from_dict(["not", "an", "event"])
    assert caught.value.field == "non_field_errors"


def test_construction_validates_too():
    with pytest.raises(EventValidationError) as caught:
        Event(type="nodots", source="s", userID="u")
    assert caught.value.field == "type"


def test_llm_chat_event_takes_messages_and_puts_them_under_metadata():
    event = LLMChatEvent(source="cli", userID="alice", messages=MESSAGES, metadata={"topic": "x"})
    assert event.type == "llm.chat"
    data = event.to_dict()
    assert "messages" not in data
    assert data["metadata"] == {"topic": "x", "messages": MESSAGES}
    assert event.chat_messages == MESSAGES
    assert LLMChatEvent.from_dict(data) == event


def test_llm_chat_event_from_a_dict_with_messages_at_the_top_moves_them():
    data = body(type="llm.chat", messages=MESSAGES)
    event = LLMChatEvent.from_dict(data)
    assert event.to_dict()["metadata"]["messages"] == MESSAGES


def test_event_from_dict_picks_the_typed_class():
    assert type(event_from_dict(body(type="llm.chat", metadata={"messages": MESSAGES}))) is LLMChatEvent
    assert type(event_from_dict(body())) is Event


@pytest.mark.parametrize(
    "metadata, field",
    [
        ({}, "metadata.messages"),
        ({"messages": []}, "metadata.messages"),
        ({"messages": "Hello"}, "metadata.messages"),
        ({"messages": ["Hello"]}, "metadata.messages[0]"),
        ({"messages": [{"content": "Hello"}]}, "metadata.messages[0].role"),
        ({"messages": [{"role": "user"}]}, "metadata.messages[0].content"),
        ({"messages": [*MESSAGES, {"role": "", "content": "x"}]}, "metadata.messages[1].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "metadata.messages[0].content"),
    ],
)
def test_llm_chat_messages_are_validated(metadata, field):
    with pytest.raises(EventValidationError) as caught:
        event_from_dict(body(type="llm.chat", metadata=metadata))
    assert caught.value.field == field


def test_llm_chat_event_must_keep_its_type():
    with pytest.raises(EventValidationError) as caught:
        LLMChatEvent(type="user.message", source="s", userID="u", messages=MESSAGES)
    assert caught.value.field == "type"


def test_the_module_works_without_django(tmp_path):
    script = (
        "import sys, events.types as t\n"
        "e = t.LLMChatEvent(source='cli', userID='alice', messages=[{'role': 'user', 'content': 'Hi'}])\n"
        "assert t.event_from_dict(e.to_dict()) == e\n"
        "try:\n"
        "    t.Event(type='bad', source='s', userID='u')\n"
        "except t.EventValidationError as exc:\n"
        "    print(exc.field)\n"
        "print('django' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["type", "False"]


def test_metadata_may_nest_32_levels_and_no_more():
    from events.types import Event, EventValidationError

    def nested(levels):
        value = "leaf"
        for _ in range(levels - 1):
            value = [value]
        return {"x": value}

    Event(type="a.b", source="s", userID="u", metadata=nested(32))
    with pytest.raises(EventValidationError, match="32 levels") as caught:
        Event(type="a.b", source="s", userID="u", metadata=nested(33))
    assert caught.value.field == "metadata"
    with pytest.raises(EventValidationError, match="levels"):  # deeper than the stack: still a clear error
        Event(type="a.b", source="s", userID="u", metadata=nested(100_000))
