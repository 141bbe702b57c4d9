"""The demo site's prompt-backed action: explain why a run failed, as a typed result."""

from __future__ import annotations

from typing import Any

from assistant import actions
from assistant.exceptions import NotFound
from assistant.tools import ToolContext

from .models import Project, Run

LOG_TAIL_CHARS = 6_000

EXPLAIN_SYSTEM = (
    "You explain why a run of an OpenFn job failed. Read the job's code, its adaptor and the "
    "end of the run's log; say in one sentence what happened (summary), what caused it "
    "(cause), and what to change (suggested_fix)."
)


@actions.register
@actions.prompt_action(
    name="explain_failed_run",
    description="Why a run failed: a summary, the cause and a suggested fix.",
    input_schema={
        "properties": {"run_id": {"type": "integer", "minimum": 1, "description": "The run to explain."}},
        "required": ["run_id"],
    },
    output_schema={
        "properties": {
            "summary": {"type": "string", "description": "What happened, in one sentence."},
            "cause": {"type": "string", "description": "Why it happened."},
            "suggested_fix": {"type": "string", "description": "What to change."},
        },
        "required": ["summary", "cause", "suggested_fix"],
    },
)
def explain_failed_run(context: ToolContext, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    mine = Project.objects.filter(memberships__user=context.user) if context.user else Project.objects.none()
    run = (
        Run.objects.select_related("job")
        .filter(pk=arguments["run_id"], job__workflow__project__in=mine)
        .first()
    )
    if run is None:
        raise NotFound(f"You have no run {arguments['run_id']}.")
    log = run.log[-LOG_TAIL_CHARS:]
    return [
        {"role": "system", "content": EXPLAIN_SYSTEM},
        {
            "role": "user",
            "content": (
                f"Job {run.job.name!r}, adaptor {run.job.adaptor}, run state {run.state}.\n\n"
                f"Code:\n```js\n{run.job.code}\n```\n\nEnd of the log:\n```\n{log}\n```"
            ),
        },
    ]
