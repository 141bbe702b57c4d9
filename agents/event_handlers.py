"""AgentRunner: runs the agent a ``worker.task`` event names, on the worker that routes
the event, and records how its task went."""

from __future__ import annotations

import logging

from events.conf import max_retries
from events.exceptions import EventHandlerError, TransientEventError
from events.models import Event as EventRow
from events.registry import register
from events.services import system_event_publish
from events.types import Event, EventValidationError, WorkerTaskEvent

from . import services
from .conf import agents_settings
from .models import WorkerTask
from .registry import AgentInputError, AgentRegistry, NotRegistered
from .registry import site as agents_site

logger = logging.getLogger(__name__)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, EventHandlerError | TransientEventError | AgentInputError | NotRegistered):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


@register(WorkerTaskEvent.TYPE)
class AgentRunner:
    """Runs ``metadata.agent`` with ``metadata.input`` and records the task: ``running``,
    then ``succeeded`` with the agent's return value, or ``failed`` with its error (the
    event fails too, without retries). An agent raising ``TransientEventError`` is run
    again after a backoff, as the router retries any handler. A task that already ended
    is not run again. The owner gets a ``user.message`` event when the task ends
    (``AGENTS["NOTIFY_USER"]``)."""

    name = "AgentRunner"
    #: The agents to run; the project's (``agents.registry.site``) when None.
    registry: AgentRegistry | None = None

    def _agents(self) -> AgentRegistry:
        return self.registry or agents_site

    def validate(self, event: WorkerTaskEvent) -> None:
        """Refuse an event naming no registered agent, or with input its agent refuses."""
        agents = self._agents()
        try:
            agents.clean_input(event.agent_name, event.agent_input)
        except NotRegistered:
            known = ", ".join(agents.names()) or "none"
            raise EventValidationError(
                "metadata.agent", f"There is no agent {event.agent_name!r} (agents: {known})."
            ) from None
        except AgentInputError as exc:
            field = f"metadata.input.{exc.field}" if exc.field else "metadata.input"
            raise EventValidationError(field, exc.message) from None

    def handle(self, row: EventRow) -> None:
        task, _ = services.task_get_or_create(event=row)
        task.user = row.user
        if task.status == WorkerTask.Status.SUCCEEDED:
            return  # finished by an earlier delivery
        if task.status == WorkerTask.Status.FAILED:
            raise EventHandlerError(task.error or "The task failed.")
        try:
            agent = self._agents().get(task.agent)
            run = services.task_start(task=task, input=self._agents().clean_input(task.agent, task.input))
        except Exception as exc:  # noqa: BLE001  (recorded on the task)
            raise self._failed(row, task, exc) from exc
        try:
            result = agent.run(run)
            services.task_finish(task=task, result=result)
        except TransientEventError as exc:
            if row.attempts <= max_retries():  # the router will route the event again
                error = _error_text(exc)
                run.log(f"{error} (trying again)", level="warning")
                services.task_requeue(task=task, error=error)
                raise
            raise self._failed(row, task, exc, run=run) from exc
        except Exception as exc:  # noqa: BLE001  (recorded on the task)
            raise self._failed(row, task, exc, run=run) from exc
        self._notify(row, task)

    def _failed(self, row: EventRow, task: WorkerTask, exc: Exception, *, run=None) -> EventHandlerError:
        """Record the failure on the task; the error that fails the event, for the caller to raise."""
        error = _error_text(exc)
        if not isinstance(exc, EventHandlerError | TransientEventError | AgentInputError | NotRegistered):
            logger.exception("Task %s: agent %r failed", task.pk, task.agent)
        if run is not None:
            run.log(error, level="error")
        else:
            services.task_log(task=task, text=error, level="error")
        services.task_finish(task=task, error=error)
        self._notify(row, task)
        return EventHandlerError(task.error)

    def _notify(self, row: EventRow, task: WorkerTask) -> None:
        if not agents_settings.NOTIFY_USER:
            return
        text = f"Task {task.agent} {task.status}" + (f": {task.error}" if task.error else ".")
        try:
            system_event_publish(
                event=Event(
                    type="user.message",
                    source=self.name,
                    userID=row.user.get_username(),
                    metadata={"text": text, "task": str(task.pk), "agent": task.agent, "status": task.status},
                ),
                user=row.user,
            )
        except Exception:
            logger.exception("Task %s: the user.message to its owner could not be stored", task.pk)
