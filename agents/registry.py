"""The registry of worker agents, built like the mode and handler registries.

Any installed app registers agents in its ``worker_agents`` module; they are discovered
when the app registry is ready. An agent is a class with a ``name`` and a
``run(self, task)`` method (``agents.registry.Agent`` is a convenient base)::

    @register
    class Greeter(Agent):
        name = "greeter"
        description = "Says hello."

        def validate(self, input):
            if not isinstance(input.get("who"), str):
                raise AgentInputError("must be a string.", field="who")
            return input

        def run(self, task):
            task.log(f"Hello, {task.input['who']}!")
            return {"greeted": task.input["who"]}

``run`` gets an ``agents.services.TaskRun``; its return value (JSON) is the task's result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

from assistant.registry import AlreadyRegistered, NotRegistered, Registry, check_name, decorator

__all__ = [
    "Agent",
    "AgentInputError",
    "AgentRegistry",
    "AlreadyRegistered",
    "NotRegistered",
    "register",
    "site",
]


class AgentInputError(ValueError):
    """An agent's input that can't be used; ``field`` names the key (empty: the whole input)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class Agent:
    """A base for agents. Only ``name`` and ``run`` are required."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def validate(self, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        """The input to run with (JSON), or raise ``AgentInputError``. Called when the
        event is posted and again before the run."""
        return input

    def run(self, task) -> Any:
        raise NotImplementedError


class AgentRegistry(Registry[Any]):
    kind = "agent"
    module = "worker_agents"

    def register(self, agent_class: type) -> type:
        if not isinstance(agent_class, type):
            raise ImproperlyConfigured(f"{agent_class!r} is not a class; register an agent class.")
        name = check_name(agent_class, "name")
        if not callable(getattr(agent_class, "run", None)):
            raise ImproperlyConfigured(f"{agent_class.__qualname__} needs a run(self, task) method.")
        self.add(name, agent_class())
        return agent_class

    def get(self, name: str) -> Any:
        """The agent registered under ``name``; ``NotRegistered`` otherwise."""
        try:
            return self._registry[name]
        except (KeyError, TypeError):
            raise NotRegistered(f"There is no agent {name!r}.") from None

    def all(self) -> list[Any]:
        """The agents, in the order they were registered."""
        return list(self._registry.values())

    def names(self) -> list[str]:
        return sorted(self._registry)

    def clean_input(self, name: str, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        """The input agent ``name`` runs with: what its ``validate`` returns (the input
        as given when it has none or returns None). Raises ``NotRegistered`` or
        ``AgentInputError``."""
        agent = self.get(name)
        validate = getattr(agent, "validate", None)
        cleaned = validate(dict(input)) if callable(validate) else None
        if cleaned is None:
            return dict(input)
        if not isinstance(cleaned, dict):
            raise TypeError(f"{type(agent).__qualname__}.validate() must return a dict, not {cleaned!r}.")
        return cleaned


#: The project's registry.
site = AgentRegistry()


def register(agent_class: type | None = None, *, registry: AgentRegistry | None = None) -> Callable:
    """``@register`` puts an agent class in the registry (``site`` unless told otherwise)."""
    return decorator(site, registry, agent_class)


def autodiscover() -> None:
    site.autodiscover()
