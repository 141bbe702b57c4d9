"""Titles the model writes after a conversation's first answer."""

import json

import pytest

from assistant import dispatch, processing, services, titles
from assistant.models import ChatSession
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _titles_as_by_default(model_titles):
    pass


@pytest.fixture
def queued(monkeypatch) -> list:
    """The title tasks queued (run by the test itself)."""
    calls = []
    real = dispatch.enqueue

    def enqueue(task_name, *args, **kwargs):
        if task_name == titles.TITLE_SESSION:
            calls.append(args[0])
        else:
            real(task_name, *args, **kwargs)

    monkeypatch.setattr(dispatch, "enqueue", enqueue)
    return calls


def answered_session(user, model_server, content="my job fails with a TypeError on state.data"):
    session = f.job_session(user=user, content=content)
    model_server.script(Reply(text="Check state.data before you read it."))
    assert processing.message_process(message_id=f.first_message(session).pk).state == "success"
    return session


def test_the_first_answer_asks_for_a_title_which_replaces_the_first_words(
    user, enqueued, model_server, queued, events, django_capture_on_commit_callbacks
):
    session = answered_session(user, model_server)
    assert queued == [str(session.pk)]
    assert session.title == "my job fails with a TypeError on"  # the first words, meanwhile
    model_server.script(Reply(text=json.dumps({"title": "“Fixing the state.data TypeError.”"})))
    title = "Fixing the state.data TypeError"  # without the quotes and the final period
    with django_capture_on_commit_callbacks(execute=True):
        assert titles.title_session(str(session.pk)) == title
    assert ChatSession.objects.get(pk=session.pk).title == title
    request = model_server.requests[-1]
    assert request["response_format"]["json_schema"]["name"] == "title_conversation"
    assert "Check state.data" in request["messages"][-1]["content"]
    assert [e["title"] for e in events if e["type"] == "session.updated"] == [title]


def test_later_answers_ask_for_no_title(user, enqueued, model_server, queued):
    session = answered_session(user, model_server)
    message = services.message_send(session=session, user=user, content="And now?")
    model_server.script(Reply(text="Now it works."))
    assert processing.message_process(message_id=message.pk).state == "success"
    assert queued == [str(session.pk)]


def test_a_session_the_user_renamed_keeps_its_name(user, enqueued, model_server, queued):
    session = answered_session(user, model_server)
    services.session_rename(session=session, title="Mine")
    calls = model_server.calls
    assert titles.title_session(str(session.pk)) is None
    assert ChatSession.objects.get(pk=session.pk).title == "Mine"
    assert model_server.calls == calls  # not even asked


def test_a_model_failure_keeps_the_first_words(user, enqueued, model_server, queued):
    session = answered_session(user, model_server)
    model_server.script(Reply(status=500), Reply(status=500))
    assert titles.title_session(str(session.pk)) is None
    assert ChatSession.objects.get(pk=session.pk).title == session.title


def test_the_demo_model_keeps_the_first_words(user, enqueued, queued, settings):
    session = f.job_session(user=user, content="my job fails")
    assert processing.message_process(message_id=f.first_message(session).pk).state == "success"
    assert queued == []
    settings.ASSISTANT = {**settings.ASSISTANT, "MODEL_TITLES": True}
    assert titles.titles_on()
