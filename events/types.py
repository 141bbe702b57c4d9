"""Events as plain data: the ``Event`` dataclass and its typed subclasses.

This module needs neither Django nor a database, so scripts and other services can
build, validate and serialise events with it alone::

    from events.types import LLMChatEvent

    event = LLMChatEvent(source="cli", userID="alice", messages=[{"role": "user", "content": "Hi"}])
    body = event.to_dict()  # POST it to /api/events
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

#: A dotted name: two or more lower-case words, e.g. ``llm.chat`` or ``user.message``.
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
TYPE_MAX_LENGTH = 100
SOURCE_MAX_LENGTH = 100
USER_ID_MAX_LENGTH = 150
FIELDS = ("timestamp", "source", "type", "userID", "metadata")


class EventValidationError(ValueError):
    """An event field that can't be used; ``field`` names it (``metadata.messages[0].role``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _now() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(value: Any) -> datetime:
    """An aware datetime from a datetime or an ISO 8601 string with a timezone."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise EventValidationError(
                "timestamp", "must be an ISO 8601 date and time, e.g. 2025-01-31T12:00:00Z."
            ) from None
    if not isinstance(value, datetime):
        raise EventValidationError("timestamp", "must be an ISO 8601 string.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise EventValidationError("timestamp", "must include a timezone (Z or an offset such as +02:00).")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise EventValidationError("timestamp", "is out of range.") from None
    return value


def _text(name: str, value: Any, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EventValidationError(name, "must be a non-empty string.")
    if len(value) > max_length:
        raise EventValidationError(name, f"must be at most {max_length} characters.")
    if "\x00" in value:
        raise EventValidationError(name, "must not contain NUL characters.")
    return value


#: How deeply metadata may nest objects and lists.
METADATA_MAX_DEPTH = 32


def _check_metadata(metadata: Mapping[str, Any]) -> None:
    """No NUL characters and at most ``METADATA_MAX_DEPTH`` levels, walked without
    recursion (so no depth of input can exhaust the stack)."""
    stack: list[tuple[Any, int]] = [(metadata, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise EventValidationError("metadata", "must not contain NUL characters.")
            continue
        if isinstance(value, Mapping | list | tuple) and depth > METADATA_MAX_DEPTH:
            raise EventValidationError("metadata", f"must nest at most {METADATA_MAX_DEPTH} levels deep.")
        if isinstance(value, Mapping):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)


@dataclass(kw_only=True)
class Event:
    """One event: what happened (``type``), where it came from (``source``), whose it
    is (``userID``), when (``timestamp``) and its details (``metadata``)."""

    type: str
    source: str
    userID: str  # noqa: N815  (the wire name)
    metadata: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``EventValidationError`` for the first field that can't be used."""
        self.timestamp = parse_timestamp(self.timestamp)
        _text("source", self.source, SOURCE_MAX_LENGTH)
        _text("type", self.type, TYPE_MAX_LENGTH)
        if not TYPE_PATTERN.match(self.type):
            raise EventValidationError(
                "type", "must be a dotted name of lower-case words, e.g. llm.chat or user.message."
            )
        _text("userID", self.userID, USER_ID_MAX_LENGTH)
        if not isinstance(self.metadata, Mapping):
            raise EventValidationError("metadata", "must be an object.")
        self.metadata = dict(self.metadata)
        _check_metadata(self.metadata)
        try:
            json.dumps(self.metadata, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise EventValidationError("metadata", f"must be JSON: {exc}.") from None

    def to_dict(self) -> dict[str, Any]:
        """The wire form: ``{"timestamp", "source", "type", "userID", "metadata"}``."""
        return {
            "timestamp": self.timestamp.isoformat(),
            "source": self.source,
            "type": self.type,
            "userID": self.userID,
            "metadata": copy.deepcopy(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Build and validate an event from its wire form. Unknown keys are ignored."""
        if not isinstance(data, Mapping):
            raise EventValidationError("non_field_errors", "An event must be a JSON object.")
        for name in FIELDS:
            if name not in data or data[name] is None:
                raise EventValidationError(name, "This field is required.")
        return cls(**{name: data[name] for name in FIELDS})


def _check_messages(messages: Any) -> None:
    name = "metadata.messages"
    if not isinstance(messages, list) or not messages:
        raise EventValidationError(name, "must be a non-empty list of messages.")
    for index, message in enumerate(messages):
        where = f"{name}[{index}]"
        if not isinstance(message, Mapping):
            raise EventValidationError(where, "must be an object with role and content.")
        for key in ("role", "content"):
            if not isinstance(message.get(key), str):
                raise EventValidationError(f"{where}.{key}", "must be a string.")
        if not message["role"].strip():
            raise EventValidationError(f"{where}.role", "must not be empty.")


@dataclass(kw_only=True)
class LLMChatEvent(Event):
    """``llm.chat``: a conversation for the model, in ``metadata.messages``.

    ``messages=`` may be given directly; it is stored under ``metadata``.
    """

    TYPE: ClassVar[str] = "llm.chat"

    type: str = TYPE
    messages: InitVar[list[Mapping[str, Any]] | None] = None

    def __post_init__(self, messages: list[Mapping[str, Any]] | None) -> None:
        if messages is not None:
            if not isinstance(self.metadata, Mapping):
                raise EventValidationError("metadata", "must be an object.")
            self.metadata = {**self.metadata, "messages": messages}
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        if self.type != self.TYPE:
            raise EventValidationError("type", f"must be {self.TYPE!r} for a chat event.")
        _check_messages(self.metadata.get("messages"))
        self.metadata["messages"] = [dict(m) for m in self.metadata["messages"]]

    @property
    def chat_messages(self) -> list[dict[str, Any]]:
        return self.metadata["messages"]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LLMChatEvent:
        """As ``Event.from_dict``; ``messages`` at the top level is moved under ``metadata``."""
        if isinstance(data, Mapping) and "messages" in data:
            metadata = data.get("metadata") or {}
            if isinstance(metadata, Mapping) and "messages" not in metadata:
                data = {**data, "metadata": {**metadata, "messages": data["messages"]}}
        return super().from_dict(data)


#: Longest agent name a ``worker.task`` event may give.
AGENT_MAX_LENGTH = 100


@dataclass(kw_only=True)
class WorkerTaskEvent(Event):
    """``worker.task``: run the agent named ``metadata.agent`` on a worker, with the
    object ``metadata.input`` (optional) as its input.

    ``agent=`` and ``input=`` may be given directly; they are stored under ``metadata``.
    Whether such an agent exists is checked where the agents are known (the handler).
    """

    TYPE: ClassVar[str] = "worker.task"

    type: str = TYPE
    agent: InitVar[str | None] = None
    input: InitVar[Mapping[str, Any] | None] = None

    def __post_init__(self, agent: str | None, input: Mapping[str, Any] | None) -> None:  # noqa: A002
        given = {key: value for key, value in (("agent", agent), ("input", input)) if value is not None}
        if given:
            if not isinstance(self.metadata, Mapping):
                raise EventValidationError("metadata", "must be an object.")
            self.metadata = {**self.metadata, **given}
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        if self.type != self.TYPE:
            raise EventValidationError("type", f"must be {self.TYPE!r} for a worker task event.")
        _text("metadata.agent", self.metadata.get("agent"), AGENT_MAX_LENGTH)
        if "input" in self.metadata:
            if not isinstance(self.metadata["input"], Mapping):
                raise EventValidationError("metadata.input", "must be an object.")
            self.metadata["input"] = dict(self.metadata["input"])

    @property
    def agent_name(self) -> str:
        return self.metadata["agent"]

    @property
    def agent_input(self) -> dict[str, Any]:
        """``metadata.input``, or ``{}`` when the event has none."""
        return copy.deepcopy(self.metadata.get("input", {}))


#: Event types with a dataclass of their own.
TYPED_EVENTS: dict[str, type[Event]] = {
    LLMChatEvent.TYPE: LLMChatEvent,
    WorkerTaskEvent.TYPE: WorkerTaskEvent,
}


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The event in ``data``, as its type's own dataclass when it has one."""
    kind = data.get("type") if isinstance(data, Mapping) else None
    cls = TYPED_EVENTS.get(kind, Event) if isinstance(kind, str) else Event
    return cls.from_dict(data)
