"""Tools a mode lets the model call while it answers, and the loop that runs them.

A ``Tool`` is a name, a description, a JSON schema of its arguments, and a function
of the conversation (``ToolContext``) and the parsed arguments that returns a string
or a JSON-able value. ``stream_chat_with_tools`` offers a mode's tools to the model;
when the model answers with tool calls it runs each one, telling ``on_tool`` before
(``tool.start``) and after (``tool.end``), gives the model the results and asks again,
for at most ``MAX_TOOL_ROUNDS`` rounds. A tool that is unknown, gets bad arguments or
fails gives the model an error result; it never stops the answer.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from django.core.serializers.json import DjangoJSONEncoder

from .. import llm
from ..access_levels import REVOKED_TEXT, AccessRevoked
from ..conf import assistant_settings
from ..models import ChatMessage, ChatSession

logger = logging.getLogger(__name__)

#: The longest tool result the model is given, and the longest a ``tool.end`` event shows.
RESULT_MAX_LENGTH = 20_000
EVENT_RESULT_MAX_LENGTH = 1_000
EVENT_ARGUMENTS_MAX_LENGTH = 1_000
#: Between the texts of two rounds of one answer.
ROUND_SEPARATOR = "\n\n"
FAILED_TEXT = "The tool failed unexpectedly."

#: ``on_tool(event_type, data)``: ``"tool.start"`` or ``"tool.end"`` with its fields.
OnTool = Callable[[str, dict[str, Any]], None]


class ToolError(Exception):
    """Raised by a tool for a failure the model should read, such as "no such run";
    its text is the error result. Any other exception gives a generic text."""


#: How the tool calls of the answer being made check that its asker may still use
#: the session (set by whoever runs the answer: ``checking_access``).
_access_check: ContextVar[Callable[[], None] | None] = ContextVar("tool_access_check", default=None)


@contextlib.contextmanager
def checking_access(check: Callable[[], None]) -> Iterator[None]:
    """Inside the block, every tool call runs ``check()`` first; it raises
    ``AccessRevoked`` when the asker lost access."""
    token = _access_check.set(check)
    try:
        yield
    finally:
        _access_check.reset(token)


#: ``approve(context, call_id, name, arguments, preview)`` -> "approved", "rejected" or
#: "expired": asks the user to decide on a writing tool's call, and waits (set by
#: whoever runs the answer: ``approving``).
Approve = Callable[["ToolContext", str, str, dict[str, Any], Any], str]
_approver: ContextVar[Approve | None] = ContextVar("tool_approver", default=None)

REJECTED_TEXT = "The user rejected this change; nothing was changed."
EXPIRED_TEXT = "The user did not decide on this change in time; nothing was changed."
NO_APPROVAL_TEXT = "This tool changes data and needs the user's approval, which can't be asked for here."


@contextlib.contextmanager
def approving(approve: Approve) -> Iterator[None]:
    """Inside the block, a writing tool's call runs only once ``approve`` says so."""
    token = _approver.set(approve)
    try:
        yield
    finally:
        _approver.reset(token)


@dataclass(frozen=True)
class ToolContext:
    """Whom a tool runs as, and where: the user, and in a chat the session and the
    question being answered (None over MCP or from code)."""

    session: ChatSession | None = None
    message: ChatMessage | None = None
    #: The user the call runs as; in a chat, the asker of ``message``.
    user: Any = None

    def __post_init__(self) -> None:
        if self.user is None and self.message is not None:
            object.__setattr__(self, "user", self.message.user)

    def check_access(self) -> None:
        """Raise ``AccessRevoked`` unless the asker may still use the session: every
        call is decided anew, since a call may come minutes into an answer. A tool run
        outside ``checking_access`` is refused."""
        check = _access_check.get()
        if check is None:
            raise AccessRevoked(REVOKED_TEXT)
        check()


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    #: JSON schema of the arguments, an ``object`` schema.
    parameters: dict[str, Any]
    #: ``function(context, arguments)`` -> a string or a JSON-able value.
    function: Callable[[ToolContext, dict[str, Any]], Any]
    #: A writing tool changes the site's data: it runs only once the user approves.
    writes: bool = False
    #: A conversation tool needs a session (it reads "this job"): not offered over MCP.
    needs_session: bool = False
    #: ``preview(context, arguments)``: what the user is shown to approve a write (for
    #: code, a diff); raising ``ToolError`` refuses the call before anyone is asked.
    preview: Callable[[ToolContext, dict[str, Any]], Any] | None = None

    def schema(self) -> dict[str, Any]:
        """The tool as the OpenAI ``tools`` request field lists it."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass
class ToolRun:
    call_id: str
    name: str
    ok: bool
    text: str  # the result, or the error
    arguments: Any = None  # as the model sent them (parsed when they were JSON)

    def saved(self) -> dict[str, Any]:
        """The call as the reply keeps it (``meta.tools``), its result cut as events cut it."""
        outcome = (
            {"result": _truncate(self.text, EVENT_RESULT_MAX_LENGTH)} if self.ok else {"error": self.text}
        )
        return {
            "call_id": self.call_id,
            "name": self.name,
            "ok": self.ok,
            "arguments": self.arguments,
            **outcome,
        }


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _argument_error(error: jsonschema.ValidationError) -> str:
    """One schema violation in words the model can act on."""
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        missing = sorted(set(error.validator_value) - set(error.instance))
        return f"Missing arguments: {', '.join(missing)}."
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set((error.schema or {}).get("properties") or {})
        unknown = sorted(set(error.instance) - known)
        prefix = f"{where}: " if where else ""
        return f"{prefix}Unknown arguments: {', '.join(unknown)}."
    if error.validator == "type":
        return f"The argument {where} must be of type {error.validator_value}."
    if error.validator == "enum":
        return f"The argument {where} must be one of {error.validator_value}."
    return f"The argument {where}: {error.message}." if where else f"The arguments: {error.message}."


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check_arguments(tool: Tool, raw: str | dict[str, Any]) -> dict[str, Any]:
    """The call's arguments parsed and checked against the tool's JSON schema
    (``jsonschema``, the schema's own draft; formats such as ``date-time`` checked).
    Raises ``ToolError`` saying what is wrong."""
    if isinstance(raw, dict):
        arguments: Any = raw
    else:
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ToolError(f"The arguments are not valid JSON: {exc}.") from None
    if not isinstance(arguments, dict):
        raise ToolError("The arguments must be a JSON object.")
    validator = _validator(json.dumps(tool.parameters or {}, sort_keys=True))
    errors = sorted(validator.iter_errors(arguments), key=lambda e: (len(e.absolute_path), str(e.path)))
    if errors:
        raise ToolError(_argument_error(errors[0]))
    return arguments


class _Encoder(DjangoJSONEncoder):
    """Django's encoder (decimals, UUIDs, lazy texts) with times in full ISO 8601."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.date | datetime.time):
            return o.isoformat()
        return super().default(o)


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, cls=_Encoder, ensure_ascii=False)


def _approved(tool: Tool, context: ToolContext, call_id: str, arguments: dict[str, Any]) -> None:
    """Return once the user approved the call; ``ToolError`` when they rejected it, let
    it expire, or can't be asked."""
    approve = _approver.get()
    if approve is None:
        raise ToolError(NO_APPROVAL_TEXT)
    preview = tool.preview(context, arguments) if tool.preview is not None else None
    decision = approve(context, call_id, tool.name, arguments, preview)
    if decision != "approved":
        raise ToolError(REJECTED_TEXT if decision == "rejected" else EXPIRED_TEXT)


def _run_one(
    call: dict[str, Any], call_id: str, tools: dict[str, Tool], context: ToolContext, on_tool: OnTool | None
) -> ToolRun:
    name = call.get("name") or ""
    raw = call.get("arguments") or ""
    try:
        shown: Any = json.loads(raw) if raw.strip() else {}
    except ValueError:
        shown = _truncate(raw, EVENT_ARGUMENTS_MAX_LENGTH)
    if on_tool is not None:
        on_tool("tool.start", {"call_id": call_id, "name": name, "arguments": shown})
    try:
        context.check_access()
        tool = tools.get(name)
        if tool is None:
            known = ", ".join(sorted(tools)) or "none"
            raise ToolError(f"There is no tool named {name!r}. The tools are: {known}.")
        arguments = check_arguments(tool, raw)
        if tool.writes:
            _approved(tool, context, call_id, arguments)
            context.check_access()  # the decision may come minutes later
        text = _truncate(as_text(tool.function(context, arguments)), RESULT_MAX_LENGTH)
        run = ToolRun(call_id, name, True, text, shown)
    except AccessRevoked:
        if on_tool is not None:
            on_tool("tool.end", {"call_id": call_id, "name": name, "ok": False, "error": REVOKED_TEXT})
        raise
    except ToolError as exc:
        run = ToolRun(call_id, name, False, str(exc) or FAILED_TEXT, shown)
    except Exception:  # noqa: BLE001  (a broken tool must not stop the answer)
        logger.exception("Tool %s failed", name)
        run = ToolRun(call_id, name, False, FAILED_TEXT, shown)
    if on_tool is not None:
        outcome = {"result": _truncate(run.text, EVENT_RESULT_MAX_LENGTH)} if run.ok else {"error": run.text}
        on_tool("tool.end", {"call_id": call_id, "name": name, "ok": run.ok, **outcome})
    return run


def _add_usage(total: dict[str, int], usage: dict[str, int]) -> None:
    for key, value in usage.items():
        total[key] = total.get(key, 0) + int(value or 0)


@dataclass
class _Text:
    """The answer's text over rounds, streamed on with a separator between rounds."""

    on_delta: Callable[[str], None] | None
    parts: list[str] = field(default_factory=list)
    separate: bool = False

    def delta(self, text: str) -> None:
        if self.separate:
            self.separate = False
            self._emit(ROUND_SEPARATOR)
        self._emit(text)

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        if self.on_delta is not None:
            self.on_delta(text)

    def next_round(self) -> None:
        self.separate = bool(self.parts)

    @property
    def content(self) -> str:
        return "".join(self.parts)


def stream_chat_with_tools(
    messages: list[dict[str, Any]],
    *,
    tools: list[Tool],
    context: ToolContext,
    on_delta: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_tool: OnTool | None = None,
    max_rounds: int | None = None,
) -> llm.ChatResult:
    """Stream an answer, running the tools the model calls. Without tools (or with
    ``TOOLS_ENABLED`` off) this is one ``llm.stream_chat``. The text of every round is
    streamed and joined; the usage of every round is summed. Raises ``LLMError`` or
    ``Cancelled`` as ``stream_chat`` does."""
    if not tools or not assistant_settings.TOOLS_ENABLED:
        return llm.stream_chat(messages, on_delta=on_delta, should_stop=should_stop)
    max_rounds = assistant_settings.MAX_TOOL_ROUNDS if max_rounds is None else max_rounds
    by_name = {tool.name: tool for tool in tools}
    schemas = [tool.schema() for tool in tools]
    messages = list(messages)
    text = _Text(on_delta)
    usage: dict[str, int] = {}
    runs: list[ToolRun] = []
    for round_number in range(max_rounds + 1):
        last = round_number == max_rounds
        text.next_round()
        result = llm.stream_chat(
            messages,
            on_delta=text.delta,
            should_stop=should_stop,
            tools=schemas,
            tool_choice="none" if last else None,
        )
        _add_usage(usage, result.usage)
        if not result.tool_calls or last:
            break
        calls = [
            {**call, "id": call.get("id") or f"call_{round_number}_{index}"}
            for index, call in enumerate(result.tool_calls)
        ]
        messages.append(
            {
                "role": "assistant",
                "content": result.content or None,
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"] or "{}"},
                    }
                    for call in calls
                ],
            }
        )
        for call in calls:
            if should_stop is not None and should_stop():
                raise llm.Cancelled
            run = _run_one(call, call["id"], by_name, context, on_tool)
            runs.append(run)
            messages.append({"role": "tool", "tool_call_id": run.call_id, "content": run.text})
        llm.db_connection_release()
    return llm.ChatResult(
        content=text.content,
        model=result.model,
        usage=usage,
        finish_reason=result.finish_reason,
        tool_calls=result.tool_calls,
        tool_runs=[run.saved() for run in runs],
    )
