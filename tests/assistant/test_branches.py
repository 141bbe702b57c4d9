"""Regenerate, edit and versions: a new answer keeps the earlier ones, an edited
question starts a branch, the page shows one branch and the model sees only it."""

import pytest

from assistant import processing, prompts, selectors, services
from assistant.models import ChatMessage, ChatSession
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db


def answer(question, model_server, text):
    model_server.script(Reply(text=text))
    assert processing.message_process(message_id=question.pk).state == "success", question.pk
    return ChatMessage.objects.get(reply_to=question)


def ask(session, user, content):
    return services.message_send(session=session, user=user, content=content)


def shown(session) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in selectors.session_get(session_id=session.pk).conversation]


@pytest.fixture
def chat(user, enqueued, model_server):
    """A session with two answered turns: Q1 -> A1, Q2 -> A2."""
    session = f.job_session(user=user, content="Q1")
    q1 = f.first_message(session)
    a1 = answer(q1, model_server, "A1")
    q2 = ask(session, user, "Q2")
    a2 = answer(q2, model_server, "A2")
    return session, q1, a1, q2, a2


def test_each_question_follows_the_one_before_and_ends_the_branch(chat):
    session, q1, a1, q2, a2 = chat
    q2.refresh_from_db()
    session.refresh_from_db()
    assert (q1.parent_id, q2.parent_id, session.leaf_id) == (None, q1.pk, q2.pk)
    assert a2.version_of_id == q2.pk
    assert shown(session) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2")]


def test_regenerating_keeps_the_earlier_answer_as_a_version(
    chat, client_of, user, model_server, enqueued, django_capture_on_commit_callbacks
):
    session, q1, a1, q2, a2 = chat
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(user).post(f"/api/messages/{a2.pk}/regenerate/", {}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["id"] == str(q2.pk) and response.json()["status"] == "pending"
    assert enqueued[-1] == str(q2.pk)
    # While it is answered again, the question shows no answer.
    assert shown(session)[-1] == ("user", "Q2")

    a2b = answer(q2, model_server, "A2, again")
    # The model was asked the same question over the same history, not its old answer.
    sent = [m["content"] for m in model_server.requests[-1]["messages"]]
    assert "A1" in sent and "A2" not in sent

    body = client_of(user).get(f"/api/sessions/{session.pk}/").json()
    assert [m["content"] for m in body["messages"]] == ["Q1", "A1", "Q2", "A2, again"]
    assert body["messages"][-1]["versions"] == {"ids": [str(a2.pk), str(a2b.pk)], "index": 1}
    assert body["messages"][-1]["reply_to"] == str(q2.pk)
    assert body["messages"][0]["versions"] is None

    # Show the first version again: it is what the page and the model see.
    shown_body = client_of(user).post(f"/api/messages/{a2.pk}/show/").json()
    assert [m["content"] for m in shown_body["messages"]][-1] == "A2"
    assert shown_body["messages"][-1]["versions"]["index"] == 0
    q3 = ask(session, user, "Q3")
    assert prompts.history(session, q3)[-1] == {"role": "assistant", "content": "A2"}


def test_editing_a_question_starts_a_branch_and_keeps_the_old_one(chat, client_of, user, model_server):
    session, q1, a1, q2, a2 = chat
    response = client_of(user).post(f"/api/messages/{q1.pk}/edit/", {"content": "Q1 edited"}, format="json")
    assert response.status_code == 202, response.content
    edited = ChatMessage.objects.get(pk=response.json()["id"])
    assert edited.parent_id is None and edited.status == "pending"
    assert shown(session) == [("user", "Q1 edited")]

    answer(edited, model_server, "B1")
    # The model saw the new branch only: nothing of Q1's old turns.
    sent = [m["content"] for m in model_server.requests[-1]["messages"]]
    assert "Q1 edited" in sent and not {"Q1", "A1", "Q2", "A2"} & set(sent)
    later = ask(session, user, "R2")
    assert [m["content"] for m in prompts.history(session, later)] == ["Q1 edited", "B1"]
    answer(later, model_server, "B2")

    body = client_of(user).get(f"/api/sessions/{session.pk}/").json()
    assert [m["content"] for m in body["messages"]] == ["Q1 edited", "B1", "R2", "B2"]
    assert body["messages"][0]["versions"] == {"ids": [str(q1.pk), str(edited.pk)], "index": 1}

    # The old branch, with its later turns, is one click away, and the new one after it.
    old = client_of(user).post(f"/api/messages/{q1.pk}/show/").json()
    assert [m["content"] for m in old["messages"]] == ["Q1", "A1", "Q2", "A2"]
    assert ChatSession.objects.get(pk=session.pk).leaf_id == q2.pk
    new = client_of(user).post(f"/api/messages/{edited.pk}/show/").json()
    assert [m["content"] for m in new["messages"]] == ["Q1 edited", "B1", "R2", "B2"]


def test_editing_a_later_question_keeps_the_turns_before_it(chat, client_of, user, model_server):
    session, q1, a1, q2, a2 = chat
    edited = ChatMessage.objects.get(
        pk=client_of(user)
        .post(f"/api/messages/{q2.pk}/edit/", {"content": "Q2 edited"}, format="json")
        .json()["id"]
    )
    assert edited.parent_id == q1.pk
    assert [m["content"] for m in prompts.history(session, edited)] == ["Q1", "A1"]
    answer(edited, model_server, "C2")
    assert shown(session) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 edited"), ("assistant", "C2")]


def test_cancelling_a_new_answer_keeps_the_one_it_had(chat, user, enqueued):
    session, q1, a1, q2, a2 = chat
    services.message_regenerate(message=a2)
    services.message_cancel(message=q2)
    q2.refresh_from_db()
    assert q2.status == "success" and q2.reply.pk == a2.pk
    assert shown(session)[-1] == ("assistant", "A2")


def test_a_cancelled_edit_shows_the_branch_it_came_from(chat, user, enqueued):
    session, q1, a1, q2, a2 = chat
    edited = services.message_edit(message=q2, user=user, content="Q2, asked otherwise")
    assert shown(session)[-1] == ("user", "Q2, asked otherwise")
    services.message_cancel(message=edited)
    assert shown(session) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2")]
    assert ChatSession.objects.get(pk=session.pk).leaf_id == q2.pk


def test_what_cannot_be_regenerated_edited_or_shown(chat, client_of, user, make_user, enqueued, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_IN_FLIGHT_PER_SESSION": 1}
    session, q1, a1, q2, a2 = chat
    api = client_of(user)
    assert api.post(f"/api/messages/{q2.pk}/regenerate/", {}, format="json").status_code == 409
    assert api.post(f"/api/messages/{a2.pk}/edit/", {"content": "x"}, format="json").status_code == 409
    assert api.post(f"/api/messages/{q2.pk}/edit/", {"content": ""}, format="json").status_code == 400
    assert api.post(f"/api/messages/{q2.pk}/edit/", {}, format="json").status_code == 400
    bad_model = api.post(f"/api/messages/{a2.pk}/regenerate/", {"options": {"model": "nope"}}, format="json")
    assert bad_model.status_code == 400 and "model" in str(bad_model.json())
    # One at a time: a question in flight can't be answered again or left for another.
    assert api.post(f"/api/messages/{a2.pk}/regenerate/", {}, format="json").status_code == 202
    assert api.post(f"/api/messages/{a1.pk}/regenerate/", {}, format="json").status_code == 429
    assert api.post(f"/api/messages/{a2.pk}/show/").status_code == 409
    before = ChatMessage.objects.count(), ChatSession.objects.get(pk=session.pk).leaf_id

    # Another user's messages are not there at all.
    mallory = client_of(make_user("mallory"))
    for path in ("regenerate/", "show/"):
        assert mallory.post(f"/api/messages/{a1.pk}/{path}", {}, format="json").status_code == 404
    assert mallory.post(f"/api/messages/{q1.pk}/edit/", {"content": "mine"}, format="json").status_code == 404
    assert (ChatMessage.objects.count(), ChatSession.objects.get(pk=session.pk).leaf_id) == before


def test_reading_a_conversation_takes_the_same_queries_however_many_branches(
    user, enqueued, model_server, django_assert_num_queries
):
    session = f.job_session(user=user, content="Q1")
    question = f.first_message(session)
    answer(question, model_server, "A1")
    for n in range(6):
        reply = ChatMessage.objects.get(reply_to=question)
        services.message_regenerate(message=reply)
        answer(question, model_server, f"A1 v{n}")
        question = services.message_edit(message=question, user=user, content=f"Q1 v{n}")
        answer(question, model_server, f"B{n}")
    with django_assert_num_queries(2):
        loaded = selectors.session_get(session_id=session.pk)
        assert [m.content for m in loaded.conversation] == ["Q1 v5", "B5"]
    later = ask(session, user, "next")
    with django_assert_num_queries(2):
        assert [m["content"] for m in prompts.history(session, later)] == ["Q1 v5", "B5"]
