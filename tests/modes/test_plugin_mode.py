import json

import pytest

from assistant.models import ChatSession
from assistant.processing import message_process
from modes.registry import site
from tests import factories as f
from tests.conftest import client_for
from tests.llm_server import Reply
from tests.plugin_app.ai_modes import NOTES_SYSTEM, SYSTEM, ReleaseNotesMode
from tests.plugin_app.models import Note

pytestmark = pytest.mark.django_db


def test_an_installed_app_plugs_in_a_mode_without_touching_the_core(user, enqueued, model_server):
    mode = site.get("release_notes")
    assert isinstance(mode, ReleaseNotesMode)
    assert mode.metadata()["placeholder"] == "Paste the changes of this release..."
    model_server.script(Reply(text="## 1.2\n- Faster sync"))
    session = mode.create_session(user=user, content="Faster sync; fixed login", params={})
    message = f.first_message(session)
    assert message_process(message_id=message.pk).state == "success"
    assert message.reply.content == "## 1.2\n- Faster sync"
    assert model_server.requests[0]["messages"][0] == {"role": "system", "content": SYSTEM}
    assert mode.chat_title(session) == "Faster sync; fixed login"


def test_a_mode_with_nothing_to_apply_answers_409_and_its_ids_name_nothing(user, client_of, enqueued):
    session = site.get("release_notes").create_session(user=user, content="Notes", params={})
    response = client_of(user).post(f"/api/sessions/{session.pk}/apply/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "This kind of conversation has nothing to apply."
    assert site.get("release_notes").context_objects(user=user, ids={"job": 1}) == {}


# --- A mode about the site's own model -------------------------------------------------


@pytest.fixture
def note(user):
    return Note.objects.create(owner=user, title="Groceries", body="Milk, eggs, and tea.")


def start(client, note_id, content="What is on it?"):
    return client.post(
        "/api/sessions/", {"mode": "notes", "note": note_id, "content": content}, format="json"
    )


def test_a_session_about_the_sites_own_object_goes_through_the_modes_callbacks(user, note, enqueued):
    client = client_for(user)
    response = start(client, note.pk)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["note"], body["subject"]) == (note.pk, {"type": "plugin_app.note", "id": str(note.pk)})
    assert body["job"] is None and body["project"] is None  # the built-in modes' fields
    assert body["title"] == "What is on it (about Groceries)"  # get_session
    note.refresh_from_db()
    assert note.conversations_started == 1  # on_session_start
    detail = client.get(f"/api/sessions/{body['id']}/").json()
    assert detail["title"] == "What is on it (about Groceries)" and detail["note"] == note.pk
    assert ChatSession.objects.get(pk=body["id"]).subject == note


def test_a_note_that_is_not_yours_or_not_there_is_refused(user, note, make_user):
    bob = client_for(make_user("bob"))
    assert start(bob, note.pk).status_code == 403
    missing = start(bob, 10**6)
    assert missing.status_code == 400 and "note" in missing.json()["detail"]
    assert not ChatSession.objects.exists()


def test_the_list_goes_through_the_modes_list_and_more_callbacks(user, note, enqueued):
    client = client_for(user)
    archived = Note.objects.create(owner=user, title="Old", archived=True)
    for _ in range(3):
        assert start(client, note.pk).status_code == 201
    start(client, archived.pk)
    page = client.get("/api/sessions/", {"mode": "notes", "limit": 2}).json()
    assert page["pagination"]["total_count"] == 3  # the archived note's session is not listed
    assert len(page["sessions"]) == 2 and page["pagination"]["has_next_page"] is False
    by_note = client.get("/api/sessions/", {"note": note.pk}).json()
    assert {s["note"] for s in by_note["sessions"]} == {note.pk} and by_note["pagination"]["total_count"] == 3
    # A filter the mode does not understand leaves none of its sessions.
    assert client.get("/api/sessions/", {"mode": "notes", "job": 1}).json()["sessions"] == []


def test_the_modes_access_hook_is_asked_on_every_use(user, note, make_user, enqueued):
    client = client_for(user)
    session_id = start(client, note.pk).json()["id"]
    bob = make_user("bob")
    assert client_for(bob).get(f"/api/sessions/{session_id}/").status_code == 404
    Note.objects.filter(pk=note.pk).update(owner=bob)  # the note changes hands
    assert client.get(f"/api/sessions/{session_id}/").status_code == 404
    assert client.post(f"/api/sessions/{session_id}/messages/", {"content": "And now?"}).status_code == 404
    assert client.get("/api/sessions/", {"mode": "notes"}).json()["sessions"] == []
    assert client_for(bob).get(f"/api/sessions/{session_id}/").status_code == 404  # not his session


def test_the_answer_calls_the_modes_tool_that_reads_the_note(user, note, enqueued, model_server):
    model_server.script(
        Reply(text="", tool_calls=[{"id": "call_1", "name": "read_note", "arguments": "{}"}]),
        Reply(text="Milk, eggs and tea."),
    )
    session_id = start(client_for(user), note.pk).json()["id"]
    question = ChatSession.objects.get(pk=session_id).messages.get()
    assert message_process(message_id=question.pk).state == "success"
    assert question.reply.content == "Milk, eggs and tea."
    asked = model_server.requests[1]["messages"]
    assert asked[0] == {"role": "system", "content": NOTES_SYSTEM}
    assert json.loads(asked[-1]["content"]) == {"title": "Groceries", "body": "Milk, eggs, and tea."}
    assert [t["function"]["name"] for t in model_server.requests[0]["tools"]] == ["read_note"]
