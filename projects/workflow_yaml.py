"""Workflow templates as YAML: finding them in an answer, reading and validating them,
and applying them to a project's workflow and jobs.

A template is OpenFn's workflow YAML: ``name``, ``jobs`` (by key: ``name``, ``adaptor``,
``body``, optional ``credential`` and ``id``), ``triggers`` (by key: ``type`` webhook or
cron with ``cron_expression``, ``enabled``) and ``edges`` keyed ``source->target`` (with
``source_trigger`` or ``source_job``, ``target_job``, ``condition_type`` always,
on_job_success, on_job_failure or js_expression with ``condition_expression`` and
``condition_label``, ``enabled``). Also read: an exported project with its one workflow
under ``workflows:``, jobs, triggers, edges and workflows as lists of one-key mappings,
and the older list of edges with ``condition``. What is stored for a workflow is the
template in the first form, with every ``enabled`` and condition spelled out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from events.cron import CronError, parse_cron
from projects.models import Job, Project, Workflow

FENCE = re.compile(r"```(?:yaml|yml)?[ \t]*\n(.*?)```", re.S | re.I)
TRIGGER_TYPES = {"webhook", "cron"}
CONDITIONS = {"always", "on_job_success", "on_job_failure", "js_expression"}

#: The longest template read, in characters.
MAX_TEMPLATE_CHARS = 64_000
#: How deeply mappings and lists may nest in a template.
MAX_DEPTH = 20
#: The most problems listed for one template.
MAX_ERRORS = 20
#: The longest name of a workflow or job, and adaptor (their columns' size).
MAX_NAME = 255

#: Fields of the items of a list: a one-key list item whose key is one of these is an
#: item written out, not an item under its key.
UNKEYED_FIELDS = {"name", "jobs", "triggers", "edges", "id", "source_trigger", "source_job", "target_job"}


def extract_yaml(text: str) -> str | None:
    """The first fenced YAML block of an answer, or None."""
    for block in FENCE.findall(text or ""):
        if block.strip():
            return block.strip() + "\n"
    return None


# --- Reading ----------------------------------------------------------------------


class _Refused(yaml.YAMLError):
    """A document the loader will not build; the text says why."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (an alias repeats a whole subtree, so a
    few hundred bytes of them expand to gigabytes), with a nesting limit (the composer
    recurses once per level) and no key given twice in one mapping."""

    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(
                f"The YAML uses an alias (`*{_shown(event.anchor)}`, line {event.start_mark.line + 1}); "
                "aliases are not allowed: write each value out."
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(f"The YAML is nested more than {MAX_DEPTH} levels deep.")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        if len(mapping) < len(node.value):
            seen: set = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node)
                if key in seen:
                    raise _Refused(
                        f"The key `{_shown(key)}` is given twice (line {key_node.start_mark.line + 1}); "
                        "each key may appear once."
                    )
                seen.add(key)
        return mapping


def load(source: str) -> Any:
    """The document of ``source``; ``yaml.YAMLError`` when it is too large, does not
    parse, or uses what ``_Loader`` refuses."""
    if not isinstance(source, str):
        raise _Refused("The template must be text.")
    if len(source) > MAX_TEMPLATE_CHARS:
        raise _Refused(
            f"The template is too large ({len(source):,} characters; at most {MAX_TEMPLATE_CHARS:,})."
        )
    loader = _Loader(source)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _shown(value: Any) -> str:
    """A value for an error message: text cut short, anything else by its kind."""
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    if isinstance(value, bool | int | float) or value is None:
        return str(value)
    return f"a {type(value).__name__}"


def _key(value: Any) -> str | None:
    """A key or a reference to one (text or a whole number), as text; or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _text(value: Any, *, limit: int | None = None) -> str | None:
    """Non-blank text within ``limit``, stripped; or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    if limit is not None and len(value.strip()) > limit:
        return None
    return value.strip()


class TemplateError(ValueError):
    """A template that can't be applied; ``errors`` says why, one sentence each."""

    def __init__(self, errors: list[str]) -> None:
        if len(errors) > MAX_ERRORS:
            errors = [*errors[:MAX_ERRORS], f"... and {len(errors) - MAX_ERRORS} more problems."]
        super().__init__(errors)
        self.errors = errors


@dataclass
class Template:
    """A valid template, in the form that is stored."""

    name: str
    jobs: dict[str, dict[str, Any]]
    triggers: dict[str, dict[str, Any]]
    edges: dict[str, dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_yaml(self) -> str:
        document = {"name": self.name, **self.extra, "jobs": self.jobs, "triggers": self.triggers}
        return yaml.dump(
            {**document, "edges": self.edges}, Dumper=_Dumper, sort_keys=False, allow_unicode=True
        )


class _Dumper(yaml.SafeDumper):
    """Multi-line text (job bodies, expressions) as literal blocks."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def _items(value: Any, where: str, errors: list[str], *, plain: bool = False) -> list[tuple[str | None, Any]]:
    """The ``(key, item)`` pairs of a mapping, or of a list of one-key mappings. With
    ``plain``, a list may also hold items written out without a key (``None``)."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for n, element in enumerate(value, 1):
            if isinstance(element, dict) and len(element) == 1:
                ((key, item),) = element.items()
                if isinstance(item, dict) and key not in UNKEYED_FIELDS:
                    pairs.append((key, item))
                    continue
            if plain and isinstance(element, dict):
                pairs.append((None, element))
            else:
                errors.append(f"Item {n} of `{where}` must be a one-key mapping such as `my-key: {{...}}`.")
    else:
        if value is not None:
            errors.append(f"`{where}` must be a mapping of keys to items.")
        return []
    found = []
    for key, item in pairs:
        name = None if key is None else _key(key)
        if key is not None and name is None:
            errors.append(f"A key under `{where}` must be text, not {_shown(key)}.")
        else:
            found.append((name, item))
    return found


def _workflow_of(spec: Any, errors: list[str]) -> dict | None:
    """The workflow of a document: the document itself, or the one workflow of a
    project under ``workflows:``."""
    if not isinstance(spec, dict):
        errors.append("The template must be a mapping with name, jobs, triggers and edges.")
        return None
    if "workflows" not in spec:
        return spec
    workflows = _items(spec["workflows"], "workflows", errors, plain=True)
    if len(workflows) != 1:
        if not errors:
            names = ", ".join(f"`{_shown(key)}`" for key, _ in workflows[:5])
            errors.append(
                "The project has no workflow under `workflows`."
                if not workflows
                else f"The project has {len(workflows)} workflows ({names}); a template applies one "
                "at a time, so keep only the workflow to apply."
            )
        return None
    ((key, workflow),) = workflows
    if not isinstance(workflow, dict):
        errors.append(f"Workflow `{_shown(key)}` must be a mapping with name, jobs, triggers and edges.")
        return None
    return workflow


def _enabled(item: dict, what: str, errors: list[str]) -> bool:
    value = item.get("enabled", True)
    if not isinstance(value, bool):
        errors.append(f"`enabled` of {what} must be true or false, not {_shown(value)}.")
        return True
    return value


def _job(key: str, job: Any, errors: list[str]) -> dict | None:
    if not isinstance(job, dict):
        errors.append(f"Job `{_shown(key)}` must be a mapping with name, adaptor and body.")
        return None
    name, adaptor = _text(job.get("name"), limit=MAX_NAME), _text(job.get("adaptor"), limit=MAX_NAME)
    if name is None:
        errors.append(f"Job `{_shown(key)}` needs a `name` (text of at most {MAX_NAME} characters).")
    if adaptor is None:
        errors.append(
            f'Job `{_shown(key)}` needs an `adaptor` such as "@openfn/language-http@latest" '
            f"(at most {MAX_NAME} characters)."
        )
    body = job.get("body")
    if body is None:
        body = ""
    elif isinstance(body, dict) and "path" in body:
        errors.append(
            f"The `body` of job `{_shown(key)}` refers to a file (`path`), which can't be read here: "
            "write its code in the template."
        )
    elif not isinstance(body, str):
        errors.append(f"The `body` of job `{_shown(key)}` must be text.")
    credential = job.get("credential")
    if credential is not None and not isinstance(credential, str):
        errors.append(f"The `credential` of job `{_shown(key)}` must be the name of a credential.")
    if "enabled" in job:
        _enabled(job, f"job `{_shown(key)}`", errors)
    return {**job, "name": name, "adaptor": adaptor, "body": body}


def _trigger(key: str, trigger: Any, errors: list[str]) -> dict | None:
    kind = trigger.get("type") if isinstance(trigger, dict) else None
    if not isinstance(kind, str) or kind not in TRIGGER_TYPES:
        errors.append(f"Trigger `{_shown(key)}` needs a `type` of webhook or cron.")
        return None
    found = {**trigger, "enabled": _enabled(trigger, f"trigger `{_shown(key)}`", errors)}
    if kind == "cron":
        expression = trigger.get("cron_expression")
        try:
            parse_cron(expression)
        except CronError as exc:
            reason = str(exc) if str(exc).startswith("must") else f"is invalid: {exc}"
            errors.append(f"The `cron_expression` of trigger `{_shown(key)}` {reason}"[:300])
        else:
            found["cron_expression"] = " ".join(expression.split())
    return found


def _edge(
    key: str | None, n: int, edge: Any, jobs: dict, triggers: dict, errors: list[str]
) -> tuple[str, dict] | None:
    what = f"edge `{_shown(key)}`" if key else f"edge {n}"
    subject = what[0].upper() + what[1:]
    if not isinstance(edge, dict):
        errors.append(f"{subject} must be a mapping with its source, `target_job` and `condition_type`.")
        return None
    edge = dict(edge)
    # ``source->target`` says the ends of an edge that leaves them out.
    ends = key.split("->", 1) if key and "->" in key else None
    if ends and "source_trigger" not in edge and "source_job" not in edge:
        edge["source_trigger" if ends[0].strip() in triggers else "source_job"] = ends[0].strip()
    if ends and "target_job" not in edge:
        edge["target_job"] = ends[1].strip()
    sources = [name for name in ("source_trigger", "source_job") if edge.get(name) is not None]
    source = None
    if len(sources) != 1:
        errors.append(f"{subject} needs exactly one of `source_trigger` or `source_job`.")
    else:
        (field_name,) = sources
        steps, kind = (triggers, "trigger") if field_name == "source_trigger" else (jobs, "job")
        source = _key(edge[field_name])
        if source is None:
            errors.append(
                f"`{field_name}` of {what} must be the key of a {kind}, not {_shown(edge[field_name])}."
            )
        elif source not in steps:
            errors.append(f"{subject} starts at {kind} `{_shown(source)}`, which does not exist.")
            source = None
        else:
            edge[field_name] = source
    target = _key(edge.get("target_job"))
    if target is None or target not in jobs:
        errors.append(f"{subject} ends at job `{_shown(edge.get('target_job'))}`, which does not exist.")
        target = None
    else:
        edge["target_job"] = target
    if source is not None and source == target and sources == ["source_job"]:
        errors.append(f"{subject} leads from job `{_shown(source)}` back to itself.")
    legacy = edge.pop("condition", None)
    condition = edge.get("condition_type", legacy)
    if legacy is not None and condition != legacy:
        errors.append(f"{subject} has both `condition_type` and `condition`; keep `condition_type`.")
    if condition is None:
        condition = "always" if sources == ["source_trigger"] else "on_job_success"
    if not isinstance(condition, str) or condition not in CONDITIONS:
        errors.append(
            f"{subject} has an unknown condition_type `{_shown(condition)}` "
            "(use always, on_job_success, on_job_failure or js_expression)."
        )
    edge["condition_type"] = condition
    if condition == "js_expression":
        if _text(edge.get("condition_expression")) is None:
            errors.append(f"{subject} is a js_expression and needs its `condition_expression`.")
        label = edge.get("condition_label")
        if label is not None and _text(label, limit=MAX_NAME) is None:
            errors.append(f"`condition_label` of {what} must be text of at most {MAX_NAME} characters.")
    edge["enabled"] = _enabled(edge, what, errors)
    if source is None or target is None:
        return None
    return key or f"{source}->{target}", edge


def read(source: str) -> Template:
    """The template of ``source`` in its stored form; ``TemplateError`` with every
    problem found when it can't be applied."""
    try:
        spec = load(source)
    except _Refused as exc:
        raise TemplateError([str(exc)]) from None
    except yaml.YAMLError as exc:
        raise TemplateError([f"The YAML does not parse: {exc}".replace("\n", " ")[:300]]) from None
    errors: list[str] = []
    workflow = _workflow_of(spec, errors)
    if workflow is None:
        raise TemplateError(errors)
    name = _text(workflow.get("name"), limit=MAX_NAME)
    if name is None:
        errors.append(f"The workflow needs a `name` (text of at most {MAX_NAME} characters).")

    jobs: dict[str, dict] = {}
    names: dict[str, str] = {}
    if not workflow.get("jobs"):
        errors.append("The workflow needs at least one job under `jobs`.")
    for key, item in _items(workflow.get("jobs"), "jobs", errors):
        job = _job(key, item, errors)
        if job is None:
            continue
        if key in jobs:
            errors.append(f"Job `{_shown(key)}` is given twice.")
        elif job["name"] and job["name"] in names:
            errors.append(
                f"Jobs `{_shown(names[job['name']])}` and `{_shown(key)}` are both named "
                f"`{_shown(job['name'])}`; each job needs its own name."
            )
        names.setdefault(job["name"], key)
        jobs[key] = job

    triggers: dict[str, dict] = {}
    if not workflow.get("triggers"):
        errors.append("The workflow needs at least one trigger under `triggers`.")
    for key, item in _items(workflow.get("triggers"), "triggers", errors):
        trigger = _trigger(key, item, errors)
        if trigger is not None:
            triggers[key] = trigger
        else:
            triggers.setdefault(key, {})  # known, so edges from it are not reported again

    edges: dict[str, dict] = {}
    pairs: set[tuple] = set()
    if not workflow.get("edges"):
        errors.append("The workflow needs `edges` connecting its trigger to its jobs.")
    listed = _items(workflow.get("edges"), "edges", errors, plain=True)
    for n, (key, item) in enumerate(listed, 1):
        found = _edge(key, n, item, jobs, triggers, errors)
        if found is None:
            continue
        edge_key, edge = found
        pair = (edge.get("source_trigger"), edge.get("source_job"), edge["target_job"])
        if edge_key in edges or pair in pairs:
            errors.append(f"The edge `{_shown(edge_key)}` is given twice.")
        pairs.add(pair)
        edges[edge_key] = edge
    if errors:
        raise TemplateError(errors)
    extra = {k: v for k, v in workflow.items() if k not in {"name", "jobs", "triggers", "edges"}}
    return Template(name=name, jobs=jobs, triggers=triggers, edges=edges, extra=extra)


def validate(source: str) -> list[str]:
    """Every problem of a workflow template, as sentences; empty when it is valid."""
    try:
        read(source)
    except TemplateError as exc:
        return exc.errors
    return []


# --- Applying ---------------------------------------------------------------------


class ApplyConflict(Exception):
    """The template can't be applied to the project as it is now; the text says why."""


@dataclass
class Changes:
    """What applying a template does (or, in a dry run, would do)."""

    dry_run: bool
    workflow: Workflow | None
    name: str
    created: bool
    renamed_from: str | None = None
    spec_changed: bool = True
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed_runs: int = 0
    removed_conversations: int = 0

    def summary(self) -> str:
        done = not self.dry_run
        if self.created:
            head = f"{'Created' if done else 'Will create'} workflow “{self.name}”"
        elif not (self.renamed_from or self.spec_changed or self.added or self.updated or self.removed):
            nothing = "nothing changed" if done else "nothing to change"
            return f"Workflow “{self.name}” already matches the template: {nothing}."
        else:
            head = f"{'Updated' if done else 'Will update'} workflow “{self.name}”"
            if self.renamed_from:
                head += f" (renamed from “{self.renamed_from}”)"
        parts = [
            f"{verb} {', '.join(names)}"
            for verb, names in (
                ("added" if done else "adds", self.added),
                ("updated" if done else "updates", self.updated),
                ("removed" if done else "removes", self.removed),
            )
            if names
        ]
        if self.removed_runs or self.removed_conversations:
            parts.append(
                f"{'deleted' if done else 'deletes'} {_count(self.removed_runs, 'run')} and "
                f"{_count(self.removed_conversations, 'conversation')} of the removed jobs"
            )
        return f"{head}: {'; '.join(parts)}." if parts else f"{head}."

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "workflow": {
                "id": self.workflow.pk if self.workflow is not None else None,
                "name": self.name,
                "created": self.created,
                "renamed_from": self.renamed_from,
                "spec_changed": self.spec_changed,
            },
            "jobs": {
                "added": self.added,
                "updated": self.updated,
                "removed": self.removed,
                "unchanged": self.unchanged,
            },
            "removed_history": {"runs": self.removed_runs, "conversations": self.removed_conversations},
            "summary": self.summary(),
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def apply(
    *, project: Project, source: str, workflow: Workflow | None = None, dry_run: bool = False
) -> Changes:
    """Make ``workflow`` (a new workflow of the project when None) what the template
    says, in one transaction: its name and stored spec, and its jobs, matched by name:
    new ones added, changed ones updated, and the jobs the template no longer has
    deleted, with their runs and conversations. ``dry_run`` reports the same changes
    and makes none. ``TemplateError`` for an invalid template; ``ApplyConflict`` when
    another workflow of the project has the template's name."""
    template = read(source)
    spec = template.as_yaml()
    with transaction.atomic():
        if workflow is not None:  # locked, so that two applies to it take turns
            workflow = (Workflow.objects if dry_run else Workflow.objects.select_for_update()).get(
                pk=workflow.pk
            )
        others = Workflow.objects.filter(project=project, name=template.name)
        if workflow is not None:
            others = others.exclude(pk=workflow.pk)
        if others.exists():
            raise ApplyConflict(
                f"The project already has a workflow named “{template.name}”. Ask for another name, "
                "or start a workflow conversation about that workflow to change it."
            )
        existing = {job.name: job for job in workflow.jobs.all()} if workflow is not None else {}
        wanted = {job["name"]: job for job in template.jobs.values()}
        changes = Changes(
            dry_run=dry_run,
            workflow=workflow,
            name=template.name,
            created=workflow is None,
            renamed_from=workflow.name if workflow is not None and workflow.name != template.name else None,
            spec_changed=workflow is None or workflow.spec != spec,
        )
        changed: list[Job] = []
        for name, job in wanted.items():
            current = existing.get(name)
            if current is None:
                changes.added.append(name)
            elif (current.adaptor, current.code) != (job["adaptor"], job["body"]):
                current.adaptor, current.code = job["adaptor"], job["body"]
                changed.append(current)
                changes.updated.append(name)
            else:
                changes.unchanged.append(name)
        gone = [job.pk for name, job in existing.items() if name not in wanted]
        changes.removed = [name for name in existing if name not in wanted]
        if gone:
            history = Job.objects.filter(pk__in=gone).aggregate(
                runs=Count("runs", distinct=True), conversations=Count("chat_sessions", distinct=True)
            )
            changes.removed_runs, changes.removed_conversations = history["runs"], history["conversations"]
        if dry_run:
            return changes
        try:
            with transaction.atomic():
                if workflow is None:
                    workflow = Workflow.objects.create(project=project, name=template.name, spec=spec)
                else:
                    workflow.name, workflow.spec = template.name, spec
                    workflow.save(update_fields=["name", "spec", "updated_at"])
                Job.objects.filter(pk__in=gone).delete()
                now = timezone.now()
                for job in changed:
                    job.updated_at = now
                Job.objects.bulk_update(changed, ["adaptor", "code", "updated_at"])
                Job.objects.bulk_create(
                    Job(
                        workflow=workflow,
                        name=name,
                        adaptor=wanted[name]["adaptor"],
                        code=wanted[name]["body"],
                    )
                    for name in changes.added
                )
        except IntegrityError:
            raise ApplyConflict(
                "The workflow or its jobs changed while the template was applied. Please try again."
            ) from None
        changes.workflow = workflow
    return changes
