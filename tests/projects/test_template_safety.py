"""Hostile workflow templates: alias bombs, unhashable references, huge or deeply nested
documents. Each is refused with a validation error, on both paths that read a template:
the worker's check of a model's answer, and POST /api/sessions/{id}/apply/."""

import pytest

from assistant import services
from projects import workflow_yaml
from projects.models import Job, Workflow
from tests import factories as f

pytestmark = pytest.mark.django_db


def alias_bomb(levels: int) -> str:
    """A small workflow whose cron expression is a list that grows tenfold per alias
    level once expanded (nine levels: about 700 bytes that expand to 10^9 strings)."""
    rows = ["  - &a0 [" + ", ".join(["lol"] * 10) + "]"]
    rows += [f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return (
        "name: Bomb\nlol:\n" + "\n".join(rows) + "\n"
        "jobs:\n  fetch:\n    name: Fetch\n    adaptor: '@openfn/language-http@latest'\n"
        f"triggers:\n  daily:\n    type: cron\n    cron_expression: *a{levels - 1}\n"
        "edges:\n  - source_trigger: daily\n    target_job: fetch\n"
    )


UNHASHABLE = """\
name: Lists for ids
jobs:
  fetch:
    name: Fetch
    adaptor: "@openfn/language-http@latest"
triggers:
  daily:
    type: cron
    cron_expression: "0 6 * * *"
edges:
  - source_trigger: [daily, other]
    target_job: {fetch: 1}
"""

DEEP = "name: " + "[" * 3000 + "]" * 3000 + "\n"


def oversized() -> str:
    body = "\n".join(
        f"      fn(state => state); // line {i:06d} of a very long job body" for i in range(1200)
    )
    return (
        "name: Huge\njobs:\n  fetch:\n    name: Fetch\n    adaptor: '@openfn/language-http@latest'\n"
        f"    body: |\n{body}\n"
        "triggers:\n  hook:\n    type: webhook\n"
        "edges:\n  - source_trigger: hook\n    target_job: fetch\n"
    )


HOSTILE = {
    "alias bomb": (alias_bomb(5), "alias"),
    "unhashable ids": (UNHASHABLE, "source_trigger"),
    "deep nesting": (DEEP, "nested"),
    "oversized": (oversized(), "too large"),
}


def test_the_bomb_is_small_and_would_expand_enormously():
    assert len(alias_bomb(9).encode()) < 800
    assert workflow_yaml.MAX_TEMPLATE_CHARS < len(oversized()) < 90_000


@pytest.mark.parametrize("kind", HOSTILE)
def test_validation_refuses_it_with_a_readable_error(kind):
    source, expected = HOSTILE[kind]
    errors = workflow_yaml.validate(source)
    assert errors and any(expected in e for e in errors), errors
    assert sum(len(e) for e in errors) < 2_000  # no value of the template is echoed whole


@pytest.mark.parametrize("kind", HOSTILE)
def test_the_worker_saves_the_reply_with_the_error_and_never_gets_stuck(kind, answered):
    source, expected = HOSTILE[kind]
    errors = answered(f"Here it is:\n\n```yaml\n{source}```\n").reply.meta["validation_errors"]
    assert any(expected in e for e in errors), errors


def test_a_check_that_breaks_still_saves_the_reply(answered, monkeypatch):
    def broken(source):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(workflow_yaml, "validate", broken)
    assert answered(f"```yaml\n{UNHASHABLE}```").reply.meta["validation_errors"] == [
        "The template could not be checked. Ask for it again."
    ]


@pytest.mark.parametrize("kind", HOSTILE)
def test_apply_refuses_a_saved_hostile_template_and_changes_nothing(kind, alice, user, enqueued):
    """A template saved as valid (before these checks existed) is checked again on apply."""
    source, expected = HOSTILE[kind]
    project = f.project(members=[user])
    session = f.workflow_session(user=user, project_=project)
    services.message_save(
        session=session, role="assistant", content="Here", code=source, message_meta={"validation_errors": []}
    )
    for body in ({}, {"dry_run": True}):
        response = alice.post(f"/api/sessions/{session.pk}/apply/", body, format="json")
        assert response.status_code == 409, response.content
        assert response.json()["error"] == "conflict" and expected in response.json()["detail"]
    assert not Workflow.objects.filter(project=project).exists() and not Job.objects.exists()
