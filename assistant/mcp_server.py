"""The registered tools over the Model Context Protocol: ``/mcp/`` speaks Streamable
HTTP through the official ``mcp`` SDK (initialize, tools/list, tools/call, ping and its
JSON-RPC errors).

Every request is authenticated before the SDK sees it, with ``Authorization: Bearer``
and an access JWT or a personal API key (``accounts.api_keys``): anything else is a 401.
``tools/list`` lists the tools the caller may use (those that need a conversation are
left out); ``tools/call`` runs one as the caller, with the chat's checks: the caller is
asked for again (a revoked key or a deactivated user stops there), the arguments are
checked against the schema, and the tool reads the caller's own rows. A writing tool
runs at once over a key made with write permission; otherwise the call waits until the
user approves it in the chat page (or over ``/api/tool-calls/``). Bad arguments and a
tool's refusal are a result with ``isError``; an unknown tool is a JSON-RPC error.

``with_assistant`` routes ``<prefix>mcp/`` here; the SDK's session manager starts with
the first request, on the server's event loop, and stays for the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from . import selectors, services

logger = logging.getLogger(__name__)

CALLER_KEY = "assistant.mcp_caller"
NOT_AUTHENTICATED_TEXT = "Send Authorization: Bearer with an access token or a personal API key."


@dataclass(frozen=True)
class Caller:
    """Who an MCP request comes from: the user, and the API key (None for a JWT)."""

    user_id: int
    key_id: Any = None
    can_write: bool = False


def authenticate(authorization: str) -> Caller | None:
    """The caller a ``Bearer`` header authenticates (one query), or None."""
    from accounts.api_keys import PREFIX, key_for
    from accounts.tokens import user_for_access_token

    scheme, _, raw = authorization.partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        return None
    if raw.startswith(PREFIX):
        key = key_for(raw)
        return Caller(key.user_id, key.pk, key.can_write) if key is not None else None
    user = user_for_access_token(raw)
    return Caller(user.pk) if user is not None else None


def _current_user(caller: Caller):
    """The caller's user if they may still act: active, and their key not revoked."""
    from django.contrib.auth import get_user_model

    from accounts.models import ApiKey

    if caller.key_id is not None:
        key = ApiKey.objects.select_related("user").filter(
            pk=caller.key_id, revoked_at__isnull=True, user__is_active=True
        )
        found = key.first()
        return found.user if found is not None else None
    return get_user_model().objects.filter(pk=caller.user_id, is_active=True).first()


def offered_tools() -> list:
    """What MCP offers: every registered tool but those that need a conversation."""
    from .tools import site

    return [tool for tool in site.all() if not tool.needs_session]


def run_tool(caller: Caller, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """Run one tool as the caller; ``(ok, text)``. ``LookupError`` for an unknown tool."""
    from .access_levels import REVOKED_TEXT, AccessRevoked
    from .tools import ToolContext, ToolError, check_arguments, checking_access
    from .tools.running import EVENT_RESULT_MAX_LENGTH, as_text

    tools = {tool.name: tool for tool in offered_tools()}
    tool = tools.get(name)
    if tool is None:
        raise LookupError(f"There is no tool named {name!r}. The tools are: {', '.join(sorted(tools))}.")
    user = _current_user(caller)

    def still_allowed() -> None:
        if _current_user(caller) is None:
            raise AccessRevoked(REVOKED_TEXT)

    try:
        if user is None:
            raise AccessRevoked(REVOKED_TEXT)
        checked = check_arguments(tool, arguments)
        with checking_access(still_allowed):
            context = ToolContext(user=user)
            context.check_access()
            call = None
            if tool.writes:
                # Its refusals come before anything changes or anyone is asked.
                preview = tool.preview(context, checked) if tool.preview is not None else None
                if not caller.can_write:
                    call = _approved_by_the_user(user, tool.name, checked, preview)
                    context.check_access()
            ok, text = True, as_text(tool.function(context, checked))
            if call is not None:
                services.tool_call_record(call_id=call.pk, ok=ok, text=text[:EVENT_RESULT_MAX_LENGTH])
            return ok, text
    except (ToolError, AccessRevoked) as exc:
        return False, str(exc)
    except Exception:  # noqa: BLE001  (a broken tool answers with an error, never a 500)
        logger.exception("MCP tool %s failed", name)
        from .tools import FAILED_TEXT

        return False, FAILED_TEXT


def _run_tool_apart(caller: Caller, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    """``run_tool`` on a thread of its own (a call may wait minutes for an approval,
    and must not hold up the process's one thread for synchronous code), with that
    thread's database connection given back after it."""
    from django.db import close_old_connections, connection

    close_old_connections()
    try:
        return run_tool(caller, name, arguments)
    finally:
        connection.close()


def _approved_by_the_user(user, name: str, arguments: dict[str, Any], preview: Any):
    """Wait for the user to approve a writing call an agent made (in the chat page or
    with ``POST /api/tool-calls/{id}/approve/``); the call, or ``ToolError`` when they
    rejected it or did not decide within ``MCP_APPROVAL_TIMEOUT``."""
    from .conf import assistant_settings
    from .models import ToolCall
    from .tools import EXPIRED_TEXT, REJECTED_TEXT, ToolError

    timeout = assistant_settings.MCP_APPROVAL_TIMEOUT
    call = services.tool_call_propose_for_agent(
        user=user, name=name, arguments=arguments, preview=preview, expires_in=timeout
    )
    deadline = time.monotonic() + timeout
    while True:
        status = selectors.tool_call_status(call_id=call.pk)
        if status == ToolCall.Status.APPROVED:
            return call
        if status == ToolCall.Status.REJECTED:
            raise ToolError(REJECTED_TEXT)
        if status == ToolCall.Status.EXPIRED or (
            time.monotonic() >= deadline and services.tool_call_expire(call_id=call.pk)
        ):
            raise ToolError(EXPIRED_TEXT)
        time.sleep(assistant_settings.APPROVAL_POLL_INTERVAL)


def _server():
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    def caller_of(ctx) -> Caller:
        return ctx.request.scope[CALLER_KEY]

    async def list_tools(ctx, params) -> types.ListToolsResult:
        tools = await sync_to_async(offered_tools)()
        return types.ListToolsResult(
            tools=[
                types.Tool(name=tool.name, description=tool.description, input_schema=tool.parameters)
                for tool in tools
            ]
        )

    async def call_tool(ctx, params) -> types.CallToolResult:
        try:
            ok, text = await sync_to_async(_run_tool_apart, thread_sensitive=False)(
                caller_of(ctx), params.name, params.arguments or {}
            )
        except LookupError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        structured = None
        if ok:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            structured = parsed if isinstance(parsed, dict) else None
        return types.CallToolResult(
            content=[types.TextContent(text=text)], structured_content=structured, is_error=not ok
        )

    return Server(
        "django-ai-assistant",
        version="0.1.0",
        instructions="Tools over this site's data, run as you.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class MCPApplication:
    """The ASGI application of ``/mcp/``: authentication, then the SDK's Streamable
    HTTP session manager (stateless: every POST stands alone, JSON answers)."""

    def __init__(self) -> None:
        self._manager = None
        self._started: asyncio.Future | None = None
        self._task: asyncio.Task | None = None

    async def _ensure_started(self) -> None:
        if self._started is None:
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

            loop = asyncio.get_running_loop()
            self._started = loop.create_future()
            self._manager = StreamableHTTPSessionManager(app=_server(), stateless=True, json_response=True)
            self._task = loop.create_task(self._run())
        await asyncio.shield(self._started)

    async def _run(self) -> None:
        try:
            async with self._manager.run():
                self._started.set_result(None)
                await asyncio.Event().wait()
        except BaseException as exc:
            if not self._started.done():
                self._started.set_exception(exc)
            raise

    async def __call__(self, scope, receive, send) -> None:
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        caller = await sync_to_async(authenticate)(headers.get("authorization", ""))
        if caller is None:
            await _json(send, 401, {"error": "not_authenticated", "detail": NOT_AUTHENTICATED_TEXT},
                        [(b"www-authenticate", b'Bearer realm="mcp"')])  # fmt: skip
            return
        await self._ensure_started()
        await self._manager.handle_request({**scope, CALLER_KEY: caller}, receive, send)


async def _json(send, status: int, body: dict, headers: list | None = None) -> None:
    payload = json.dumps(body).encode()
    length = str(len(payload)).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", length), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": payload})


def routed(django_application, *, prefix: str):
    """HTTP to ``/<prefix>mcp`` (and below) goes to MCP, everything else to Django."""
    root = f"/{prefix}/mcp" if prefix else "/mcp"
    mcp_application = MCPApplication()

    async def application(scope, receive, send):
        if scope["type"] == "http" and (scope["path"] == root or scope["path"].startswith(root + "/")):
            await mcp_application(scope, receive, send)
        else:
            await django_application(scope, receive, send)

    return application
