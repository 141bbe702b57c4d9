from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from assistant import selectors, services
from assistant.exceptions import Conflict, InvalidStatus, UsageLimitReached
from assistant.models import AIUsage, ChatMessage, ChatSession, Disclaimer, title_max_length
from tests import factories as f

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status


# --- Titles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, title",
    [
        ("Why does my job fail?", "Why does my job fail"),
        ("Help!!!", "Help"),
        ("Fix this, please;", "Fix this, please"),
        ("  spaced   out  words  ", "spaced out words"),
        (
            "Please explain how the HTTP adaptor handles pagination of long lists",
            "Please explain how the HTTP adaptor",
        ),
        ("a" * 60, "a" * 40),
        ("x" * 60 + " more words", "x" * 40),
        ("Exactly forty characters long, it is ok", "Exactly forty characters long, it is ok"),
        ("Short ending with a long word: abcdefghijklmnopqrstuvwxyz", "Short ending with a long word"),
    ],
)
def test_titles_come_from_the_first_message(content, title):
    made = services.session_title(content)
    assert made == title
    assert len(made) <= title_max_length() == 40


def test_a_session_is_titled_from_its_first_message(user):
    session = f.job_session(user=user, content="How do I page through results of a GET request?")
    assert session.title == "How do I page through results of a GET"


# --- Creating sessions ------------------------------------------------------------


def test_a_session_is_about_any_object_and_filed_under_its_scope(
    user, django_capture_on_commit_callbacks, enqueued
):
    with django_capture_on_commit_callbacks(execute=True):
        session = services.session_create(
            mode="job_code", user=user, content="Help", subject=user, scope="team:7", meta={"a": 1}
        )
    session = ChatSession.objects.get(pk=session.pk)
    assert (session.subject, session.scope, session.meta) == (user, "team:7", {"a": 1})
    message = f.first_message(session)
    assert (message.role, message.status, message.user) == ("user", "pending", user)
    assert enqueued == [str(message.pk)]


def test_a_session_about_nothing_in_particular(user):
    session = services.session_create(mode="job_code", user=user, content="Hello")
    assert (session.subject_type, session.subject_id, session.scope) == (None, "", "")


def test_a_bad_first_message_leaves_no_session(user):
    with pytest.raises(ValidationError):
        services.session_create(mode="job_code", user=user, content="")
    assert not ChatSession.objects.exists()


def test_a_session_changes_its_subject(user, make_user):
    session = services.session_create(mode="job_code", user=user, content="Hello", subject=user)
    other = make_user("someone")
    services.session_set_subject(session=session, subject=other)
    assert ChatSession.objects.get(pk=session.pk).subject == other


# --- Saving messages --------------------------------------------------------------


def test_defaults_by_role(user):
    session = f.job_session(user=user)
    answer = services.message_save(session=session, role="assistant", content="Because.")
    question = services.message_save(session=session, role="user", content="Why?", user=user)
    assert (answer.status, question.status) == (Status.SUCCESS, Status.PENDING)


@pytest.mark.parametrize("length, ok", [(0, False), (1, True), (10_000, True), (10_001, False)])
def test_user_content_bounds(user, length, ok):
    session = f.job_session(user=user)
    before = ChatMessage.objects.count()
    if ok:
        services.message_save(session=session, role="user", content="x" * length, user=user)
        assert ChatMessage.objects.count() == before + 1
    else:
        with pytest.raises(ValidationError) as error:
            services.message_save(session=session, role="user", content="x" * length, user=user)
        assert "content" in error.value.detail
        assert ChatMessage.objects.count() == before


def test_a_user_message_needs_its_user(user):
    session = f.job_session(user=user)
    with pytest.raises(ValidationError):
        services.message_save(session=session, role="user", content="hi")


def test_an_unknown_role_or_status_is_refused(user):
    session = f.job_session(user=user)
    with pytest.raises(ValidationError):
        services.message_save(session=session, role="system", content="hi")
    with pytest.raises(InvalidStatus):
        services.message_save(session=session, role="assistant", content="hi", status="done")


def test_session_meta_is_merged(user):
    session = f.job_session(user=user, meta={"follow_run_id": 1, "keep": True})
    services.message_save(session=session, role="assistant", content="ok", meta={"follow_run_id": 2})
    session.refresh_from_db()
    assert session.meta == {"follow_run_id": 2, "keep": True}


def test_usage_is_counted_for_assistant_messages_only(user):
    session = f.job_session(user=user)
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    services.message_save(session=session, role="user", content="q", user=user)
    assert not AIUsage.objects.exists()
    answer = services.message_save(session=session, role="assistant", content="a", usage=usage, model="m")
    row = AIUsage.objects.get()
    assert (row.user, row.session, row.message, row.scope) == (user, session, answer, session.scope)
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens, row.model) == (10, 5, 15, "m")


def test_only_pending_user_messages_are_enqueued_and_only_after_commit(
    user, django_capture_on_commit_callbacks, enqueued
):
    session = f.job_session(user=user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pending = services.message_save(session=session, role="user", content="q", user=user)
        assert enqueued == []
    for callback in callbacks:
        callback()
    assert enqueued == [str(pending.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        services.message_save(session=session, role="assistant", content="a")
        services.message_save(session=session, role="user", content="q", user=user, status="success")
    assert enqueued == [str(pending.pk)]


def test_a_message_created_event_follows_the_commit(
    user, django_capture_on_commit_callbacks, enqueued, events
):
    session = f.job_session(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(session=session, user=user, content="hi", options={"logs": True})
    assert [e["type"] for e in events] == ["message.created"]
    assert events[0]["message"]["id"] == str(message.pk)
    assert message.meta == {"options": {"logs": True}}


def test_update_status(user, django_capture_on_commit_callbacks, events):
    message = f.first_message(f.job_session(user=user))
    with django_capture_on_commit_callbacks(execute=True):
        services.message_update_status(message=message, status="error", error="Boom")
    message.refresh_from_db()
    assert (message.status, message.error) == ("error", "Boom")
    assert events[-1]["type"] == "message.status" and events[-1]["status"] == "error"
    with pytest.raises(InvalidStatus):
        services.message_update_status(message=message, status="finished")


# --- Retry and cancel -------------------------------------------------------------


@pytest.mark.parametrize("status", ["error", "cancelled"])
def test_failed_and_cancelled_messages_can_be_retried(
    user, status, django_capture_on_commit_callbacks, enqueued
):
    message = f.first_message(f.job_session(user=user))
    ChatMessage.objects.filter(pk=message.pk).update(status=status, error="Boom", attempts=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_retry(message=message)
    message.refresh_from_db()
    assert (message.status, message.error, message.attempts) == ("pending", "", 0)
    assert enqueued == [str(message.pk)]


@pytest.mark.parametrize("status", ["success", "pending", "processing"])
def test_other_messages_cannot_be_retried(user, status, enqueued):
    message = f.first_message(f.job_session(user=user))
    ChatMessage.objects.filter(pk=message.pk).update(status=status)
    with pytest.raises(Conflict):
        services.message_retry(message=message)
    message.refresh_from_db()
    assert message.status == status
    assert enqueued == []


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_pending_and_processing_messages_can_be_cancelled(user, status):
    message = f.first_message(f.job_session(user=user))
    ChatMessage.objects.filter(pk=message.pk).update(status=status)
    services.message_cancel(message=message)
    message.refresh_from_db()
    assert message.status == "cancelled"
    with pytest.raises(Conflict):
        services.message_cancel(message=message)


# --- Reading sessions -------------------------------------------------------------


def test_a_session_has_its_messages_in_order_without_cancelled_ones(user, django_assert_num_queries):
    session = f.job_session(user=user, content="first")
    services.message_save(session=session, role="assistant", content="second")
    hidden = services.message_save(session=session, role="user", content="gone", user=user)
    services.message_cancel(message=hidden)
    services.message_save(session=session, role="user", content="third", user=user)
    with django_assert_num_queries(2):
        loaded = selectors.session_get(session_id=session.pk)
        contents = [m.content for m in loaded.conversation]
        users = [m.user for m in loaded.conversation]
        assert loaded.scope and loaded.user.username
    assert contents == ["first", "second", "third"]
    assert users == [user, None, user]


@pytest.mark.parametrize("count", [3, 30])
def test_getting_a_session_takes_two_queries_however_many_messages(user, count, django_assert_num_queries):
    session = f.job_session(user=user)
    for i in range(count):
        services.message_save(session=session, role="assistant", content=f"answer {i}")
    with django_assert_num_queries(2):
        loaded = selectors.session_get(session_id=session.pk)
        assert len([m.user for m in loaded.messages.all()]) == count + 1


def _sessions(user, n, **kw):
    job = kw.pop("job_", None) or f.job()
    made = []
    for i in range(n):
        session = f.job_session(user=user, job_=job, content=f"Question {i}")
        ChatSession.objects.filter(pk=session.pk).update(updated_at=timezone.now() - timedelta(minutes=n - i))
        made.append(session)
    return job.chat_sessions.all(), made


def test_pagination_meta_at_the_edges(user):
    about_job, made = _sessions(user, 45)
    first = selectors.session_search(sessions=about_job)
    assert [s.pk for s in first["sessions"]] == [s.pk for s in reversed(made)][:20]
    assert first["pagination"].as_dict() == {
        "offset": 0, "limit": 20, "current_page": 1, "page_size": 20, "total_count": 45,
        "has_next_page": True, "has_prev_page": False,
    }  # fmt: skip
    last = selectors.session_search(sessions=about_job, offset=40)
    assert len(last["sessions"]) == 5
    assert (last["pagination"].current_page, last["pagination"].has_next_page) == (3, False)
    assert last["pagination"].has_prev_page
    beyond = selectors.session_search(sessions=about_job, offset=100)
    assert beyond["sessions"] == [] and not beyond["pagination"].has_next_page
    exact = selectors.session_search(sessions=about_job, offset=25, limit=20)
    assert len(exact["sessions"]) == 20 and not exact["pagination"].has_next_page


def test_sessions_sort_both_ways_with_message_counts(user):
    about_job, made = _sessions(user, 3)
    services.message_save(session=made[0], role="assistant", content="a")
    hidden = services.message_save(session=made[0], role="user", content="b", user=user)
    services.message_cancel(message=hidden)
    ChatSession.objects.filter(pk=made[0].pk).update(updated_at=timezone.now() - timedelta(days=1))
    asc = selectors.session_search(sessions=about_job, sort="asc")["sessions"]
    desc = selectors.session_search(sessions=about_job, sort="desc")["sessions"]
    assert [s.pk for s in asc] == [s.pk for s in reversed(desc)]
    assert asc[0].pk == made[0].pk and asc[0].message_count == 2
    with pytest.raises(ValueError):
        selectors.session_search(sessions=about_job, sort="sideways")


@pytest.mark.parametrize("count", [3, 40])
def test_listing_takes_two_queries_however_many_sessions(user, count, django_assert_num_queries):
    about_job, _ = _sessions(user, count)
    with django_assert_num_queries(2):
        page = selectors.session_search(sessions=about_job)
        assert [s.message_count for s in page["sessions"]] == [1] * min(count, 20)


def test_pending_user_messages(user):
    session = f.job_session(user=user)
    services.message_save(session=session, role="assistant", content="a")
    done = services.message_save(session=session, role="user", content="b", user=user, status="success")
    pending = selectors.session_pending_user_messages(session=session)
    assert [m.content for m in pending] == [f.first_message(session).content]
    assert done not in pending


# --- Disclaimer -------------------------------------------------------------------


@pytest.mark.parametrize(
    "age, recent",
    [(timedelta(0), True), (timedelta(hours=23, minutes=59), True), (timedelta(hours=24), False),
     (timedelta(hours=25), False)],
)  # fmt: skip
def test_the_disclaimer_stays_accepted_for_less_than_24_hours(user, age, recent):
    acceptance = services.disclaimer_mark_read(user=user)
    now = acceptance.accepted_at + age
    assert services.disclaimer_read_recently(user=user, now=now) is recent


def test_a_user_who_never_accepted_has_not_read_it(user):
    assert services.disclaimer_read_recently(user=user) is False


def test_a_new_active_version_must_be_accepted_again(user):
    services.disclaimer_mark_read(user=user)
    assert services.disclaimer_read_recently(user=user)
    new = Disclaimer.objects.create(version=2, text="New terms")
    services.disclaimer_activate(disclaimer=new)
    assert Disclaimer.objects.filter(is_active=True).get() == new
    assert not services.disclaimer_read_recently(user=user)
    services.disclaimer_mark_read(user=user)
    assert services.disclaimer_read_recently(user=user)


# --- Usage limits -----------------------------------------------------------------


def test_the_user_limit_stops_new_messages_and_saves_nothing(user, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 100}
    session = f.job_session(user=user)
    services.usage_record(user=user, usage={"total_tokens": 100}, session=session)
    before = (ChatSession.objects.count(), ChatMessage.objects.count())
    with pytest.raises(UsageLimitReached) as error:
        f.job_session(user=user)
    assert str(error.value.detail) == "AI usage limit reached. Please try again later."
    with pytest.raises(UsageLimitReached):
        services.message_send(session=session, user=user, content="more")
    assert (ChatSession.objects.count(), ChatMessage.objects.count()) == before


def test_the_scope_limit_counts_everyones_usage_in_the_scope(user, make_user, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "SCOPE_TOKEN_LIMIT": 50}
    other = make_user("bob")
    session = services.session_create(mode="job_code", user=user, content="Hi", scope="team:1")
    services.usage_record(user=other, usage={"total_tokens": 60}, scope="team:1")
    with pytest.raises(UsageLimitReached):
        services.message_send(session=session, user=user, content="more")
    services.session_create(mode="job_code", user=user, content="Hi", scope="team:2")  # another scope is fine


def test_usage_of_an_earlier_period_does_not_count(user, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 100, "USAGE_PERIOD": "day"}
    row = services.usage_record(user=user, usage={"total_tokens": 500})
    AIUsage.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=1, hours=1))
    f.job_session(user=user)
