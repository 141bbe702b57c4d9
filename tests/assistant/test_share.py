"""Share links: an unguessable read-only link to a conversation, revocable, for anyone
holding it, without joining anyone's list and without tool arguments and results."""

import pytest
from rest_framework.test import APIClient

from assistant import services
from assistant.models import ShareLink
from projects.models import ProjectMembership
from tests import factories as f

pytestmark = pytest.mark.django_db
SAVED = [
    {"call_id": "c1", "name": "run_log", "ok": True, "arguments": {"run_id": 7}, "result": "secret line"}
]


@pytest.fixture
def session(user, enqueued):
    session = f.job_session(user=user, content="Why does my job fail?")
    services.message_save(
        session=session,
        role="assistant",
        content="Because **state.data** is empty.",
        message_meta={"tools": SAVED},
    )
    return session


def share(client, session):
    response = client.post(f"/api/sessions/{session.pk}/share/")
    assert response.status_code == 201, response.content
    return response.json()["url"]


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def test_anyone_with_the_link_reads_the_conversation_without_tool_results(client_of, user, session):
    url = share(client_of(user), session)
    assert url.startswith("http://testserver/share/")
    token = token_of(url)
    anonymous = APIClient()
    body = anonymous.get(f"/api/shared/{token}/").json()
    assert body["title"] == session.title
    assert [m["content"] for m in body["messages"]] == [
        "Why does my job fail?",
        "Because **state.data** is empty.",
    ]
    [call] = body["messages"][1]["meta"]["tools"]
    assert call["name"] == "run_log" and "result" not in call and "arguments" not in call
    page = anonymous.get(f"/share/{token}/")
    assert page.status_code == 200 and "Content-Security-Policy" in page
    assert "Because **state.data** is empty." in page.content.decode()
    assert "secret line" not in page.content.decode() and "secret line" not in str(body)
    # Only the token's hash is kept.
    assert not ShareLink.objects.filter(token_hash=token).exists()
    assert client_of(user).get(f"/api/sessions/{session.pk}/share/").json()["shared"] is True


def test_a_link_joins_nobodys_list_and_opens_nothing_else(client_of, user, make_user, session):
    token = token_of(share(client_of(user), session))
    mallory = client_of(make_user("mallory"))
    assert mallory.get("/api/sessions/").json()["sessions"] == []
    assert mallory.get(f"/api/shared/{token}/").status_code == 200
    assert mallory.get(f"/api/sessions/{session.pk}/").status_code == 404
    assert (
        mallory.post(f"/api/sessions/{session.pk}/messages/", {"content": "hi"}, format="json").status_code
        == 404
    )


def test_revoked_or_replaced_links_stop_working(client_of, user, session):
    api = client_of(user)
    first = token_of(share(api, session))
    second = token_of(share(api, session))  # a new link replaces the last
    assert first != second
    assert APIClient().get(f"/api/shared/{first}/").status_code == 404
    assert APIClient().get(f"/api/shared/{second}/").status_code == 200
    assert api.delete(f"/api/sessions/{session.pk}/share/").status_code == 204
    for token in (first, second):
        assert APIClient().get(f"/api/shared/{token}/").status_code == 404
        page = APIClient().get(f"/share/{token}/")
        assert page.status_code == 404 and "does not open a conversation" in page.content.decode()
    assert api.get(f"/api/sessions/{session.pk}/share/").json() == {"shared": False, "created_at": None}
    assert api.delete(f"/api/sessions/{session.pk}/share/").status_code == 204  # already: nothing to do


def test_only_who_may_change_the_session_shares_it(client_of, user, make_user, session):
    mallory = client_of(make_user("mallory"))
    assert mallory.post(f"/api/sessions/{session.pk}/share/").status_code == 404
    assert mallory.delete(f"/api/sessions/{session.pk}/share/").status_code == 404
    viewer = make_user("viewer")
    f.member(session.subject.workflow.project, viewer, ProjectMembership.Role.VIEWER)
    services.session_set_public(session=session, is_public=True)
    assert client_of(viewer).post(f"/api/sessions/{session.pk}/share/").status_code == 403
    assert not ShareLink.objects.exists()


def test_a_link_stops_when_its_maker_loses_the_conversation(client_of, user, session):
    """Decided on every use: the maker removed from the project, the link opens nothing."""
    token = token_of(share(client_of(user), session))
    ProjectMembership.objects.filter(user=user).delete()
    assert APIClient().get(f"/api/shared/{token}/").status_code == 404
    assert APIClient().get(f"/share/{token}/").status_code == 404


@pytest.mark.parametrize("token", ["x", "a" * 200, "../../etc", "%00", "abcdefghijklmnopqrstuvwxyz012345"])
def test_made_up_tokens_open_nothing(token, session):
    assert APIClient().get(f"/api/shared/{token}/").status_code == 404
