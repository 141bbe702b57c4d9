"""A conversation exported as Markdown or JSON, for those who may read it."""

import pytest

from assistant import services
from projects.models import ProjectMembership
from tests import factories as f

pytestmark = pytest.mark.django_db
SAVED = [
    {"call_id": "c1", "name": "run_log", "ok": True, "arguments": {"run_id": 7}, "result": "secret line"}
]


@pytest.fixture
def session(user, enqueued):
    session = f.job_session(user=user, content="Why does *my* job fail?")
    services.message_save(
        session=session,
        role="assistant",
        content="Because `state.data` is empty.",
        message_meta={"tools": SAVED},
    )
    return session


def test_markdown_is_the_default(client_of, user, session):
    response = client_of(user).get(f"/api/sessions/{session.pk}/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="why-does-my-job-fail.md"'
    text = response.content.decode()
    assert text.startswith("# Why does *my* job fail\n\n_job_code · started ")  # the title
    you, assistant = text.split("## You · ")[1].split("## Assistant · ")
    assert "Why does *my* job fail?" in you
    assert "> Used `run_log`" in assistant and "Because `state.data` is empty." in assistant


def test_json_has_the_session_and_its_messages(client_of, user, session):
    response = client_of(user).get(f"/api/sessions/{session.pk}/export", {"format": "json"})
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.json"')
    body = response.json()
    assert body["id"] == str(session.pk) and body["mode"] == "job_code"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    assert body["messages"][1]["meta"]["tools"] == SAVED


def test_a_bad_format_is_a_400(client_of, user, session):
    response = client_of(user).get(f"/api/sessions/{session.pk}/export", {"format": "pdf"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid")


def test_another_users_session_is_404_and_a_viewer_gets_no_tool_results(client_of, user, make_user, session):
    assert client_of(make_user("mallory")).get(f"/api/sessions/{session.pk}/export").status_code == 404
    viewer = make_user("viewer")
    f.member(session.subject.workflow.project, viewer, ProjectMembership.Role.VIEWER)
    services.session_set_public(session=session, is_public=True)
    for chosen in ("markdown", "json"):
        response = client_of(viewer).get(f"/api/sessions/{session.pk}/export", {"format": chosen})
        assert response.status_code == 200
        assert b"secret line" not in response.content and b"run_id" not in response.content
