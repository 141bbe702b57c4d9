"""The agent registry. Each test builds its own; the project's is only read."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from agents.registry import (
    Agent,
    AgentInputError,
    AgentRegistry,
    AlreadyRegistered,
    NotRegistered,
    register,
    site,
)


class Hello(Agent):
    name = "hello"
    description = "Says hello."

    def run(self, task):
        return "hello"


def test_a_class_registers_under_its_name_and_is_instantiated_once():
    registry = AgentRegistry()
    made = []

    @register(registry=registry)
    class Counted:
        name = "counted"

        def __init__(self):
            made.append(self)

        def run(self, task):
            return task

    assert isinstance(Counted, type)  # the decorator gives the class back
    assert registry.get("counted") is registry.get("counted") is made[0]
    assert registry.get("counted").run("t") == "t"
    assert "counted" in registry and "other" not in registry
    assert registry.names() == ["counted"] and registry.all() == made


def test_a_second_agent_with_a_name_raises_and_keeps_the_first():
    registry = AgentRegistry()
    registry.register(Hello)

    class Impostor(Agent):
        name = "hello"

        def run(self, task):
            return "impostor"

    with pytest.raises(AlreadyRegistered, match="already registered by Hello"):
        registry.register(Impostor)
    assert registry.get("hello").run(None) == "hello"


@pytest.mark.parametrize("bad", ["", "Hello", "1st", "with-dash", "a" * 65, None, 5])
def test_a_malformed_name_raises(bad):
    agent = type("Bad", (Agent,), {"name": bad, "run": lambda self, task: None})
    with pytest.raises(ImproperlyConfigured, match="name"):
        AgentRegistry().register(agent)


def test_an_agent_needs_a_run_method_and_must_be_a_class():
    registry = AgentRegistry()
    with pytest.raises(ImproperlyConfigured, match="run"):
        registry.register(type("NoRun", (), {"name": "no_run"}))
    with pytest.raises(ImproperlyConfigured, match="not a class"):
        registry.register(Hello())
    assert registry.all() == []


def test_unregister_and_an_unknown_name():
    registry = AgentRegistry()
    registry.register(Hello)
    registry.unregister("hello")
    with pytest.raises(NotRegistered):
        registry.get("hello")
    with pytest.raises(NotRegistered):
        registry.unregister("hello")
    with pytest.raises(NotRegistered):
        registry.get(["not", "a", "name"])


def test_clean_input_uses_the_agents_validate():
    registry = AgentRegistry()

    @register(registry=registry)
    class Doubler(Agent):
        name = "doubler"

        def validate(self, input):  # noqa: A002
            if not isinstance(input.get("n"), int):
                raise AgentInputError("must be a whole number.", field="n")
            return {"n": input["n"] * 2}

        def run(self, task):
            return None

    assert registry.clean_input("doubler", {"n": 2}) == {"n": 4}
    with pytest.raises(AgentInputError) as caught:
        registry.clean_input("doubler", {"n": "two"})
    assert (caught.value.field, caught.value.message) == ("n", "must be a whole number.")
    with pytest.raises(NotRegistered):
        registry.clean_input("nobody", {})


def test_an_agent_without_validate_or_returning_none_runs_with_the_input_as_given():
    registry = AgentRegistry()
    registry.register(type("Plain", (), {"name": "plain", "run": lambda self, task: None}))
    registry.register(type("Checker", (), {"name": "checker", "run": lambda self, task: None,
                                           "validate": lambda self, input: None}))  # fmt: skip
    registry.register(type("Wrong", (), {"name": "wrong", "run": lambda self, task: None,
                                         "validate": lambda self, input: [1]}))  # fmt: skip
    assert registry.clean_input("plain", {"a": 1}) == {"a": 1}
    assert registry.clean_input("checker", {"a": 1}) == {"a": 1}
    with pytest.raises(TypeError, match="must return a dict"):
        registry.clean_input("wrong", {})


def test_registries_are_independent():
    one, two = AgentRegistry(), AgentRegistry()
    one.register(Hello)
    assert "hello" in one and "hello" not in two


def test_agents_are_discovered_from_every_apps_worker_agents_module():
    assert "usage_report" in site  # agents/worker_agents.py
    assert "word_count" in site  # tests/plugin_app/worker_agents.py
    assert site.get("word_count").run.__qualname__ == "WordCount.run"
    assert site.get("usage_report").description
