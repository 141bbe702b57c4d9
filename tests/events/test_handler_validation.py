"""A handler's check of the events of its types before they are stored: a class's
validate method or validate= for a function, used by event_publish, POST /api/events
and send_event."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from events.models import Event as EventRow
from events.registry import HandlerRegistry, register
from events.services import event_publish, event_validate
from events.types import Event, EventValidationError

pytestmark = pytest.mark.django_db


def needs_colour(event) -> None:
    if event.metadata.get("colour") not in ("red", "blue"):
        raise EventValidationError("metadata.colour", "must be red or blue.")


def test_a_class_validate_method_checks_the_typed_event():
    registry = HandlerRegistry()
    seen = []

    @register("llm.chat", registry=registry)
    class Checker:
        def handle(self, event):
            pass

        def validate(self, event):
            seen.append(type(event).__name__)
            raise EventValidationError("metadata.messages", "no chats today.")

    event = Event(
        type="llm.chat", source="t", userID="u", metadata={"messages": [{"role": "u", "content": ""}]}
    )
    with pytest.raises(EventValidationError, match="no chats today"):
        event_validate(event=event, registry=registry)
    assert seen == ["LLMChatEvent"]


def test_validate_for_a_function_and_a_handler_without_one():
    registry = HandlerRegistry()
    registry.register("paint.job", lambda row: None, validate=needs_colour)
    registry.register("other.job", lambda row: None)
    with pytest.raises(EventValidationError) as caught:
        event_validate(event=Event(type="paint.job", source="t", userID="u"), registry=registry)
    assert caught.value.field == "metadata.colour"
    ok = Event(type="paint.job", source="t", userID="u", metadata={"colour": "red"})
    assert event_validate(event=ok, registry=registry) == ok
    assert event_validate(event=Event(type="other.job", source="t", userID="u"), registry=registry)
    with pytest.raises(ImproperlyConfigured, match="not callable"):
        registry.register("third.job", lambda row: None, validate="yes")


def test_publish_refuses_what_the_handler_refuses(user, routed, registry):
    registry.register("paint.job", lambda row: None, validate=needs_colour)
    with pytest.raises(EventValidationError):
        event_publish(event=Event(type="paint.job", source="t", userID="alice"), user=user)
    assert not EventRow.objects.exists() and routed == []


def test_the_api_answers_a_400_naming_the_handlers_field(auth_client, routed, registry):
    registry.register("paint.job", lambda row: None, validate=needs_colour)
    body = {"timestamp": "2025-01-31T12:00:00Z", "source": "t", "type": "paint.job", "userID": "alice",
            "metadata": {"colour": "green"}}  # fmt: skip
    response = auth_client.post("/api/events", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "detail": {"metadata.colour": ["must be red or blue."]}}
    assert not EventRow.objects.exists()


def test_send_event_reports_it_as_a_command_error(user, routed, registry):
    registry.register("paint.job", lambda row: None, validate=needs_colour)
    with pytest.raises(CommandError, match="metadata.colour: must be red or blue"):
        call_command("send_event", "--type", "paint.job", "--user", "alice")
    assert not EventRow.objects.exists()
