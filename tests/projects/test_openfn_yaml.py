"""Workflow templates in the shapes OpenFn's own tools write: a workflow with its edges
keyed by ``source->target`` (``condition_type``, ``enabled``, optional ``id``s), an
exported project with the workflow under ``workflows:``, and the list of one-key
mappings some exports use; the older list of edges stays accepted."""

import pytest
import yaml

from assistant import services
from assistant.demo_model import answer
from projects import workflow_yaml
from projects.models import Workflow
from projects.prompts import WORKFLOW_SYSTEM
from tests import factories as f
from tests.projects.test_modes import VALID as LEGACY

pytestmark = pytest.mark.django_db

WORKFLOW = """\
name: Clinic intake
jobs:
  Fetch-visits:
    name: Fetch visits
    adaptor: "@openfn/language-commcare@latest"
    credential: nurse@example.org-commcare
    body: |
      fn(state => state);
  Register-patient:
    name: Register patient
    adaptor: "@openfn/language-dhis2@latest"
    credential: null
    body: |
      create('trackedEntityInstances', state => state.data);
  Report-failure:
    id: 2b7f0c56-3f0f-4b54-9a3e-8c4c1f0e9d11
    name: Report failure
    adaptor: "@openfn/language-gmail@latest"
    body: "// tell the team"
triggers:
  cron:
    type: cron
    cron_expression: 30 7 * * 1-5
    enabled: false
edges:
  cron->Fetch-visits:
    source_trigger: cron
    target_job: Fetch-visits
    condition_type: always
    enabled: true
  Fetch-visits->Register-patient:
    source_job: Fetch-visits
    target_job: Register-patient
    condition_type: js_expression
    condition_label: Only new patients
    condition_expression: |
      state.data.some(visit => visit.new_patient)
    enabled: true
  Fetch-visits->Report-failure:
    id: 6d1c9a40-8e0b-4d52-b3f1-0a9e3c7d5e21
    source_job: Fetch-visits
    target_job: Report-failure
    condition_type: on_job_failure
    enabled: false
"""

PROJECT = """\
name: clinic-project
description: |
  Intake for the district clinics
collections:
  visit-cache:
    name: visit-cache
credentials:
  nurse@example.org-commcare:
    name: commcare
    owner: nurse@example.org
workflows:
  Clinic-intake:
""" + "".join(f"    {line}\n" if line else "\n" for line in WORKFLOW.splitlines())

ONE_KEY_LISTS = """\
name: Clinic intake
jobs:
  - Fetch-visits:
      name: Fetch visits
      adaptor: "@openfn/language-commcare@latest"
      body: fn(state => state);
  - Register-patient:
      name: Register patient
      adaptor: "@openfn/language-dhis2@latest"
      body: fn(state => state);
triggers:
  - webhook:
      type: webhook
      enabled: true
edges:
  - webhook->Fetch-visits:
      condition_type: always
      enabled: true
      target_job: Fetch-visits
      source_trigger: webhook
  - Fetch-visits->Register-patient:
      condition_type: on_job_success
      enabled: false
      target_job: Register-patient
      source_job: Fetch-visits
"""


@pytest.mark.parametrize(
    "source", [WORKFLOW, PROJECT, ONE_KEY_LISTS, LEGACY], ids=["workflow", "project", "lists", "legacy"]
)
def test_each_real_shape_is_valid(source):
    assert workflow_yaml.validate(source) == []


def stored(workflow: Workflow) -> dict:
    return yaml.safe_load(workflow.spec)


def test_applying_a_workflow_keeps_its_conditions_and_switches():
    changes = workflow_yaml.apply(project=f.project(), source=WORKFLOW)
    workflow = changes.workflow
    assert workflow.name == "Clinic intake"
    jobs = {job.name: job for job in workflow.jobs.all()}
    assert set(jobs) == {"Fetch visits", "Register patient", "Report failure"}
    assert jobs["Register patient"].adaptor == "@openfn/language-dhis2@latest"
    assert jobs["Register patient"].code == "create('trackedEntityInstances', state => state.data);\n"
    spec = stored(workflow)
    assert spec["triggers"]["cron"] == {"type": "cron", "cron_expression": "30 7 * * 1-5", "enabled": False}
    js = spec["edges"]["Fetch-visits->Register-patient"]
    assert js["condition_type"] == "js_expression" and js["condition_label"] == "Only new patients"
    assert js["condition_expression"].strip() == "state.data.some(visit => visit.new_patient)"
    failure = spec["edges"]["Fetch-visits->Report-failure"]
    assert failure["enabled"] is False and failure["condition_type"] == "on_job_failure"
    assert failure["id"] == "6d1c9a40-8e0b-4d52-b3f1-0a9e3c7d5e21"
    assert spec["jobs"]["Report-failure"]["id"] == "2b7f0c56-3f0f-4b54-9a3e-8c4c1f0e9d11"
    assert spec["jobs"]["Fetch-visits"]["credential"] == "nurse@example.org-commcare"
    assert workflow_yaml.validate(workflow.spec) == []  # what is stored reads back


def test_a_project_export_applies_its_workflow_as_the_workflow_itself_would():
    from_project = workflow_yaml.apply(project=f.project(), source=PROJECT).workflow
    alone = workflow_yaml.apply(project=f.project(), source=WORKFLOW).workflow
    assert from_project.name == "Clinic intake" and stored(from_project) == stored(alone)


def test_one_key_lists_and_the_legacy_list_are_stored_in_the_real_form():
    spec = stored(workflow_yaml.apply(project=f.project(), source=ONE_KEY_LISTS).workflow)
    assert spec["edges"]["Fetch-visits->Register-patient"]["enabled"] is False
    assert spec["triggers"] == {"webhook": {"type": "webhook", "enabled": True}}
    legacy = stored(workflow_yaml.apply(project=f.project(), source=LEGACY).workflow)
    assert legacy["edges"] == {
        "daily->fetch": {
            "source_trigger": "daily", "target_job": "fetch", "condition_type": "always", "enabled": True,
        },
        "fetch->load": {
            "source_job": "fetch", "target_job": "load", "condition_type": "on_job_success", "enabled": True,
        },
    }  # fmt: skip


MISTAKES = {
    "js without expression": (
        WORKFLOW.replace(
            "    condition_expression: |\n      state.data.some(visit => visit.new_patient)\n", ""
        ),
        "condition_expression",
    ),
    "unknown condition": (
        WORKFLOW.replace("condition_type: on_job_failure", "condition_type: sometimes"),
        "sometimes",
    ),
    "enabled as text": (WORKFLOW.replace("enabled: false\n", "enabled: maybe\n", 1), "enabled"),
    "edge to a missing job": (
        WORKFLOW.replace("target_job: Report-failure", "target_job: Nowhere"),
        "Nowhere",
    ),
    "a body in a file": (
        WORKFLOW.replace('body: "// tell the team"', "body:\n      path: ./jobs/report.js"),
        "file",
    ),
    "bad cron": (WORKFLOW.replace("30 7 * * 1-5", "61 7 * * *"), "minute"),
    "two jobs, one name": (WORKFLOW.replace("name: Report failure", "name: Fetch visits"), "Fetch visits"),
    "duplicate key": (WORKFLOW.replace("  Register-patient:\n", "  Fetch-visits:\n", 1), "twice"),
    "two workflows": (
        PROJECT + PROJECT.split("workflows:\n")[1].replace("Clinic-intake:", "Second:"),
        "2 workflows",
    ),
    "no workflow": (PROJECT.split("workflows:")[0] + "workflows: {}\n", "workflow"),
    "a name too long": (WORKFLOW.replace("name: Clinic intake", "name: " + "x" * 300), "255"),
}


@pytest.mark.parametrize("kind", MISTAKES)
def test_mistakes_in_the_real_form_are_explained(kind):
    source, expected = MISTAKES[kind]
    errors = workflow_yaml.validate(source)
    assert any(expected in e for e in errors), errors
    with pytest.raises(workflow_yaml.TemplateError):
        workflow_yaml.apply(project=f.project(), source=source)


def test_a_real_template_answered_by_the_model_is_valid_and_applies(user, alice, answered):
    project = f.project(members=[user])
    question = answered(f"Here is your project:\n\n```yaml\n{PROJECT}```\n", project)
    assert question.reply.meta["validation_errors"] == []
    response = alice.post(f"/api/sessions/{question.session_id}/apply/")
    assert response.status_code == 200, response.content
    workflow = Workflow.objects.get(project=project)
    assert workflow.name == "Clinic intake" and workflow.jobs.count() == 3


OLD_REFUSAL = "The workflow needs `edges` connecting its trigger to its jobs."


def test_a_real_template_saved_with_the_old_refusal_applies_now(user, alice):
    project = f.project(members=[user])
    session = f.workflow_session(user=user, project_=project)
    services.message_save(
        session=session, role="assistant", content="Here", code=WORKFLOW,
        message_meta={"validation_errors": [OLD_REFUSAL]},
    )  # fmt: skip
    response = alice.post(f"/api/sessions/{session.pk}/apply/")
    assert response.status_code == 200, response.content
    assert Workflow.objects.get(project=project).jobs.count() == 3


def test_the_prompt_and_the_demo_model_write_the_real_form():
    for words in ("source->target", "condition_type", "enabled", "js_expression", "condition_expression"):
        assert words in WORKFLOW_SYSTEM
    text = answer(
        [{"role": "system", "content": WORKFLOW_SYSTEM}, {"role": "user", "content": "sync patients"}]
    )
    source = workflow_yaml.extract_yaml(text)
    assert workflow_yaml.validate(source) == []
    spec = yaml.safe_load(source)
    assert isinstance(spec["edges"], dict) and all("->" in key for key in spec["edges"])
    assert all({"condition_type", "enabled"} <= set(edge) for edge in spec["edges"].values())
    assert all("enabled" in trigger for trigger in spec["triggers"].values())
