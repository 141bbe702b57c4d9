"""WorkerTaskEvent: the worker.task dataclass and its validation."""

import pytest

from events.types import Event, EventValidationError, WorkerTaskEvent, event_from_dict

WHEN = "2025-01-31T12:00:00+00:00"


def body(**metadata) -> dict:
    return {
        "timestamp": WHEN,
        "source": "tests",
        "type": "worker.task",
        "userID": "alice",
        "metadata": metadata,
    }


def test_event_from_dict_gives_a_worker_task_event_that_round_trips():
    event = event_from_dict(body(agent="usage_report", input={"days": 3}))
    assert type(event) is WorkerTaskEvent
    assert (event.agent_name, event.agent_input) == ("usage_report", {"days": 3})
    assert event.to_dict() == body(agent="usage_report", input={"days": 3})
    assert WorkerTaskEvent.from_dict(event.to_dict()) == event


def test_agent_and_input_may_be_given_directly_and_input_is_optional():
    event = WorkerTaskEvent(source="s", userID="u", agent="usage_report", metadata={"note": 1})
    assert event.type == "worker.task"
    assert event.metadata == {"note": 1, "agent": "usage_report"}
    assert event.agent_input == {}
    given = WorkerTaskEvent(source="s", userID="u", agent="a", input={"days": 1})
    assert given.metadata == {"agent": "a", "input": {"days": 1}}
    given.agent_input["days"] = 99  # a copy
    assert given.metadata["input"] == {"days": 1}


@pytest.mark.parametrize(
    "metadata, field",
    [
        ({}, "metadata.agent"),
        ({"agent": ""}, "metadata.agent"),
        ({"agent": "  "}, "metadata.agent"),
        ({"agent": 5}, "metadata.agent"),
        ({"agent": "a" * 101}, "metadata.agent"),
        ({"agent": "usage_report", "input": [1]}, "metadata.input"),
        ({"agent": "usage_report", "input": "days=3"}, "metadata.input"),
        ({"agent": "usage_report", "input": None}, "metadata.input"),
    ],
)
def test_a_bad_field_is_named(metadata, field):
    with pytest.raises(EventValidationError) as caught:
        event_from_dict(body(**metadata))
    assert caught.value.field == field and caught.value.message


def test_the_type_must_match():
    with pytest.raises(EventValidationError) as caught:
        WorkerTaskEvent(type="user.message", source="s", userID="u", agent="a")
    assert caught.value.field == "type"


def test_other_types_are_not_checked_for_an_agent():
    assert type(event_from_dict({**body(), "type": "user.message"})) is Event
