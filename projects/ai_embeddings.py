"""The demo site's embedded models: jobs (name and code) and workflows (name), found
through the projects the user is a member of, as its tools find them. Jobs are embedded
in the background after each save; workflows, whose text is a short name, right after
the save commits."""

from __future__ import annotations

from assistant import embeddings

from .ai_tools import _projects
from .models import Job, Workflow

jobs = embeddings.register(
    embeddings.embedded(
        Job,
        text=lambda job: f"{job.name}\n{job.code}",
        queryset=lambda user: Job.objects.filter(workflow__project__in=_projects(user)),
        show=["id", "name", "adaptor", "workflow", "workflow__name"],
        update="background",
        description="Jobs in the user's projects, by their name and code",
    )
)

workflows = embeddings.register(
    embeddings.embedded(
        Workflow,
        fields=["name"],
        queryset=lambda user: Workflow.objects.filter(project__in=_projects(user)),
        show=["id", "name", "project", "project__name"],
        update="save",
        description="Workflows in the user's projects, by their name",
    )
)
