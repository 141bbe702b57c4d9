"""The built-in modes of the demo site: job help and workflow templates, about its
projects, workflows and jobs."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from rest_framework import exceptions

from assistant import services
from assistant.access import Access
from assistant.errors import Conflict
from assistant.models import ChatSession
from assistant.prompts import JOB_CONTEXT_OPTIONS
from assistant.tools import Tool
from modes.base import ModeBehaviour
from modes.registry import register

from . import selectors, workflow_yaml
from .job_tools import JOB_TOOLS
from .models import Job, Project, ProjectMembership, Workflow

logger = logging.getLogger(__name__)


def _object(model, params: dict[str, Any], field: str, *, required: bool):
    value = params.get(field)
    if value in (None, ""):
        if required:
            raise exceptions.ValidationError({field: ["This field is required."]})
        return None
    if isinstance(value, model):
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not str(value).isdigit()
        or int(value) > 2**63 - 1
    ):
        raise exceptions.ValidationError({field: ["Give the id of one."]})
    found = model.objects.filter(pk=int(value)).first()
    if found is None:
        raise exceptions.ValidationError({field: [f"No {model._meta.verbose_name} with id {value}."]})
    return found


def member_objects(user, ids: dict) -> dict:
    """The objects named by ``ids`` (job, project, workflow) from the user's own
    projects; an id that is not among them is bad input."""
    projects = selectors.projects_of(user)
    allowed = {
        "job": Job.objects.filter(workflow__project__in=projects).select_related("workflow__project"),
        "project": projects,
        "workflow": Workflow.objects.filter(project__in=projects),
    }
    found = {}
    for field, value in ids.items():
        if value is None or field not in allowed:
            continue
        found[field] = allowed[field].filter(pk=value).first()
        if found[field] is None:
            raise exceptions.ValidationError({field: [f"No {field} with id {value} of yours."]})
    if "job" in found and "project" not in found:
        found["project"] = found["job"].workflow.project
    return found


class ProjectSessions:
    """Access for sessions about a project's objects: a member whose role may write
    (owner, admin, editor) may use their own sessions; a viewer may read theirs; every
    member may read the project's public sessions; nobody else sees them."""

    #: The path from a session to its project, for list filters.
    project_path: str = "project"

    def session_project_id(self, session: ChatSession) -> int | None:
        return session.project_id

    def session_access(self, *, user, session) -> Access:
        role = selectors.project_role(user=user, project_id=self.session_project_id(session))
        if role is None:
            return Access.NONE
        if session.user_id == user.pk:
            return Access.WRITE if role in ProjectMembership.WRITE_ROLES else Access.READ
        return Access.READ if session.is_public else Access.NONE

    def visible_sessions(self, *, user) -> Q:
        member = ProjectMembership.objects.filter(user=user, project=OuterRef(self.project_path))
        return Q(Exists(member)) & (Q(user=user) | Q(is_public=True))

    def context_objects(self, *, user, ids: dict[str, Any]) -> dict[str, Any]:
        return member_objects(user, ids)

    def chat_input_disabled(self, context: dict[str, Any]) -> str | None:
        user, project = context.get("user"), context.get("project")
        if (
            user is not None
            and project is not None
            and selectors.project_role(user=user, project_id=project.pk) not in ProjectMembership.WRITE_ROLES
        ):
            return "You can read this project's conversations, but your role can't ask the assistant."
        return super().chat_input_disabled(context)


@register
class JobCodeMode(ProjectSessions, ModeBehaviour):
    id = "job_code"
    name = "Job help"
    description = "Write, explain and debug a job's code with its adaptor and run logs as context."
    icon = "code"
    category = "development"
    features = ["code_help", "debugging", "adaptor_guidance", "run_logs"]

    project_path = "job__workflow__project"

    def session_project_id(self, session) -> int | None:
        # The job's project now (not the one recorded when the session started).
        return session.job.workflow.project_id if session.job_id else None

    def input_placeholder(self) -> str:
        return "Ask about your job code, debugging, or adaptors..."

    def chat_title(self, session) -> str:
        if session.title:
            return session.title
        return f"Help with {session.job.name}" if session.job_id else "Job Code Help"

    def validate_form(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"job": _object(Job, params, "job", required=True)}

    def chat_input_disabled(self, context: dict[str, Any]) -> str | None:
        job = context.get("job") or getattr(context.get("session"), "job", None)
        if job is None:
            return "Select a job to ask about it."
        user = context.get("user")
        role = selectors.project_role(user=user, project_id=job.workflow.project_id) if user else None
        if user is not None and role not in ProjectMembership.WRITE_ROLES:
            return "You can't edit this job, so you can't ask about it."
        return super().chat_input_disabled({**context, "project": job.workflow.project})

    def query_options(self, form: dict[str, Any] | None) -> dict[str, Any]:
        form = form or {}
        if not isinstance(form, dict):
            raise exceptions.ValidationError({"options": ["Options are an object."]})
        unknown = set(form) - set(JOB_CONTEXT_OPTIONS)
        if unknown:
            raise exceptions.ValidationError({"options": [f"Unknown options: {', '.join(sorted(unknown))}."]})
        if not all(isinstance(v, bool) for v in form.values()):
            raise exceptions.ValidationError({"options": ["Each option is true or false."]})
        return form

    def tools(self, *, session, message) -> list[Tool]:
        """Read-only looks at the job's own runs and their logs."""
        return list(JOB_TOOLS) if session.job_id else []

    def query(self, *, session, message, on_delta=None, should_stop=None, on_tool=None):
        options = (message.meta or {}).get("options") or {}
        return services.ai_query_job(
            session=session,
            message=message,
            options=options,
            tools=self.tools(session=session, message=message),
            on_delta=on_delta,
            should_stop=should_stop,
            on_tool=on_tool,
        )


@register
class WorkflowTemplateMode(ProjectSessions, ModeBehaviour):
    id = "workflow_template"
    name = "Workflow builder"
    description = "Describe a workflow in plain words and get it as YAML, checked and ready to apply."
    icon = "workflow"
    category = "generation"
    features = ["template_generation", "yaml_validation", "apply_template"]

    def input_placeholder(self) -> str:
        return "Describe the workflow you want to create..."

    def chat_title(self, session) -> str:
        if session.title:
            return session.title
        return f"{session.project.name} Workflow" if session.project_id else "New Workflow"

    def supports_template_generation(self) -> bool:
        return True

    def validate_form(self, params: dict[str, Any]) -> dict[str, Any]:
        project = _object(Project, params, "project", required=True)
        workflow = _object(Workflow, params, "workflow", required=False)
        if workflow is not None and workflow.project_id != project.pk:
            raise exceptions.ValidationError({"workflow": ["The workflow is not in this project."]})
        return {"project": project, "workflow": workflow}

    def query(self, *, session, message, on_delta=None, should_stop=None, on_tool=None):
        return services.ai_query_workflow(
            session=session,
            message=message,
            tools=self.tools(session=session, message=message),
            on_delta=on_delta,
            should_stop=should_stop,
            on_tool=on_tool,
        )

    def apply(self, *, session, message_id=None, dry_run: bool = False) -> dict[str, Any]:
        """Create or update the session's workflow from a template of the session (the
        reply ``message_id``, else the latest), in one transaction; with ``dry_run``,
        report what it would change and change nothing."""
        if session.project_id is None:
            raise Conflict("This session has no project to apply a template to.")
        templates = session.messages.filter(role="assistant", code__isnull=False).order_by("-created_at")
        if message_id is not None:
            chosen = templates.filter(pk=message_id).first()
            if chosen is None:
                raise exceptions.ValidationError(
                    {"message": ["No workflow template of this session has that id."]}
                )
        else:
            chosen = templates.first()
            if chosen is None:
                raise Conflict("The session has no workflow template yet.")
        try:
            with transaction.atomic():
                changes = workflow_yaml.apply(
                    project=session.project, source=chosen.code, workflow=session.workflow, dry_run=dry_run
                )
                if not dry_run:
                    services.session_associate_workflow(session=session, workflow=changes.workflow)
        except workflow_yaml.TemplateError as exc:
            raise Conflict("The template is invalid: " + " ".join(exc.errors)) from None
        except workflow_yaml.ApplyConflict as exc:
            raise Conflict(str(exc)) from None
        return changes.as_dict()

    def handle_response_generated(self, *, session, message, result) -> dict[str, Any]:
        """Keep the YAML of the answer as the reply's ``code`` with its validation
        errors, which go back to the model with the next turn."""
        source = workflow_yaml.extract_yaml(result.content)
        if source is None:
            return {}
        try:
            errors = workflow_yaml.validate(source)
        except Exception:  # the reply is saved all the same, never left processing
            logger.exception("Checking the template of a reply in session %s failed", session.pk)
            errors = ["The template could not be checked. Ask for it again."]
        return {"code": source, "meta": {"validation_errors": errors}}
