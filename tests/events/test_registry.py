"""The handler registry. Each test builds its own; the project's is only read."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from events.registry import AlreadyRegistered, HandlerRegistry, NotRegistered, register, site


def test_a_function_registers_for_a_type_under_its_name():
    registry = HandlerRegistry()

    @register("invoice.paid", registry=registry)
    def thank(event):
        return f"thanks {event}"

    handler = registry.get("invoice.paid")
    assert handler.name == "test_a_function_registers_for_a_type_under_its_name.<locals>.thank"
    assert handler("e1") == "thanks e1"
    assert thank("e2") == "thanks e2"  # the decorator gives the function back
    assert "invoice.paid" in registry and registry.get("invoice.refunded") is None


def test_a_class_registers_for_several_types_and_is_instantiated_once():
    registry = HandlerRegistry()
    made = []

    @register("user.message", "user.alert", registry=registry)
    class Messenger:
        name = "Messenger"

        def __init__(self):
            made.append(self)

        def handle(self, event):
            return (self, event)

    assert registry.get("user.message").name == registry.get("user.alert").name == "Messenger"
    assert registry.get("user.message")("e")[0] is registry.get("user.alert")("e")[0] is made[0]
    assert len(made) == 1 and isinstance(Messenger, type)


def test_an_explicit_name_wins():
    registry = HandlerRegistry()
    registry.register("a.b", lambda event: None, name="Custom")
    assert registry.get("a.b").name == "Custom"


def test_a_second_handler_for_a_type_raises_and_changes_nothing():
    registry = HandlerRegistry()
    registry.register("a.b", lambda event: "first", name="First")
    with pytest.raises(AlreadyRegistered, match="already handled by First"):
        registry.register(["c.d", "a.b"], lambda event: "second")
    assert registry.get("a.b")(None) == "first"
    assert "c.d" not in registry


@pytest.mark.parametrize("bad", ["single", "Upper.Case", "", "a..b", 5])
def test_a_malformed_type_raises(bad):
    with pytest.raises(ImproperlyConfigured):
        HandlerRegistry().register(bad, lambda event: None)


def test_no_type_or_no_handler_raise():
    registry = HandlerRegistry()
    with pytest.raises(ImproperlyConfigured):
        registry.register([], lambda event: None)

    class NoHandle:
        pass

    with pytest.raises(ImproperlyConfigured, match="handle"):
        registry.register("a.b", NoHandle)
    with pytest.raises(ImproperlyConfigured):
        registry.register("a.b", "not callable")
    assert registry.all() == {}


def test_unregister():
    registry = HandlerRegistry()
    registry.register("a.b", lambda event: None)
    registry.unregister("a.b")
    assert registry.get("a.b") is None
    with pytest.raises(NotRegistered):
        registry.unregister("a.b")


def test_registries_are_independent():
    one, two = HandlerRegistry(), HandlerRegistry()
    one.register("a.b", lambda event: None)
    assert "a.b" in one and "a.b" not in two


def test_the_built_in_handlers_are_discovered_from_event_handlers_modules():
    names = {event_type: handler.name for event_type, handler in site.all().items()}
    assert names["llm.chat"] == "ChatResponder"
    assert names["user.message"] == names["llm.chat.response"] == "UserMessenger"
