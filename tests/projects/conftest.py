import pytest

from assistant.models import ChatMessage
from assistant.processing import message_process
from modes.registry import site
from tests import factories as f
from tests.llm_server import Reply


@pytest.fixture
def alice(api_client, user):
    api_client.force_authenticate(user)
    return api_client


@pytest.fixture
def answered(user, enqueued, model_server):
    """``answered(text, project=None)``: a new workflow-builder conversation about a
    project of the user's, whose first question the model answers with ``text``; the
    question once processed (its reply is ``question.reply``)."""

    def ask(text: str, project=None) -> ChatMessage:
        project = project or f.project(members=[user])
        session = site.get("workflow_template").create_session(
            user=user, content="Build the workflow", params={"project": project.pk}
        )
        model_server.script(Reply(text=text, chunks=[text[i : i + 4096] for i in range(0, len(text), 4096)]))
        question = f.first_message(session)
        assert message_process(message_id=question.pk).state == "success"
        question.refresh_from_db()
        assert question.status == ChatMessage.Status.SUCCESS
        return question

    return ask
