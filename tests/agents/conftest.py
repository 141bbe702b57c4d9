"""Fixtures of the agent tests: agents registered for one test, captured hand-offs to
workers, and posting worker.task events."""

from __future__ import annotations

import pytest

from agents.registry import Agent, AgentInputError, site
from events.exceptions import TransientEventError
from events.services import event_publish
from events.types import WorkerTaskEvent


@pytest.fixture
def register_agent():
    """Register agent classes in the project's registry for this test only."""
    added: list[str] = []

    def add(agent_class):
        site.register(agent_class)
        added.append(agent_class.name)
        return agent_class

    yield add
    for name in added:
        if name in site:
            site.unregister(name)


class Steps(Agent):
    """Logs each of input.steps with its progress and returns them counted."""

    name = "test_steps"
    description = "For tests."
    runs: list = []

    def validate(self, input):  # noqa: A002
        steps = input.get("steps", ["one"])
        if not isinstance(steps, list):
            raise AgentInputError("must be a list.", field="steps")
        return {"steps": steps}

    def run(self, task):
        Steps.runs.append(task.id)
        for index, step in enumerate(task.input["steps"], start=1):
            task.progress(100 * index / (len(task.input["steps"]) + 1), f"step {step}")
        return {"done": len(task.input["steps"])}


class Broken(Agent):
    name = "test_broken"
    runs: list = []

    def run(self, task):
        Broken.runs.append(task.id)
        task.log("about to break")
        raise ValueError("boom")


class Flaky(Agent):
    """Raises TransientEventError while ``failures`` is above 0."""

    name = "test_flaky"
    failures = 0
    runs: list = []

    def run(self, task):
        Flaky.runs.append(task.id)
        task.log(f"try {len(Flaky.runs)}")
        if Flaky.failures > 0:
            Flaky.failures -= 1
            raise TransientEventError("busy, later")
        return "ok"


@pytest.fixture
def test_agents(register_agent):
    for cls in (Steps, Broken, Flaky):
        cls.runs = []
        register_agent(cls)
    Flaky.failures = 0
    return {"steps": Steps, "broken": Broken, "flaky": Flaky}


@pytest.fixture
def post_task(user, routed):
    """Store a worker.task event for ``user`` (not routed yet); returns the event row."""

    def post(agent: str, input: dict | None = None, owner=None):  # noqa: A002
        owner = owner or user
        event = WorkerTaskEvent(source="tests", userID=owner.username, agent=agent, input=input)
        return event_publish(event=event, user=owner)

    return post
