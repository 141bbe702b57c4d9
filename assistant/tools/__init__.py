"""Tools the model may call: declared over a site's models or functions
(``declared``), registered from each app's ``ai_tools`` module (``registry``), and
run while an answer streams, or over MCP, as the user (``running``)."""

from .declared import function_tool, model_tool
from .registry import ToolRegistry, register, site
from .running import (
    EXPIRED_TEXT,
    FAILED_TEXT,
    NO_APPROVAL_TEXT,
    REJECTED_TEXT,
    OnTool,
    Tool,
    ToolContext,
    ToolError,
    ToolRun,
    approving,
    check_arguments,
    checking_access,
    stream_chat_with_tools,
)

__all__ = [
    "EXPIRED_TEXT",
    "FAILED_TEXT",
    "NO_APPROVAL_TEXT",
    "REJECTED_TEXT",
    "OnTool",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "ToolRun",
    "approving",
    "check_arguments",
    "checking_access",
    "function_tool",
    "model_tool",
    "register",
    "site",
    "stream_chat_with_tools",
]
