"""The demo site's tools: find the projects, workflows and jobs a user can see, read a
job, look at its runs and their logs, and change a job's code (a write: the user
approves it first). Each reads through the user's own projects on every call; inside a
conversation about a job, the run tools see that job's runs only."""

from __future__ import annotations

import difflib
from typing import Any

from assistant.exceptions import NotFound, PermissionDenied
from assistant.tools import ToolContext, ToolError, function_tool, model_tool, register

from . import services, sessions
from .models import Job, Project, ProjectMembership, Run, Workflow
from .selectors import project_role

RECENT_RUNS_MAX = 10
LOG_LINES_DEFAULT = 50
LOG_LINES_MAX = 200
#: The longest log tail a tool returns, in characters.
LOG_TAIL_MAX_CHARS = 8_000
ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


def _session_job(context: ToolContext) -> int | None:
    """The job the conversation is about, if it is about one."""
    return sessions.subject_id(context.session, Job) if context.session is not None else None


def _projects(user):
    """The projects the user is a member of (none without a user)."""
    return Project.objects.filter(memberships__user=user) if user is not None else Project.objects.none()


find_projects = register(
    model_tool(
        Project,
        name="find_projects",
        description="The projects the user is a member of.",
        queryset=_projects,
        fields=["id", "name", "updated_at"],
        filters={"id": ["exact", "in"], "name": ["icontains"]},
        ordering=["name", "updated_at"],
        limit=50,
    )
)

find_workflows = register(
    model_tool(
        Workflow,
        name="find_workflows",
        description="Workflows in the user's projects.",
        queryset=lambda user: Workflow.objects.filter(project__in=_projects(user)),
        fields=["id", "name", "project", "project__name", "updated_at"],
        filters={"id": ["exact", "in"], "name": ["icontains"], "project": ["exact"]},
        ordering=["name", "updated_at"],
        limit=50,
    )
)

find_jobs = register(
    model_tool(
        Job,
        name="find_jobs",
        description="Jobs in the user's projects, with workflow and adaptor (for the code: read_job).",
        queryset=lambda user: Job.objects.filter(workflow__project__in=_projects(user)),
        fields=["id", "name", "adaptor", "workflow", "workflow__name", "workflow__project", "updated_at"],
        filters={
            "id": ["exact", "in"],
            "name": ["icontains"],
            "adaptor": ["icontains"],
            "workflow": ["exact"],
            "workflow__project": ["exact"],
        },
        ordering=["name", "updated_at"],
        limit=50,
    )
)


def _runs_of(user):
    return Run.objects.filter(job__workflow__project__in=_projects(user))


def _runs_here(context: ToolContext, rows):
    job_id = _session_job(context)
    return rows.filter(job_id=job_id) if job_id is not None else rows


recent_runs = register(
    model_tool(
        Run,
        name="recent_runs",
        description=(
            "The latest runs, newest first: id, state and times. In a conversation about a job, "
            "that job's runs only."
        ),
        queryset=lambda user: _runs_of(user),
        fields=["id", "job", "state", "created_at", "started_at", "finished_at"],
        filters={"state": ["exact"], "job": ["exact"]},
        ordering=["-created_at"],
        limit=RECENT_RUNS_MAX,
        narrow=_runs_here,
    )
)


def _visible_job(context: ToolContext, job_id: int) -> Job:
    job = Job.objects.filter(pk=job_id, workflow__project__in=_projects(context.user))
    found = job.select_related("workflow").first()
    if found is None:
        raise ToolError(f"You have no job {job_id}.")
    return found


@register
@function_tool(
    name="read_job",
    description="One job's code and adaptor, and its workflow.",
    parameters={
        "properties": {"job_id": {**ID, "description": "A job id from find_jobs."}},
        "required": ["job_id"],
    },
)
def read_job(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    job = _visible_job(context, arguments["job_id"])
    return {
        "id": job.pk,
        "name": job.name,
        "adaptor": job.adaptor,
        "workflow": job.workflow_id,
        "workflow_name": job.workflow.name,
        "code": job.code,
    }


def _bounded(arguments: dict[str, Any], name: str, default: int, maximum: int) -> int:
    value = arguments.get(name, default)
    return default if value is None else max(1, min(int(value), maximum))


@register
@function_tool(
    name="run_log",
    description=(
        "The last lines of the log of one run. In a conversation about a job, without run_id: "
        "the run the user follows, or the job's latest run."
    ),
    parameters={
        "properties": {
            "run_id": {**ID, "description": "A run id from recent_runs."},
            "lines": {
                "type": "integer",
                "minimum": 1,
                "maximum": LOG_LINES_MAX,
                "description": f"Lines from the end, 1 to {LOG_LINES_MAX} (default {LOG_LINES_DEFAULT}).",
            },
        }
    },
)
def run_log(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    runs = _runs_here(context, _runs_of(context.user))
    run_id = arguments.get("run_id")
    if run_id is None and context.session is not None:
        run_id = (context.session.meta or {}).get("follow_run_id")
    if run_id is None and _session_job(context) is None:
        raise ToolError("Give a run_id (see recent_runs).")
    if run_id is not None:
        runs = runs.filter(pk=run_id)
    run = runs.order_by("-created_at", "-id").first()
    if run is None:
        here = "This job has" if _session_job(context) is not None else "You have"
        raise ToolError(f"{here} no run {run_id}." if run_id is not None else f"{here} no runs yet.")
    lines = run.log.splitlines()
    tail = "\n".join(lines[-_bounded(arguments, "lines", LOG_LINES_DEFAULT, LOG_LINES_MAX) :])
    if len(tail) > LOG_TAIL_MAX_CHARS:
        tail = "…" + tail[-(LOG_TAIL_MAX_CHARS - 1) :]
    return {"run_id": run.pk, "state": run.state, "total_lines": len(lines), "log_tail": tail}


def _code_diff(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    """What the user approves: the change to the job's code as a unified diff. A job the
    user can't change is refused before anyone is asked."""
    job = _visible_job(context, arguments["job_id"])
    role = project_role(user=context.user, project_id=job.workflow.project_id)
    if role not in ProjectMembership.WRITE_ROLES:
        raise ToolError("Your role in this project can't change its jobs.")
    diff = difflib.unified_diff(
        job.code.splitlines(),
        arguments["code"].splitlines(),
        fromfile=f"{job.name} (now)",
        tofile=f"{job.name} (proposed)",
        lineterm="",
    )
    return {"job_id": job.pk, "job": job.name, "diff": "\n".join(diff)}


@register
@function_tool(
    name="update_job_code",
    description=(
        "Replace a job's code with new code. The user sees the change as a diff and approves "
        "or rejects it before anything changes."
    ),
    parameters={
        "properties": {
            "job_id": {**ID, "description": "The job to change."},
            "code": {"type": "string", "maxLength": 100_000, "description": "The job's whole new code."},
        },
        "required": ["job_id", "code"],
    },
    writes=True,
    preview=_code_diff,
)
def update_job_code(context: ToolContext, arguments: dict[str, Any]) -> dict[str, Any]:
    try:
        job = services.job_code_update(user=context.user, job_id=arguments["job_id"], code=arguments["code"])
    except (NotFound, PermissionDenied) as exc:
        raise ToolError(str(exc.detail)) from None
    return {"job_id": job.pk, "updated": True}


#: What the job help mode offers, in a conversation about a job.
JOB_TOOLS = [
    "recent_runs",
    "run_log",
    "read_job",
    "find_jobs",
    "semantic_search",
    "explain_failed_run",
    "update_job_code",
]
#: What the workflow builder offers.
WORKFLOW_TOOLS = ["find_projects", "find_workflows", "find_jobs", "semantic_search", "read_job"]
