"""Search in what was said: GET /api/search/?q= over the database's own full-text
index (PostgreSQL's tsvector and GIN, SQLite's FTS5), kept in step by the database."""

import pytest
from django.db import connection

from assistant import search, selectors, services
from assistant.access import sessions_visible_to
from assistant.models import ChatMessage, ChatSession
from tests import factories as f

pytestmark = pytest.mark.django_db


def said(user, *turns, title=None):
    """A session of ``user`` where the question and the answers say ``turns``."""
    session = f.job_session(user=user, content=turns[0])
    question = f.first_message(session)
    ChatMessage.objects.filter(pk=question.pk).update(status="success")
    for text in turns[1:]:
        services.message_save(session=session, role="assistant", content=text, reply_to=question)
    if title:
        services.session_rename(session=session, title=title)
    return session


def found(client, q, **params):
    response = client.get("/api/search/", {"q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_word_of_an_answer_finds_its_conversation_with_a_snippet(client_of, user, enqueued):
    wanted = said(user, "Why does my job stop?", "The adaptor fails when the registry times out.")
    said(user, "How do I add a cron trigger?", "Use a cron expression in the trigger.")
    body = found(client_of(user), "registry")
    [hit] = body["results"]
    assert hit["session"]["id"] == str(wanted.pk)
    assert hit["role"] == "assistant"
    assert "<mark>registry</mark>" in hit["snippet"]
    assert body["pagination"]["total_count"] == 1
    # Stemmed: "failing" finds "fails"; the last word is a prefix as the user types.
    assert [h["session"]["id"] for h in found(client_of(user), "failing")["results"]] == [str(wanted.pk)]
    assert [h["session"]["id"] for h in found(client_of(user), "regis")["results"]] == [str(wanted.pk)]
    # Every word must be said: one that is not leaves nothing.
    assert found(client_of(user), "registry banana")["results"] == []


def test_the_best_match_comes_first_and_pages(client_of, user, enqueued):
    once = said(user, "Tell me about patients", "Nothing else here.")
    often = said(user, "patients patients", "Patients are synced with the patients registry.")
    body = found(client_of(user), "patients", limit=1)
    assert [h["session"]["id"] for h in body["results"]] == [str(often.pk)]
    assert body["pagination"]["has_next_page"] is True
    assert [h["session"]["id"] for h in found(client_of(user), "patients", offset=1)["results"]] == [
        str(once.pk)
    ]
    assert found(client_of(user), "patients", offset=10)["results"] == []


def test_a_snippet_is_escaped_html_with_only_the_marks(client_of, user, enqueued):
    said(user, "<script>alert('payload')</script> payload & <b>more</b>")
    [hit] = found(client_of(user), "payload")["results"]
    # Markup is escaped (SQLite) or left out (PostgreSQL's headline drops tags), never kept.
    assert "<script>" not in hit["snippet"] and "&amp;" in hit["snippet"]
    assert "<mark>payload</mark>" in hit["snippet"]
    assert hit["snippet"].replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_other_users_conversations_are_never_found(client_of, user, make_user, enqueued):
    mallory = make_user("mallory")
    said(mallory, "My secret registry password is hunter2")
    mine = said(user, "Which registry do we use?")
    assert [h["session"]["id"] for h in found(client_of(user), "registry")["results"]] == [str(mine.pk)]
    assert found(client_of(user), "hunter2")["results"] == []
    assert [h["session"]["id"] for h in found(client_of(mallory), "hunter2")["results"]] != []


def test_cancelled_and_deleted_messages_are_not_found(client_of, user, enqueued):
    session = said(user, "first question about kittens")
    dropped = services.message_save(session=session, role="user", content="about zebras", user=user)
    services.message_cancel(message=dropped)
    assert found(client_of(user), "zebras")["results"] == []
    assert len(found(client_of(user), "kittens")["results"]) == 1
    services.session_delete(session=session)
    assert found(client_of(user), "kittens")["results"] == []
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {search.FTS}")
            assert cursor.fetchone()[0] == 0  # the deleted messages left no rows behind


def test_rows_written_around_the_services_are_indexed_too(client_of, user, enqueued):
    """The database keeps the index: a bulk insert is found, a changed text is found
    by its new words only."""
    session = said(user, "an ordinary question")
    ChatMessage.objects.bulk_create(
        [ChatMessage(session=session, role="assistant", content="bulk written pelican", status="success")]
    )
    assert len(found(client_of(user), "pelican")["results"]) == 1
    ChatMessage.objects.filter(content="bulk written pelican").update(content="now about herons")
    assert found(client_of(user), "pelican")["results"] == []
    assert len(found(client_of(user), "herons")["results"]) == 1


def test_bad_queries_are_clear_errors_and_empty_ones_find_nothing(client_of, user, enqueued):
    api = client_of(user)
    said(user, "something")
    for params in ({}, {"q": ""}, {"q": "x" * 201}, {"q": "a", "limit": 0}, {"q": "a", "offset": -1}):
        response = api.get("/api/search/", params)
        assert response.status_code == 400, params
        assert response.json()["error"] == "invalid"
    assert found(api, "!!! ??? '\" OR 1=1 --")["results"] == []
    assert found(api, '" AND NOT * :')["results"] == []  # operators of neither database


def test_searching_takes_the_same_queries_however_many_conversations(
    user, enqueued, django_assert_max_num_queries
):
    for n in range(3):
        said(user, f"question {n} about the registry", "the registry answer")
    with django_assert_max_num_queries(4):
        small = selectors.message_search(sessions=sessions_visible_to(user), query="registry")
    for n in range(30):
        said(user, f"question {n} about the registry", "the registry answer")
    with django_assert_max_num_queries(4):
        large = selectors.message_search(sessions=sessions_visible_to(user), query="registry", limit=20)
    assert (len(small["results"]), len(large["results"]), large["pagination"].total_count) == (3, 20, 33)
    assert all(isinstance(session, ChatSession) for session, _ in large["results"])


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's index is kept by triggers; PostgreSQL's by a column"
)
def test_a_rebuilt_message_table_gets_its_index_back(user, enqueued):
    """SQLite drops a table's triggers when a migration rebuilds it; after migrate the
    triggers are back and the index holds every message again."""
    session = said(user, "before the rebuild: albatross")
    with connection.cursor() as cursor:
        for name in ("insert", "delete", "update"):
            cursor.execute(f"DROP TRIGGER {search.FTS}_{name}")
        cursor.execute(f"DELETE FROM {search.FTS}")
    assert search.ensure_index() is True
    assert search.ensure_index() is False
    assert [
        m.session_id
        for m in search.matches(sessions=ChatSession.objects.all(), query="albatross", offset=0, limit=5)[0]
    ] == [str(session.pk)]
