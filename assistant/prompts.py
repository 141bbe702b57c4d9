"""What the model is asked: the system prompts and the conversation for each kind of
session. Modes choose which of these to use."""

from __future__ import annotations

from typing import Any

from .models import ChatMessage, ChatSession

HISTORY_LIMIT = 20

JOB_SYSTEM = """\
You are the assistant of a data integration platform. You help users write, explain and \
debug the code of one job: a JavaScript expression that runs with an adaptor (a library \
of operations for one system, for example "@openfn/language-http"). Answer concisely, \
show code in fenced blocks, and say so when you are not sure."""

WORKFLOW_SYSTEM = """\
You design workflows for a data integration platform (OpenFn). Answer with the complete \
workflow as OpenFn workflow YAML in one ```yaml fenced block, then a short explanation. \
The YAML has:
- `name`: the workflow's name.
- `jobs`: a mapping from each job's key (its name with hyphens, e.g. `Fetch-patients`) to \
`name`, `adaptor` (e.g. "@openfn/language-http@latest") and `body` (the job's code).
- `triggers`: a mapping from each trigger's key to `type` (webhook or cron), `enabled` \
(true or false) and, for cron, `cron_expression` (five fields, e.g. "0 6 * * *").
- `edges`: a mapping from `source->target` (e.g. `webhook->Fetch-patients`) to \
`source_trigger` or `source_job` (a key above), `target_job`, `condition_type` (always, \
on_job_success, on_job_failure, or js_expression with a `condition_expression` such as \
"!state.errors" and a short `condition_label`) and `enabled` (true or false).
Edges may only connect steps that exist; a trigger starts one job. Use no YAML anchors \
or aliases."""

#: The per-message switches of job context, and their defaults.
JOB_CONTEXT_OPTIONS = {"code": True, "logs": False, "input": False, "output": False}


def history(session: ChatSession, before: ChatMessage) -> list[dict[str, str]]:
    """The answered turns before ``before``, oldest first, at most ``HISTORY_LIMIT``."""
    rows = (
        session.messages.filter(status=ChatMessage.Status.SUCCESS, created_at__lt=before.created_at)
        .exclude(pk=before.pk)
        .order_by("-created_at")
        .values_list("role", "content")[:HISTORY_LIMIT]
    )
    return [{"role": role, "content": content} for role, content in reversed(rows)]


def job_messages(
    session: ChatSession, message: ChatMessage, options: dict[str, Any] | None = None
) -> list[dict[str, str]]:
    """The job-help request: system prompt with the job's code, adaptor and (when
    switched on) the followed run's log, the history, and the question."""
    chosen = {**JOB_CONTEXT_OPTIONS, **(options or {})}
    context = getattr(session, "context", None)
    parts = [JOB_SYSTEM]
    if context is not None:
        parts.append(f"The job uses the adaptor {context.adaptor}.")
        if chosen["code"] and context.code:
            parts.append(f"The job's code:\n```js\n{context.code}\n```")
        if chosen["logs"] and context.run_log:
            parts.append(f"The log of run {context.run_id}:\n```\n{context.run_log}\n```")
    return [
        {"role": "system", "content": "\n\n".join(parts)},
        *history(session, message),
        {"role": "user", "content": message.content},
    ]


def workflow_messages(
    session: ChatSession, message: ChatMessage, *, code: str | None = None, errors: list[str] | None = None
) -> list[dict[str, str]]:
    """The workflow-template request: the current YAML and the validation errors of
    the last attempt go with the question, so the model can correct itself."""
    question = message.content
    if code:
        question += f"\n\nThe current workflow YAML:\n```yaml\n{code}\n```"
    if errors:
        listed = "\n".join(f"- {error}" for error in errors)
        question += f"\n\nYour last YAML was invalid. Fix these errors:\n{listed}"
    return [
        {"role": "system", "content": WORKFLOW_SYSTEM},
        *history(session, message),
        {"role": "user", "content": question},
    ]


def plain_messages(session: ChatSession, message: ChatMessage) -> list[dict[str, str]]:
    return [*history(session, message), {"role": "user", "content": message.content}]
