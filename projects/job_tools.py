"""The job help mode's tools: read-only looks at the runs of the session's own job.

Every tool reads through the session's own job only, so no argument the model makes
up can reach another job's runs.
"""

from __future__ import annotations

from typing import Any

from assistant.tools import Tool, ToolContext, ToolError

from . import selectors, sessions
from .models import Job

RECENT_RUNS_MAX = 10
LOG_LINES_DEFAULT = 50
LOG_LINES_MAX = 200
#: The longest log tail a tool returns, in characters.
LOG_TAIL_MAX_CHARS = 8_000


def _job_id(context: ToolContext) -> int:
    job_id = sessions.subject_id(context.session, Job)
    if job_id is None:
        raise ToolError("This conversation is not about a job.")
    return job_id


def _bounded(arguments: dict[str, Any], name: str, default: int, maximum: int) -> int:
    value = arguments.get(name, default)
    if value is None:
        return default
    return max(1, min(int(value), maximum))


def _when(value) -> str | None:
    return value.isoformat() if value is not None else None


def recent_runs(context: ToolContext, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    limit = _bounded(arguments, "limit", 5, RECENT_RUNS_MAX)
    return [
        {
            "id": run.pk,
            "state": run.state,
            "created_at": _when(run.created_at),
            "started_at": _when(run.started_at),
            "finished_at": _when(run.finished_at),
        }
        for run in selectors.job_runs_recent(job_id=_job_id(context), limit=limit)
    ]


def run_log(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    job_id = _job_id(context)
    run_id = arguments.get("run_id")
    if run_id is None:
        run_id = (context.session.meta or {}).get("follow_run_id")
    run = selectors.job_run_get(job_id=job_id, run_id=run_id)
    if run is None:
        raise ToolError(
            f"This job has no run {run_id}." if run_id is not None else "This job has no runs yet."
        )
    lines = run.log.splitlines()
    tail = "\n".join(lines[-_bounded(arguments, "lines", LOG_LINES_DEFAULT, LOG_LINES_MAX) :])
    if len(tail) > LOG_TAIL_MAX_CHARS:
        tail = "…" + tail[-(LOG_TAIL_MAX_CHARS - 1) :]
    return {"run_id": run.pk, "state": run.state, "total_lines": len(lines), "log_tail": tail}


RECENT_RUNS = Tool(
    name="recent_runs",
    description="The latest runs of the job this conversation is about, newest first: id, state and times.",
    parameters={
        "type": "object",
        "properties": {
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": RECENT_RUNS_MAX,
                "description": f"How many runs, 1 to {RECENT_RUNS_MAX} (default 5).",
            }
        },
        "additionalProperties": False,
    },
    function=recent_runs,
)

RUN_LOG = Tool(
    name="run_log",
    description=(
        "The last lines of the log of one run of this job: the run the user follows, or the "
        "latest run, when no run_id is given."
    ),
    parameters={
        "type": "object",
        "properties": {
            "run_id": {"type": "integer", "description": "A run id from recent_runs."},
            "lines": {
                "type": "integer",
                "minimum": 1,
                "maximum": LOG_LINES_MAX,
                "description": f"Lines from the end, 1 to {LOG_LINES_MAX} (default {LOG_LINES_DEFAULT}).",
            },
        },
        "additionalProperties": False,
    },
    function=run_log,
)

JOB_TOOLS = [RECENT_RUNS, RUN_LOG]
