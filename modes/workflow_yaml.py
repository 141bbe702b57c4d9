"""Workflow templates as YAML: finding them in an answer, validating them, and
applying them to a project's workflow and jobs."""

from __future__ import annotations

import re
from typing import Any

import yaml
from django.db import transaction

from assistant.models import Job, Project, Workflow

FENCE = re.compile(r"```(?:yaml|yml)?[ \t]*\n(.*?)```", re.S | re.I)
TRIGGER_TYPES = {"webhook", "cron"}
CONDITIONS = {"always", "on_job_success", "on_job_failure", "js_expression"}


def extract_yaml(text: str) -> str | None:
    """The first fenced YAML block of an answer, or None."""
    for block in FENCE.findall(text or ""):
        if block.strip():
            return block.strip() + "\n"
    return None


def validate(source: str) -> list[str]:
    """Every problem of a workflow YAML, as sentences; empty when it is valid."""
    try:
        spec = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        return [f"The YAML does not parse: {exc}".replace("\n", " ")]
    if not isinstance(spec, dict):
        return ["The workflow must be a mapping with name, jobs, triggers and edges."]
    errors: list[str] = []
    if not isinstance(spec.get("name"), str) or not spec["name"].strip():
        errors.append("The workflow needs a `name`.")
    jobs = spec.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        errors.append("The workflow needs at least one job under `jobs`.")
        jobs = {}
    for key, job in jobs.items():
        if not isinstance(job, dict):
            errors.append(f"Job `{key}` must be a mapping.")
            continue
        if not isinstance(job.get("name"), str) or not job["name"].strip():
            errors.append(f"Job `{key}` needs a `name`.")
        if not isinstance(job.get("adaptor"), str) or not job["adaptor"].strip():
            errors.append(f"Job `{key}` needs an `adaptor`.")
        if "body" in job and not isinstance(job["body"], str):
            errors.append(f"The `body` of job `{key}` must be text.")
    triggers = spec.get("triggers")
    if not isinstance(triggers, dict) or not triggers:
        errors.append("The workflow needs at least one trigger under `triggers`.")
        triggers = {}
    for key, trigger in triggers.items():
        kind = trigger.get("type") if isinstance(trigger, dict) else None
        if kind not in TRIGGER_TYPES:
            errors.append(f"Trigger `{key}` needs a `type` of webhook or cron.")
        elif kind == "cron" and not str(trigger.get("cron_expression", "")).strip():
            errors.append(f"Cron trigger `{key}` needs a `cron_expression`.")
    edges = spec.get("edges")
    if not isinstance(edges, list) or not edges:
        errors.append("The workflow needs `edges` connecting its trigger to its jobs.")
        edges = []
    for n, edge in enumerate(edges, 1):
        if not isinstance(edge, dict):
            errors.append(f"Edge {n} must be a mapping.")
            continue
        sources = [k for k in ("source_trigger", "source_job") if k in edge]
        if len(sources) != 1:
            errors.append(f"Edge {n} needs exactly one of `source_trigger` or `source_job`.")
        elif sources[0] == "source_trigger" and edge["source_trigger"] not in triggers:
            errors.append(f"Edge {n} starts at trigger `{edge['source_trigger']}`, which does not exist.")
        elif sources[0] == "source_job" and edge["source_job"] not in jobs:
            errors.append(f"Edge {n} starts at job `{edge['source_job']}`, which does not exist.")
        if edge.get("target_job") not in jobs:
            errors.append(f"Edge {n} ends at job `{edge.get('target_job')}`, which does not exist.")
        if "condition" in edge and edge["condition"] not in CONDITIONS:
            errors.append(f"Edge {n} has an unknown condition `{edge['condition']}`.")
    return errors


@transaction.atomic
def apply(*, project: Project, source: str, workflow: Workflow | None = None) -> Workflow:
    """Create or update ``workflow`` (or the project's workflow of that name) and its
    jobs from a valid template. Raises ``ValueError`` for an invalid one."""
    errors = validate(source)
    if errors:
        raise ValueError(errors)
    spec: dict[str, Any] = yaml.safe_load(source)
    name = spec["name"].strip()
    if workflow is None:
        workflow, _ = Workflow.objects.get_or_create(project=project, name=name)
    else:
        workflow.name = name
    workflow.spec = source
    workflow.save()
    for job in spec["jobs"].values():
        Job.objects.update_or_create(
            workflow=workflow,
            name=job["name"].strip(),
            defaults={"adaptor": job["adaptor"].strip(), "code": job.get("body", "")},
        )
    return workflow
