import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from projects.models import Job, Project, Run, Workflow

pytestmark = pytest.mark.django_db


def test_the_demo_command_creates_the_demo_once_and_prints_the_password_once(capsys):
    call_command("demo")
    first = capsys.readouterr().out
    assert "shown only this once" in first
    password = first.split("with password '")[1].split("'")[0]
    user = get_user_model().objects.get(username="demo")
    assert user.check_password(password)
    assert user.is_staff
    # Beside the staff user, an ordinary one sees the product as its users do.
    member_password = first.split("log in as 'member' with password '")[1].split("'")[0]
    member = get_user_model().objects.get(username="member")
    assert member.check_password(member_password) and not member.is_staff and not member.is_superuser

    call_command("demo")
    second = capsys.readouterr().out
    assert password not in second and member_password not in second
    assert "already exists" in second
    assert get_user_model().objects.filter(username="demo").count() == 1
    assert Project.objects.count() == Workflow.objects.count() == Job.objects.count() == 1
    assert Run.objects.count() == 1
    project = Project.objects.get()
    roles = {m.user.username: m.role for m in project.memberships.select_related("user")}
    assert roles == {"demo": "owner", "member": "editor"}
    job = Job.objects.get()
    assert job.workflow.project == project and job.code and job.adaptor
