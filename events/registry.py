"""The registry of event handlers, built like the mode registry (and Django admin's).

Any installed app registers handlers in its ``event_handlers`` module; they are
discovered when the app registry is ready. One handler per event type.

    @register("invoice.paid")
    def thank_the_customer(event): ...

    @register("user.message", "llm.chat.response")
    class Messenger:
        def handle(self, event): ...

A handler receives the stored ``events.models.Event`` row (``row.to_event()`` gives
the dataclass). It may also check events of its types before they are stored: a class's
``validate(self, event)`` method (or ``validate=`` for a function) gets the typed
dataclass and raises ``events.types.EventValidationError`` naming the bad field, which
``POST /api/events`` answers with a 400 (nothing is stored).

The system's own events are reserved: every registered handler's name is a source
clients can't post under, and the types a handler declares in ``system_types`` (a
class attribute, or ``system_types=`` for a function) are types clients can't post.
The handlers publish them through ``events.services.system_event_publish``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from assistant.registry import AlreadyRegistered, NotRegistered, Registry

from .types import TYPE_PATTERN

__all__ = ["AlreadyRegistered", "Handler", "HandlerRegistry", "NotRegistered", "register", "site"]


@dataclass(frozen=True)
class Handler:
    name: str
    function: Callable[[Any], Any]
    validator: Callable[[Any], Any] | None = None
    #: Types only the system publishes (this handler's own output, say).
    system_types: tuple[str, ...] = ()

    def __call__(self, event) -> Any:
        return self.function(event)

    def validate(self, event) -> None:
        """Check an event (the ``events.types`` dataclass) before it is stored; raises
        ``EventValidationError``. Does nothing for a handler without a validator."""
        if self.validator is not None:
            self.validator(event)


def _types(types: Any) -> list[str]:
    types = list(types) if isinstance(types, list | tuple | set | frozenset) else [types]
    for event_type in types:
        if not isinstance(event_type, str) or not TYPE_PATTERN.match(event_type):
            raise ImproperlyConfigured(f"{event_type!r} is not a dotted event type such as 'llm.chat'.")
    return types


def _as_handler(
    target: Any, name: str | None, validate: Callable[[Any], Any] | None, system_types: Any
) -> Handler:
    if validate is not None and not callable(validate):
        raise ImproperlyConfigured(f"validate={validate!r} is not callable.")
    if isinstance(target, type):
        instance = target()
        if not callable(getattr(instance, "handle", None)):
            raise ImproperlyConfigured(f"{target.__qualname__} needs a handle(self, event) method.")
        method = getattr(instance, "validate", None)
        reserved = getattr(target, "system_types", ()) if system_types is None else system_types
        return Handler(
            name or getattr(target, "name", None) or target.__qualname__,
            instance.handle,
            validate or (method if callable(method) else None),
            tuple(_types(reserved)) if reserved else (),
        )
    if callable(target):
        return Handler(
            name or getattr(target, "__qualname__", repr(target)),
            target,
            validate,
            tuple(_types(system_types)) if system_types else (),
        )
    raise ImproperlyConfigured(f"{target!r} is neither a function nor a class with handle().")


class HandlerRegistry(Registry[Handler]):
    kind = "handler"
    module = "event_handlers"

    def already(self, key: str, entry: Handler) -> str:
        return f"Event type {key!r} is already handled by {entry.name}."

    def missing(self, key: str) -> str:
        return f"No handler is registered for {key!r}."

    def register(
        self,
        types: str | list[str] | tuple[str, ...],
        target: Any,
        *,
        name: str | None = None,
        validate: Callable[[Any], Any] | None = None,
        system_types: list[str] | tuple[str, ...] | None = None,
    ):
        """Route events of ``types`` to ``target`` (a function or a class with ``handle``);
        ``validate`` (or the class's ``validate`` method) checks them before they are stored;
        ``system_types`` (or the class's ``system_types``) are types only the system publishes."""
        types = _types(types)
        if not types:
            raise ImproperlyConfigured("Register a handler for at least one event type.")
        for event_type in types:
            self.check_free(event_type)
        handler = _as_handler(target, name, validate, system_types)
        for event_type in types:
            self.add(event_type, handler)
        return target

    def get(self, event_type: str) -> Handler | None:
        """The handler of ``event_type``, or None."""
        return self._registry.get(event_type)

    def all(self) -> dict[str, Handler]:
        return dict(self._registry)

    def reserved_types(self) -> dict[str, str]:
        """The types only the system publishes, each with the handler that reserves it."""
        return {kind: handler.name for handler in self._registry.values() for kind in handler.system_types}

    def reserved_sources(self) -> set[str]:
        """The sources only the system publishes under: every handler's name."""
        return {handler.name for handler in self._registry.values()}


#: The project's registry.
site = HandlerRegistry()


def register(
    *types: str,
    registry: HandlerRegistry | None = None,
    name: str | None = None,
    validate: Callable[[Any], Any] | None = None,
    system_types: list[str] | tuple[str, ...] | None = None,
) -> Callable:
    """``@register("a.type", ...)`` routes those event types to the decorated handler."""

    def decorate(target):
        return (registry or site).register(
            types, target, name=name, validate=validate, system_types=system_types
        )

    return decorate


def autodiscover() -> None:
    site.autodiscover()
