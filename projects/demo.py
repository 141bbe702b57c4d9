"""Demo data for a first start: a staff user and an ordinary one (an editor of the
project, as the product's users are), a project, a workflow and a job."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Job, Project, ProjectMembership, Run, Workflow

DEMO_USERNAME = "demo"
MEMBER_USERNAME = "member"

DEMO_CODE = """\
// Fetch this week's patients and keep the ones with an appointment.
get('https://hmis.example.org/api/patients', { query: { since: $.lastRun } });

fn(state => {
  const patients = state.data.filter(p => p.appointment);
  return { ...state, patients };
});
"""

DEMO_WORKFLOW = """\
name: Demo workflow
jobs:
  fetch-patients:
    name: Fetch patients
    adaptor: "@openfn/language-http@latest"
triggers:
  webhook:
    type: webhook
edges:
  - source_trigger: webhook
    target_job: fetch-patients
"""

DEMO_LOG = """\
[R/T] ♦ Starting job fetch-patients
[JOB] ℹ GET https://hmis.example.org/api/patients
[JOB] ✘ TypeError: Cannot read properties of undefined (reading 'filter')
[R/T] ✘ Job fetch-patients failed
"""


@dataclass(frozen=True)
class DemoData:
    user: object
    password: str | None  # set only when the user was created now
    project: Project
    workflow: Workflow
    job: Job
    member: object = None
    member_password: str | None = None


def _user(User, username: str, **fields) -> tuple[object, str | None]:
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, None
    password = secrets.token_urlsafe(12)
    return User.objects.create_user(username=username, password=password, **fields), password


@transaction.atomic
def demo_data_ensure() -> DemoData:
    """Create what is missing of the demo data; running it again changes nothing."""
    User = get_user_model()
    user, password = _user(User, DEMO_USERNAME, display_name="Demo user", is_staff=True, is_superuser=True)
    member, member_password = _user(User, MEMBER_USERNAME, display_name="Demo member")
    project = Project.objects.filter(name="Demo project", members=user).first()
    if project is None:
        project = Project.objects.create(name="Demo project")
        project.members.add(user, through_defaults={"role": ProjectMembership.Role.OWNER})
    ProjectMembership.objects.get_or_create(
        project=project, user=member, defaults={"role": ProjectMembership.Role.EDITOR}
    )
    workflow, _ = Workflow.objects.get_or_create(
        project=project, name="Demo workflow", defaults={"spec": DEMO_WORKFLOW}
    )
    job, created = Job.objects.get_or_create(
        workflow=workflow,
        name="Fetch patients",
        defaults={"adaptor": "@openfn/language-http@latest", "code": DEMO_CODE},
    )
    if created:
        Run.objects.create(job=job, state=Run.State.FAILED, log=DEMO_LOG)
    return DemoData(
        user=user,
        password=password,
        project=project,
        workflow=workflow,
        job=job,
        member=member,
        member_password=member_password,
    )
