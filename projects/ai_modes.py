"""The built-in modes of the demo site: job help and workflow templates, about its
projects, workflows and jobs."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from rest_framework import serializers

from assistant import services
from assistant.access_levels import Access
from assistant.exceptions import Conflict, InvalidInput
from assistant.models import ChatMessage
from assistant.tools import Tool
from modes.base import ModeBehaviour
from modes.registry import register

from . import prompts, selectors, sessions, workflow_yaml
from .ai_tools import JOB_TOOLS
from .models import Job, Project, ProjectMembership, Workflow, scope_of
from .prompts import JOB_CONTEXT_OPTIONS

logger = logging.getLogger(__name__)


def _object(model, params: dict[str, Any], field: str, *, required: bool):
    value = params.get(field)
    if value in (None, ""):
        if required:
            raise InvalidInput({field: ["This field is required."]})
        return None
    if isinstance(value, model):
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not str(value).isdigit()
        or int(value) > 2**63 - 1
    ):
        raise InvalidInput({field: ["Give the id of one."]})
    found = model.objects.filter(pk=int(value)).first()
    if found is None:
        raise InvalidInput({field: [f"No {model._meta.verbose_name} with id {value}."]})
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
            raise InvalidInput({field: [f"No {field} with id {value} of yours."]})
    if "job" in found and "project" not in found:
        found["project"] = found["job"].workflow.project
    return found


#: Largest id a database integer column holds; bigger ones are bad input, not a crash.
ID_MAX = 2**63 - 1


def _id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=ID_MAX, **kwargs)


class ProjectSessions:
    """Sessions about a project's objects, filed under the project's scope. A member
    whose role may write (owner, admin, editor) may use their own sessions; a viewer may
    read theirs; every member may read the project's public sessions; nobody else sees
    them. They have DESIGN.md's ``job``, ``project`` and ``workflow`` fields."""

    def session_access(self, *, user, session) -> Access:
        role = selectors.project_role(user=user, project_id=sessions.project_id(session))
        if role is None:
            return Access.NONE
        if session.user_id == user.pk:
            return Access.WRITE if role in ProjectMembership.WRITE_ROLES else Access.READ
        return Access.READ if session.is_public else Access.NONE

    def visible_sessions(self, *, user) -> Q:
        return Q(scope__in=sessions.member_scopes(user)) & (Q(user=user) | Q(is_public=True))

    def context_objects(self, *, user, ids: dict[str, Any]) -> dict[str, Any]:
        return member_objects(user, ids)

    def session_fields(self) -> dict[str, serializers.Field]:
        return {
            "job": serializers.IntegerField(allow_null=True),
            "project": serializers.IntegerField(allow_null=True),
            "workflow": serializers.IntegerField(allow_null=True),
        }

    def session_values(self, session) -> dict[str, Any]:
        return sessions.shape(session)

    def list_filters(self) -> dict[str, serializers.Field]:
        return {"project": _id_field()}

    def filter_sessions(self, params: dict[str, Any]) -> Q:
        if params.get("project") is not None:
            return Q(scope=scope_of(params["project"]))
        return Q()

    def chat_input_disabled(self, context: dict[str, Any]) -> str | None:
        user, project = context.get("user"), context.get("project")
        if project is None and context.get("session") is not None:
            project = Project.objects.filter(pk=sessions.project_id(context["session"])).first()
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
    tool_names = JOB_TOOLS

    def input_placeholder(self) -> str:
        return "Ask about your job code, debugging, or adaptors..."

    def chat_title(self, session) -> str:
        if session.title:
            return session.title
        job = session.subject
        return f"Help with {job.name}" if isinstance(job, Job) else "Job Code Help"

    def form_fields(self) -> dict[str, serializers.Field]:
        return {"job": _id_field(help_text="The job to ask about (job_code).")}

    def validate_form(self, params: dict[str, Any]) -> dict[str, Any]:
        job = _object(Job, params, "job", required=True)
        return {"subject": job, "scope": scope_of(job.workflow.project_id)}

    def list_filters(self) -> dict[str, serializers.Field]:
        return {**super().list_filters(), "job": _id_field()}

    def filter_sessions(self, params: dict[str, Any]) -> Q:
        found = super().filter_sessions(params)
        if params.get("job") is not None:
            found &= Q(**sessions.subject_is(Job, params["job"]))
        return found

    def chat_input_disabled(self, context: dict[str, Any]) -> str | None:
        session = context.get("session")
        job_id = (
            context["job"].pk
            if context.get("job")
            else sessions.subject_id(session, Job)
            if session
            else None
        )
        project_id = context["job"].workflow.project_id if context.get("job") else (
            sessions.project_id(session) if session else None
        )  # fmt: skip
        if job_id is None:
            return "Select a job to ask about it."
        user = context.get("user")
        role = selectors.project_role(user=user, project_id=project_id) if user else None
        if user is not None and role not in ProjectMembership.WRITE_ROLES:
            return "You can't edit this job, so you can't ask about it."
        return ModeBehaviour.chat_input_disabled(self, context)

    def enable_attachment_options(self) -> bool:
        """The page offers switches for what goes with a question: the job's code, its
        followed run's logs, input and output (``JOB_CONTEXT_OPTIONS``)."""
        return True

    def query_options(self, form: dict[str, Any] | None) -> dict[str, Any]:
        form = form or {}
        if not isinstance(form, dict):
            raise InvalidInput({"options": ["Options are an object."]})
        unknown = set(form) - {*JOB_CONTEXT_OPTIONS, "run"}
        if unknown:
            raise InvalidInput({"options": [f"Unknown options: {', '.join(sorted(unknown))}."]})
        switches = {key: value for key, value in form.items() if key != "run"}
        if not all(isinstance(v, bool) for v in switches.values()):
            raise InvalidInput({"options": ["Each option is true or false."]})
        run = form.get("run")
        if run is not None and (isinstance(run, bool) or not isinstance(run, int) or run < 1):
            raise InvalidInput({"options": ["run is the id of one of the job's runs."]})
        return form

    def tools(self, *, session, message) -> list[Tool]:
        """Read-only looks at the job's own runs and their logs."""
        return super().tools(session=session, message=message) if sessions.subject_id(session, Job) else []

    def query(self, *, session, message, on_delta=None, should_stop=None, on_tool=None):
        """Ask with the job's code and adaptor, and the log of the run the question
        chose (``options["run"]``, one of the job's runs) or else the one the session
        follows (``meta["follow_run_id"]``) when the question's options switch logs on."""
        job = session.subject if sessions.subject_id(session, Job) is not None else None
        options = (message.meta or {}).get("options") or {}
        followed = options.get("run") or (session.meta or {}).get("follow_run_id")
        context = prompts.job_context(job, follow_run_id=followed) if job is not None else None
        return services.ai_query(
            session=session,
            message=message,
            messages=prompts.job_messages(session, message, context, options),
            tools=self.tools(session=session, message=message),
            on_delta=on_delta,
            should_stop=should_stop,
            on_tool=on_tool,
        )


def _workflow_of(session) -> Workflow | None:
    workflow_id = sessions.subject_id(session, Workflow)
    return Workflow.objects.filter(pk=workflow_id).first() if workflow_id is not None else None


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
        project = Project.objects.filter(pk=sessions.project_id(session)).first()
        return f"{project.name} Workflow" if project else "New Workflow"

    def supports_template_generation(self) -> bool:
        return True

    def form_fields(self) -> dict[str, serializers.Field]:
        return {
            "project": _id_field(help_text="The project of the workflow (workflow_template)."),
            "workflow": _id_field(help_text="The workflow to change; none to make a new one."),
        }

    def validate_form(self, params: dict[str, Any]) -> dict[str, Any]:
        project = _object(Project, params, "project", required=True)
        workflow = _object(Workflow, params, "workflow", required=False)
        if workflow is not None and workflow.project_id != project.pk:
            raise InvalidInput({"workflow": ["The workflow is not in this project."]})
        return {"subject": workflow or project, "scope": scope_of(project.pk)}

    def list_filters(self) -> dict[str, serializers.Field]:
        return {
            **super().list_filters(),
            "workflow": serializers.RegexField(
                r"^(\d{1,18}|none)$", required=False, help_text="A workflow's id, or none for new workflows."
            ),
        }

    def filter_sessions(self, params: dict[str, Any]) -> Q:
        found = super().filter_sessions(params)
        workflow = params.get("workflow")
        if workflow == "none":
            found &= Q(subject_type=sessions.subject_is(Project, 0)["subject_type"])
        elif workflow is not None:
            found &= Q(**sessions.subject_is(Workflow, workflow))
        return found

    def query(self, *, session, message, on_delta=None, should_stop=None, on_tool=None):
        """Ask with the session's latest YAML (else its workflow's) and the validation
        errors of the last attempt."""
        last = (
            session.messages.filter(
                role=ChatMessage.Role.ASSISTANT, status=ChatMessage.Status.SUCCESS, code__isnull=False
            )
            .order_by("-created_at")
            .only("code", "meta")
            .first()
        )
        if last is not None:
            code, errors = last.code, (last.meta or {}).get("validation_errors")
        else:
            workflow = _workflow_of(session)
            code, errors = (workflow.spec if workflow else None), None
        return services.ai_query(
            session=session,
            message=message,
            messages=prompts.workflow_messages(session, message, code=code, errors=errors),
            tools=self.tools(session=session, message=message),
            on_delta=on_delta,
            should_stop=should_stop,
            on_tool=on_tool,
        )

    def apply(self, *, session, message_id=None, dry_run: bool = False) -> dict[str, Any]:
        """Create or update the session's workflow from a template of the session (the
        reply ``message_id``, else the latest), in one transaction; with ``dry_run``,
        report what it would change and change nothing."""
        project = Project.objects.filter(pk=sessions.project_id(session)).first()
        if project is None:
            raise Conflict("This session has no project to apply a template to.")
        templates = session.messages.filter(role="assistant", code__isnull=False).order_by("-created_at")
        if message_id is not None:
            chosen = templates.filter(pk=message_id).first()
            if chosen is None:
                raise InvalidInput({"message": ["No workflow template of this session has that id."]})
        else:
            chosen = templates.first()
            if chosen is None:
                raise Conflict("The session has no workflow template yet.")
        try:
            with transaction.atomic():
                changes = workflow_yaml.apply(
                    project=project, source=chosen.code, workflow=_workflow_of(session), dry_run=dry_run
                )
                if not dry_run:
                    sessions.session_associate_workflow(session=session, workflow=changes.workflow)
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
