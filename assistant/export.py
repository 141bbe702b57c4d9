"""A conversation as a file: Markdown to read, JSON to process (``GET
/api/sessions/{id}/export?format=markdown|json``)."""

from __future__ import annotations

import re
from typing import Any

from .models import ChatMessage, ChatSession

FORMATS = ("markdown", "json")


def filename(session: ChatSession, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", session.title or "conversation").strip("-").lower()
    return f"{stem[:60] or 'conversation'}.{extension}"


def _when(message: ChatMessage) -> str:
    return message.created_at.strftime("%Y-%m-%d %H:%M UTC")


def as_markdown(session: ChatSession, messages: list[dict[str, Any]], rows: list[ChatMessage]) -> str:
    """The conversation as Markdown: a heading, then each message under who wrote it
    and when, with the code it carried and the tools an answer used."""
    lines = [
        f"# {session.title or 'Conversation'}",
        "",
        f"_{session.mode} · started {session.created_at:%Y-%m-%d %H:%M} UTC_",
        "",
    ]
    for row, data in zip(rows, messages, strict=True):
        who = "You" if row.role == ChatMessage.Role.USER else "Assistant"
        lines += [f"## {who} · {_when(row)}", ""]
        for call in (data.get("meta") or {}).get("tools") or []:
            lines.append(f"> Used `{call.get('name')}`" + ("" if call.get("ok") else " (failed)"))
        if (data.get("meta") or {}).get("tools"):
            lines.append("")
        lines += [row.content.rstrip(), ""]
        if row.code:
            lines += ["```yaml", row.code.rstrip(), "```", ""]
        if row.status == ChatMessage.Status.ERROR:
            lines += [f"_Not answered: {row.error}_", ""]
    return "\n".join(lines).rstrip() + "\n"
