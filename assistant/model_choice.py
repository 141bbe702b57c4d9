"""The models users may pick: the operator lists them (``ASSISTANT["MODELS"]``, or the
``AI_MODELS`` environment variable as JSON), each with a label and whether it takes a
reasoning effort. A message's ``options.model`` and ``options.reasoning_effort`` choose
for it, and the session remembers the last choice for the messages that don't say.
Without a list, the one model is ``OPENAI_MODEL``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .conf import assistant_settings
from .exceptions import InvalidInput

REASONING_EFFORTS = ("minimal", "low", "medium", "high")
KEYS = ("model", "reasoning_effort")


@dataclass(frozen=True)
class ModelOption:
    id: str
    label: str
    reasoning: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "reasoning": self.reasoning}


def available() -> list[ModelOption]:
    """The models users may pick, the default first."""
    listed = assistant_settings.MODELS
    if not listed:
        return [ModelOption(settings.OPENAI_MODEL, settings.OPENAI_MODEL)]
    return [
        ModelOption(str(entry["id"]), str(entry.get("label") or entry["id"]), bool(entry.get("reasoning")))
        for entry in listed
    ]


def default() -> ModelOption:
    return available()[0]


def _find(model_id: str) -> ModelOption | None:
    return next((option for option in available() if option.id == model_id), None)


def checked(choice: dict[str, Any], *, field: str) -> dict[str, Any]:
    """``{"model"?, "reasoning_effort"?}`` as given, checked: a listed model, and an
    effort only for a model that takes one (``InvalidInput`` on ``field`` naming the
    allowed values otherwise). Returns only the keys given."""
    found: dict[str, Any] = {}
    model = choice.get("model")
    if "model" in choice:
        option = _find(model) if isinstance(model, str) else None
        if option is None:
            allowed = ", ".join(option.id for option in available())
            raise InvalidInput({field: [f"model must be one of: {allowed}."]})
        found["model"] = option.id
    effort = choice.get("reasoning_effort")
    if "reasoning_effort" in choice and effort is not None:
        if effort not in REASONING_EFFORTS:
            raise InvalidInput({field: [f"reasoning_effort must be one of: {', '.join(REASONING_EFFORTS)}."]})
        option = _find(found.get("model") or "") or default()
        if not option.reasoning:
            raise InvalidInput({field: [f"{option.id} takes no reasoning_effort."]})
        found["reasoning_effort"] = effort
    return found


def pop_choice(options: Any) -> dict[str, Any]:
    """Take the model choice out of a message's options (the rest are the mode's)."""
    if not isinstance(options, dict):
        return {}
    choice = {key: options.pop(key) for key in KEYS if key in options}
    return checked(choice, field="options")


def for_answer(*, message_meta: dict | None, session_meta: dict | None) -> tuple[str, str | None]:
    """The model and reasoning effort an answer uses: the message's choice, else the
    session's last one, else the default; a choice no longer listed falls back too."""
    for meta in (message_meta or {}, session_meta or {}):
        option = _find(meta.get("model")) if isinstance(meta.get("model"), str) else None
        if option is not None:
            effort = meta.get("reasoning_effort")
            return option.id, effort if option.reasoning and effort in REASONING_EFFORTS else None
    return default().id, None
