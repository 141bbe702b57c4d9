"""The registry of assistant modes, built like Django admin's site registry.

Any installed app registers modes in its ``ai_modes`` module; they are discovered when
the app registry is ready. ``settings.ASSISTANT_MODES`` (a list of ids), when set,
enables only those modes, in that order.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import ModeBehaviour

MODE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class AlreadyRegistered(ImproperlyConfigured):
    pass


class NotRegistered(LookupError):
    pass


class ModeRegistry:
    def __init__(self) -> None:
        self._registry: dict[str, ModeBehaviour] = {}

    def register(self, mode_class: type[ModeBehaviour]) -> type[ModeBehaviour]:
        if not (isinstance(mode_class, type) and issubclass(mode_class, ModeBehaviour)):
            raise ImproperlyConfigured(f"{mode_class!r} is not a ModeBehaviour subclass.")
        mode_id = getattr(mode_class, "id", None)
        if not isinstance(mode_id, str) or not MODE_ID.match(mode_id):
            raise ImproperlyConfigured(
                f"{mode_class.__qualname__}.id must be lower-case letters, digits and underscores, "
                f"starting with a letter; got {mode_id!r}."
            )
        if mode_id in self._registry:
            raise AlreadyRegistered(
                f"Mode {mode_id!r} is already registered by {type(self._registry[mode_id]).__qualname__}."
            )
        self._registry[mode_id] = mode_class()
        return mode_class

    def unregister(self, mode_id: str) -> None:
        if mode_id not in self._registry:
            raise NotRegistered(f"No mode {mode_id!r} is registered.")
        del self._registry[mode_id]

    def _enabled(self) -> list[str]:
        chosen = getattr(settings, "ASSISTANT_MODES", None)
        return list(self._registry) if chosen is None else [m for m in chosen if m in self._registry]

    def get(self, mode_id: str) -> ModeBehaviour:
        """The enabled mode with this id; ``NotRegistered`` otherwise."""
        if mode_id not in self._enabled():
            raise NotRegistered(f"No mode {mode_id!r} is enabled.")
        return self._registry[mode_id]

    def all(self) -> list[ModeBehaviour]:
        """The enabled modes, in the order of ``ASSISTANT_MODES`` or of registration."""
        return [self._registry[m] for m in self._enabled()]

    def __contains__(self, mode_id: str) -> bool:
        return mode_id in self._enabled()


#: The project's registry.
site = ModeRegistry()


def register(
    mode_class: type[ModeBehaviour] | None = None, *, registry: ModeRegistry | None = None
) -> Callable:
    """``@register`` puts a mode class in the registry (``site`` unless told otherwise)."""

    def decorate(cls: type[ModeBehaviour]) -> type[ModeBehaviour]:
        return (registry or site).register(cls)

    return decorate(mode_class) if mode_class is not None else decorate


def autodiscover() -> None:
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("ai_modes", register_to=site)
