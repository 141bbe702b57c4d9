"""The registry of tools: any installed app registers tools in its ``ai_tools``
module, discovered when the app registry is ready; a mode offers tools by name."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from ..registry import NAME, AlreadyRegistered, NotRegistered, Registry
from .running import Tool

__all__ = ["AlreadyRegistered", "NotRegistered", "ToolRegistry", "register", "site"]


class ToolRegistry(Registry[Tool]):
    kind = "tool"
    module = "ai_tools"

    def describe(self, entry: Tool) -> str:
        return getattr(entry.function, "__module__", "") or entry.name

    def register(self, tool: Tool) -> Tool:
        if not isinstance(tool, Tool):
            raise ImproperlyConfigured(f"{tool!r} is not a Tool (see model_tool, function_tool).")
        if not NAME.match(tool.name):
            raise ImproperlyConfigured(
                f"A tool's name must be lower-case letters, digits and underscores; got {tool.name!r}."
            )
        return self.add(tool.name, tool)

    def get(self, name: str) -> Tool:
        try:
            return self._registry[name]
        except KeyError:
            raise NotRegistered(self.missing(name)) from None

    def named(self, names) -> list[Tool]:
        """The tools with these names, in this order; ``NotRegistered`` for an unknown one."""
        return [self.get(name) for name in names]

    def all(self) -> list[Tool]:
        return list(self._registry.values())


#: The project's registry.
site = ToolRegistry()


def register(tool: Tool, *, registry: ToolRegistry | None = None) -> Tool:
    """Put a declared tool in the registry (``site`` unless told otherwise); returns it,
    so ``register(model_tool(...))`` and ``@register`` over a ``function_tool`` read well."""
    return (registry or site).register(tool)
