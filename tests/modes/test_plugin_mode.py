import pytest

from assistant.processing import message_process
from modes.registry import site
from tests import factories as f
from tests.llm_server import Reply
from tests.plugin_app.ai_modes import SYSTEM, ReleaseNotesMode

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
