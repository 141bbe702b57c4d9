"""What the product's registries share (modes, event handlers, agents), built like the
admin's site registry: entries under unique keys, registered by a decorator, from
modules every installed app may have, discovered when the app registry is ready."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

#: A registered name: lower-case letters, digits and underscores, starting with a letter.
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

T = TypeVar("T")


class AlreadyRegistered(ImproperlyConfigured):
    """A second entry under a key that is taken."""


class NotRegistered(LookupError):
    """No entry under the key asked for."""


def check_name(cls: type, attribute: str) -> str:
    """``cls.<attribute>`` when it is a valid name; ``ImproperlyConfigured`` otherwise."""
    value = getattr(cls, attribute, None)
    if not isinstance(value, str) or not NAME.match(value):
        raise ImproperlyConfigured(
            f"{cls.__qualname__}.{attribute} must be lower-case letters, digits and underscores, "
            f"starting with a letter (at most 64); got {value!r}."
        )
    return value


class Registry(Generic[T]):
    """Entries by key. Subclasses say what an entry is (``kind``), which module of each
    app registers them (``module``), and how an entry is named in messages."""

    kind: str = "entry"
    module: str = ""

    def __init__(self) -> None:
        self._registry: dict[str, T] = {}

    def describe(self, entry: T) -> str:
        return type(entry).__qualname__

    def already(self, key: str, entry: T) -> str:
        return f"{self.kind.capitalize()} {key!r} is already registered by {self.describe(entry)}."

    def missing(self, key: str) -> str:
        return f"No {self.kind} {key!r} is registered."

    def add(self, key: str, entry: T) -> T:
        """Put ``entry`` under ``key``; ``AlreadyRegistered`` when the key is taken."""
        self.check_free(key)
        self._registry[key] = entry
        return entry

    def check_free(self, key: str) -> None:
        if key in self._registry:
            raise AlreadyRegistered(self.already(key, self._registry[key]))

    def unregister(self, key: str) -> None:
        if key not in self._registry:
            raise NotRegistered(self.missing(key))
        del self._registry[key]

    def __contains__(self, key: object) -> bool:
        return key in self._registry

    def autodiscover(self) -> None:
        """Import every installed app's ``module`` (which registers its entries)."""
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules(self.module, register_to=self)


def decorator(site: Registry, registry: Registry | None, target: Any | None, **options: Any) -> Any:
    """What a registry module's ``register`` returns: ``@register`` and
    ``@register(registry=..., **options)`` both put the decorated target in the registry
    (``site`` unless told otherwise)."""

    def decorate(cls: Any) -> Any:
        return (registry or site).register(cls, **options)

    return decorate(target) if target is not None else decorate


Decorator = Callable[[Any], Any]
