"""The registry of assistant modes, built like Django admin's site registry.

Any installed app registers modes in its ``ai_modes`` module; they are discovered when
the app registry is ready. ``settings.ASSISTANT_MODES`` (a list of ids), when set,
enables only those modes, in that order.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from assistant.registry import AlreadyRegistered, NotRegistered, Registry, check_name, decorator

from .base import ModeBehaviour

__all__ = ["AlreadyRegistered", "ModeRegistry", "NotRegistered", "autodiscover", "register", "site"]


class ModeRegistry(Registry[ModeBehaviour]):
    kind = "mode"
    module = "ai_modes"

    def register(self, mode_class: type[ModeBehaviour]) -> type[ModeBehaviour]:
        if not (isinstance(mode_class, type) and issubclass(mode_class, ModeBehaviour)):
            raise ImproperlyConfigured(f"{mode_class!r} is not a ModeBehaviour subclass.")
        self.add(check_name(mode_class, "id"), mode_class())
        return mode_class

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

    def __contains__(self, mode_id: object) -> bool:
        return mode_id in self._enabled()


#: The project's registry.
site = ModeRegistry()


def register(
    mode_class: type[ModeBehaviour] | None = None, *, registry: ModeRegistry | None = None
) -> Callable:
    """``@register`` puts a mode class in the registry (``site`` unless told otherwise)."""
    return decorator(site, registry, mode_class)


def autodiscover() -> None:
    site.autodiscover()
