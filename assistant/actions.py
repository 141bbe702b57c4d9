"""Prompt-backed actions: functions whose implementation is a model call with a typed
result. An action declares its input and output JSON schemas and how to ask (a
function of the context and the checked input that returns the chat messages):

    from assistant import actions

    @actions.register
    @actions.prompt_action(
        name="summarize_book",
        description="A book's summary in one sentence, and its genre.",
        input_schema={"properties": {"book_id": {"type": "integer"}}, "required": ["book_id"]},
        output_schema={"properties": {"sentence": {"type": "string"}, "genre": {"type": "string"}},
                       "required": ["sentence", "genre"]},
    )
    def summarize_book(context, arguments):
        book = Book.objects.get(owner=context.user, pk=arguments["book_id"])
        return [{"role": "user", "content": f"Summarize: {book.summary}"}]

It runs with the OpenAI structured output (``response_format`` ``json_schema``, strict);
a server that refuses that is asked with the schema in the prompt instead. The answer
is parsed and checked against the output schema; a wrong one gets one repair round (the
model is told what is wrong), and a result that still fails is ``InvalidModelOutput``,
never an unchecked dict. ``run`` calls one from code; each registered action is also a
tool of the same name (for modes and MCP), and ``POST /api/actions/{name}/``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
from rest_framework.exceptions import APIException

from . import llm
from .exceptions import InvalidInput, InvalidModelOutput
from .registry import NAME, NotRegistered, Registry
from .tools import Tool, ToolContext, ToolError, check_arguments
from .tools import register as register_tool

logger = logging.getLogger(__name__)

#: How the model is asked when the server has no structured output.
JSON_PROMPT = (
    "Answer with one JSON object and nothing else (no prose, no code fence). It must match "
    "this JSON schema:\n{schema}"
)
REPAIR_PROMPT = "That answer is not valid: {error} Answer again with only the corrected JSON object."


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {}, **schema}


def _text(detail: Any) -> str:
    if isinstance(detail, dict):
        return " ".join(f"{key}: {' '.join(map(str, value if isinstance(value, list) else [value]))}"
                        for key, value in detail.items())  # fmt: skip
    return str(detail)


@dataclass(frozen=True)
class Action:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    #: ``prompt(context, arguments)`` -> the chat messages that ask for the result; it
    #: raises ``assistant.exceptions.NotFound`` (or ``InvalidInput``) for input the user
    #: may not use.
    prompt: Callable[[ToolContext, dict[str, Any]], list[dict[str, Any]]]

    def as_tool(self) -> Tool:
        def function(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
            try:
                return _result(self, context, arguments)
            except APIException as exc:  # the prompt's NotFound or InvalidInput, a bad answer
                raise ToolError(_text(exc.detail)) from None
            except llm.LLMError as exc:
                raise ToolError(exc.message) from None

        return Tool(self.name, self.description, self.input_schema, function)


class ActionRegistry(Registry[Action]):
    kind = "action"
    module = "ai_actions"

    def register(self, action: Action) -> Action:
        if not isinstance(action, Action) or not NAME.match(action.name):
            raise TypeError(f"{action!r} is not an Action with a valid name (see prompt_action).")
        return self.add(action.name, action)

    def get(self, name: str) -> Action:
        try:
            return self._registry[name]
        except KeyError:
            raise NotRegistered(self.missing(name)) from None

    def all(self) -> list[Action]:
        return list(self._registry.values())


#: The project's registry.
site = ActionRegistry()


def register(action: Action, *, registry: ActionRegistry | None = None, as_tool: bool = True) -> Action:
    """Put an action in the registry (``site`` unless told otherwise) and, with
    ``as_tool``, the tools' registry too, so a mode and MCP can offer it."""
    (registry or site).register(action)
    if as_tool and registry is None:
        register_tool(action.as_tool())
    return action


def prompt_action(
    *, name: str, description: str, input_schema: dict[str, Any], output_schema: dict[str, Any]
) -> Callable[[Callable[[ToolContext, dict[str, Any]], list[dict[str, Any]]]], Action]:
    """Declare an action over its prompt function (a decorator)."""
    checked_output = _object_schema(output_schema)
    jsonschema.Draft202012Validator.check_schema(checked_output)

    def declare(prompt: Callable[[ToolContext, dict[str, Any]], list[dict[str, Any]]]) -> Action:
        return Action(name, description, _object_schema(input_schema), checked_output, prompt)

    return declare


def _checked(action: Action, text: str) -> dict[str, Any]:
    """The answer parsed and valid against the output schema; ``ValueError`` saying why not."""
    cleaned = text.strip()
    if cleaned.startswith("```"):
        cleaned = cleaned.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(cleaned)
    except ValueError as exc:
        raise ValueError(f"it is not JSON ({exc}).") from None
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(action.output_schema).iter_errors(value)
    )
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise ValueError(f"{where + ': ' if where else ''}{error.message}.")
    return value


def _structured_format(action: Action) -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": action.name, "schema": action.output_schema, "strict": True},
    }


def _result(action: Action, context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    messages = list(action.prompt(context, arguments))
    try:
        answer = llm.complete(messages, response_format=_structured_format(action))
    except llm.LLMError as exc:
        if exc.status not in (400, 404, 422):
            raise
        # A server without structured output: the schema goes in the prompt instead.
        schema = json.dumps(action.output_schema, ensure_ascii=False)
        messages = [{"role": "system", "content": JSON_PROMPT.format(schema=schema)}, *messages]
        answer = llm.complete(messages)
    try:
        return _checked(action, answer.content)
    except ValueError as first:
        logger.info("Action %s: the answer is invalid (%s); asking once more", action.name, first)
        messages = [
            *messages,
            {"role": "assistant", "content": answer.content},
            {"role": "user", "content": REPAIR_PROMPT.format(error=first)},
        ]
        repaired = llm.complete(messages)
    try:
        return _checked(action, repaired.content)
    except ValueError as second:
        logger.warning("Action %s: the repaired answer is invalid too (%s)", action.name, second)
        raise InvalidModelOutput() from None


def run(
    action: Action | str, *, user, arguments: dict[str, Any], session=None, message=None
) -> dict[str, Any]:
    """Run an action as ``user``: the input checked against its schema (``InvalidInput``),
    the model asked, and the result checked against the output schema
    (``InvalidModelOutput``). ``LLMError`` when the model can't be reached."""
    if isinstance(action, str):
        action = site.get(action)
    try:
        checked = check_arguments(action.as_tool(), arguments)
    except ToolError as exc:
        raise InvalidInput({"input": [str(exc)]}) from None
    context = ToolContext(user=user, session=session, message=message)
    return _result(action, context, checked)
