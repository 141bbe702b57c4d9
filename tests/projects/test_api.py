"""The demo site's objects over the API: members only, by parent."""

import pytest

from projects.models import Job, Project
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_site_objects_for_members(alice, user, make_user, client_of):
    project = alice.post("/api/projects/", {"name": "Mine"}, format="json").json()
    assert Project.objects.get(pk=project["id"]).members.filter(pk=user.pk).exists()
    workflow = alice.post("/api/workflows/", {"project": project["id"], "name": "W"}, format="json").json()
    job = alice.post("/api/jobs/", {"workflow": workflow["id"], "name": "J", "adaptor": "@openfn/x@1"},
                     format="json").json()  # fmt: skip
    f.run(job_=Job.objects.get(pk=job["id"]))
    assert [
        w["name"] for w in alice.get("/api/workflows/", {"project": project["id"]}).json()["results"]
    ] == ["W"]
    assert len(alice.get("/api/runs/", {"job": job["id"]}).json()["results"]) == 1
    bob = client_of(make_user("bob"))
    assert bob.get("/api/projects/").json()["results"] == []
    assert bob.get("/api/runs/").json()["results"] == []
    refused = bob.post("/api/workflows/", {"project": project["id"], "name": "Sneaky"}, format="json")
    assert refused.status_code == 400
    assert alice.get("/api/jobs/", {"workflow": "x"}).status_code == 400


def test_runs_are_read_only(alice):
    response = alice.post("/api/runs/", {"job": 1}, format="json")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
