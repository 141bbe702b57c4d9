"""What the built-in modes ask the model: job help with the job's code, adaptor and a
run's log; workflow templates with the current YAML and the last attempt's errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.models import ChatMessage, ChatSession
from assistant.prompts import history

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


@dataclass
class JobContext:
    """What a job-help question is asked with."""

    code: str
    adaptor: str
    run_log: str | None = None
    run_id: int | None = None


def job_context(job, *, follow_run_id=None) -> JobContext:
    """The job's code and adaptor, and the log of run ``follow_run_id`` of the job (when
    it is one of the job's runs)."""
    context = JobContext(code=job.code, adaptor=job.adaptor)
    if follow_run_id is not None:
        run = job.runs.filter(pk=follow_run_id).only("id", "log").first()
        if run is not None:
            context.run_log, context.run_id = run.log, run.pk
    return context


def job_messages(
    session: ChatSession,
    message: ChatMessage,
    context: JobContext | None,
    options: dict[str, Any] | None = None,
) -> list[dict[str, str]]:
    """The job-help request: system prompt with the job's code, adaptor and (when
    switched on) the followed run's log, the history, and the question."""
    chosen = {**JOB_CONTEXT_OPTIONS, **(options or {})}
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
