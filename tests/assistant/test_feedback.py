"""Feedback on answers: thumbs up or down with a comment, one per user and answer,
readable by the session's readers only; exported as JSONL for evaluation."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from assistant import services
from assistant.models import Feedback
from projects.models import ProjectMembership
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def answer(user, enqueued):
    session = f.job_session(user=user, content="Why does it fail?")
    question = f.first_message(session)
    reply = services.message_save(
        session=session,
        role="assistant",
        content="state.data is empty.",
        reply_to=question,
        model="gpt-x",
        usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    )
    return reply


def url(message):
    return f"/api/messages/{message.pk}/feedback/"


def test_rate_then_change_the_rating_with_a_comment(client_of, user, answer):
    api = client_of(user)
    first = api.put(url(answer), {"rating": "up"}, format="json")
    assert first.status_code == 200
    assert first.json() == {**first.json(), "rating": "up", "comment": "", "model": "gpt-x"}
    second = api.put(url(answer), {"rating": "down", "comment": "Wrong field."}, format="json")
    assert (second.json()["rating"], second.json()["comment"]) == ("down", "Wrong field.")
    assert Feedback.objects.count() == 1
    [shown] = api.get(f"/api/sessions/{answer.session_id}/").json()["feedback"]
    assert (shown["message"], shown["rating"]) == (str(answer.pk), "down")
    assert api.delete(url(answer)).status_code == 204
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"rating": "meh"}, {"rating": "up", "comment": "x" * 2001}, {"rating": ["up"]}]
)
def test_bad_feedback_is_a_400_and_stores_nothing(client_of, user, answer, body):
    response = client_of(user).put(url(answer), body, format="json")
    assert response.status_code == 400 and response.json()["error"] == "invalid"
    assert not Feedback.objects.exists()


def test_only_answers_take_feedback(client_of, user, answer):
    response = client_of(user).put(url(answer.reply_to), {"rating": "up"}, format="json")
    assert response.status_code == 400


def test_only_readers_of_the_session_rate_it(client_of, user, make_user, answer):
    assert (
        client_of(make_user("mallory")).put(url(answer), {"rating": "down"}, format="json").status_code == 404
    )
    viewer = make_user("viewer")
    f.member(answer.session.subject.workflow.project, viewer, ProjectMembership.Role.VIEWER)
    services.session_set_public(session=answer.session, is_public=True)
    assert client_of(viewer).put(url(answer), {"rating": "up"}, format="json").status_code == 200
    assert Feedback.objects.get().user == viewer
    # Each reader sees their own rating only.
    assert client_of(user).get(f"/api/sessions/{answer.session_id}/").json()["feedback"] == []


def test_export_feedback_writes_jsonl_with_question_and_answer(
    user, answer, tmp_path, django_assert_max_num_queries
):
    services.feedback_give(message=answer, user=user, rating="down", comment="Wrong field.")
    out = StringIO()
    call_command("export_feedback", stdout=out)
    [line] = out.getvalue().splitlines()
    row = json.loads(line)
    assert row == {**row, "question": "Why does it fail?", "answer": "state.data is empty.", "rating": "down",
                   "comment": "Wrong field.", "model": "gpt-x"}  # fmt: skip
    target = tmp_path / "feedback.jsonl"
    call_command("export_feedback", "--rating", "up", "--output", str(target), stderr=StringIO())
    assert target.read_text() == ""


def test_the_export_takes_the_same_queries_however_many_rows(
    user, make_user, answer, django_assert_max_num_queries
):
    for n in range(30):
        # No password: hashing thirty of them would be most of the test's time.
        services.feedback_give(message=answer, user=make_user(f"rater{n}", password=None), rating="up")
    with django_assert_max_num_queries(3):
        call_command("export_feedback", stdout=StringIO())
