"""The agents app's settings: ``settings.AGENTS`` over these defaults, read on use."""

from __future__ import annotations

from typing import Any

from assistant.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # Log lines a task keeps at most; later lines are dropped (one warning says so).
    "MAX_LOG_LINES": 1000,
    # Characters of one log line; longer text is cut.
    "MAX_LINE_LENGTH": 2000,
    # Log lines GET /api/tasks/{id} returns at most per request.
    "LOG_PAGE_SIZE": 500,
    # Send the owner a user.message event when a task ends.
    "NOTIFY_USER": True,
    # run_command's allowlist: {name: {"argv": [...], "args": False, "timeout": 60, "cwd": None}}.
    "COMMANDS": {},
    # Seconds a command may run when its entry sets no timeout.
    "COMMAND_TIMEOUT": 60.0,
}


agents_settings = AppSettings("AGENTS", DEFAULTS)
