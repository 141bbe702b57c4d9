"""Embeddings and semantic search: declared per model, kept current after saves, in
the background or by command, searched within the user's scope."""

import math

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import transaction

from assistant import dispatch, embeddings, llm
from assistant.embeddings import indexing, pgvector, registry
from assistant.models import ChatMessage, Embedding
from assistant.openai_protocol import hashed_embedding
from assistant.registry import AlreadyRegistered
from projects.models import Job, Project, Workflow
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db

JOBS, WORKFLOWS, MESSAGES = "projects.job", "projects.workflow", "assistant.chatmessage"


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def vector_of(row):
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(row)
    return Embedding.objects.filter(
        content_type=content_type, object_id=indexing.object_key(type(row), row.pk)
    ).first()


def index(label, *rows):
    return embeddings.embed_rows(embeddings.site.get(label), [row.pk for row in rows])


def search(user, query, label=JOBS, k=10):
    return embeddings.nearest(embeddings.site.get(label), user=user, query=query, k=k)


@pytest.fixture
def project_of(user):
    def make(owner=None):
        return f.project(members=[owner or user])

    return make


def a_job(project, name, code="fn(state => state);"):
    return f.job(workflow_=f.workflow(project_=project), name=name, code=code)


# Declarations --------------------------------------------------------------------


def test_the_built_in_models_are_declared_and_the_tool_offers_them():
    from assistant.tools import site as tools

    assert {JOBS, WORKFLOWS, MESSAGES} <= set(embeddings.site.labels())
    tool = tools.get("semantic_search")
    assert set(tool.parameters["properties"]["model"]["enum"]) == set(embeddings.site.labels())
    assert not tool.writes and not tool.needs_session


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, "give fields or text"),
        ({"fields": ["name"], "text": str}, "give fields or text"),
        ({"fields": ["nope"]}, "no field 'nope'"),
        ({"fields": ["workflow"]}, "is a relation"),
        ({"fields": ["name"], "update": "nightly"}, "update is one of save, background, command"),
        ({"fields": ["name"], "show": ["workflow__nope"]}, "no field 'workflow__nope'"),
    ],
)
def test_a_bad_declaration_is_refused_with_what_is_wrong(options, error):
    with pytest.raises(ImproperlyConfigured, match=error):
        embeddings.embedded(Job, queryset=lambda user: Job.objects.all(), **options)


def test_a_model_is_declared_once():
    again = embeddings.embedded(Job, fields=["name"], queryset=lambda user: Job.objects.all())
    with pytest.raises(AlreadyRegistered, match="projects.job"):
        embeddings.register(again)


# The embedding model ---------------------------------------------------------------


def test_the_demo_vectors_rank_texts_sharing_words_above_others():
    size = 384
    query = hashed_embedding("sync patients to the registry", size)
    near = hashed_embedding("Sync patient records into the national registry", size)
    far = hashed_embedding("send a weekly invoice email", size)
    assert cosine(query, near) > 0.3 > abs(cosine(query, far))
    assert hashed_embedding("same words", size) == hashed_embedding("Same words", size)
    assert math.isclose(math.hypot(*near), 1.0)


def test_the_demo_model_answers_the_embeddings_api_through_the_sdk():
    answer = llm.embed(["one text", "another text"])
    assert answer.model == "demo" and answer.dimensions == 384 and len(answer.vectors) == 2
    assert answer.vectors[0] == pytest.approx(hashed_embedding("one text", 384), abs=1e-6)


def test_the_model_name_and_size_are_settings_sent_to_the_endpoint(model_server, settings):
    settings.ASSISTANT = {
        **settings.ASSISTANT,
        "EMBEDDING_MODEL": "nomic-embed-text",
        "EMBEDDING_DIMENSIONS": 64,
    }
    answer = llm.embed(["a text"])
    [request] = model_server.embedding_requests
    assert request["model"] == "nomic-embed-text" and request["dimensions"] == 64
    assert request["input"] == ["a text"] and answer.dimensions == 64
    settings.ASSISTANT = {**settings.ASSISTANT, "EMBEDDING_DIMENSIONS": None}
    llm.embed(["a text"])
    assert "dimensions" not in model_server.embedding_requests[-1]


def test_a_model_error_is_an_llm_error_saying_whether_to_try_again(model_server):
    model_server.script_embeddings(
        Reply(status=503, error="Overloaded"), Reply(status=400, error="Bad input")
    )
    with pytest.raises(llm.LLMError) as busy:
        llm.embed(["x"])
    with pytest.raises(llm.LLMError) as bad:
        llm.embed(["x"])
    assert busy.value.transient and not bad.value.transient and bad.value.message == "Bad input"


# Keeping vectors current -----------------------------------------------------------


def test_a_row_whose_text_is_unchanged_is_not_embedded_again(model_server, project_of):
    job = a_job(project_of(), "Fetch patients")
    assert index(JOBS, job).embedded == 1
    first = vector_of(job)
    assert first.dimensions == 384 and len(first.vector) == 384 * 4
    Job.objects.filter(pk=job.pk).update(adaptor="@openfn/language-dhis2@latest")  # not embedded text
    assert index(JOBS, job).unchanged == 1
    assert len(model_server.embedding_requests) == 1
    Job.objects.filter(pk=job.pk).update(code="upsert('Patient', state.data);")
    counts = index(JOBS, job)
    assert counts.embedded == 1 and len(model_server.embedding_requests) == 2
    assert vector_of(job).text_hash != first.text_hash and bytes(vector_of(job).vector) != bytes(first.vector)


def test_another_embedding_model_re_embeds_every_row(model_server, project_of, settings):
    job = a_job(project_of(), "Fetch patients")
    index(JOBS, job)
    settings.ASSISTANT = {**settings.ASSISTANT, "EMBEDDING_MODEL": "another-model"}
    assert index(JOBS, job).embedded == 1
    assert vector_of(job).model == "another-model"


def test_rows_are_sent_in_batches(model_server, project_of, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "EMBEDDING_BATCH": 4}
    project = project_of()
    workflow = f.workflow(project_=project)
    jobs = [f.job(workflow_=workflow, name=f"Job number {n}") for n in range(10)]
    assert index(JOBS, *jobs).embedded == 10
    assert [len(request["input"]) for request in model_server.embedding_requests] == [4, 4, 2]


def test_save_embeds_once_the_transaction_commits_and_once_however_often_it_saved(
    model_server, project_of, django_capture_on_commit_callbacks
):
    project = project_of()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        workflow = Workflow.objects.create(project=project, name="Patients to the registry")
        workflow.name = "Sync patients to the registry"
        workflow.save()
        workflow.save()
        assert vector_of(workflow) is None  # not before the commit
    assert [request["input"] for request in model_server.embedding_requests] == [
        ["Sync patients to the registry"]
    ]
    with django_capture_on_commit_callbacks(execute=True):
        workflow.save()  # text unchanged
    assert len(model_server.embedding_requests) == 1
    assert vector_of(workflow).text_hash == indexing.text_hash("Sync patients to the registry")


def test_a_rolled_back_transaction_embeds_nothing_and_the_next_one_does(
    model_server, project_of, django_capture_on_commit_callbacks
):
    project = project_of()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            Workflow.objects.create(project=project, name="Rolled back")
            raise RuntimeError
        with transaction.atomic():
            kept = Workflow.objects.create(project=project, name="Kept")
    assert [request["input"] for request in model_server.embedding_requests] == [["Kept"]]
    assert vector_of(kept) is not None


def test_background_queues_one_task_per_transaction(
    project_of, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(dispatch, "enqueue", lambda name, *args, **kw: queued.append((name, *args)))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        workflow = f.workflow(project_=project_of())  # embedded at once: it saves
        jobs = [f.job(workflow_=workflow, name=f"Job {n}") for n in range(3)]
        jobs[0].save()
    assert vector_of(workflow) is not None
    assert queued == [(indexing.EMBED_ROWS, JOBS, [str(job.pk) for job in jobs])]
    assert all(vector_of(job) is None for job in jobs)  # the task embeds them
    assert registry.embed_step(JOBS, queued[0][2]).state == "success"
    assert all(vector_of(job) is not None for job in jobs)


@pytest.mark.django_db(transaction=True)
def test_background_embeds_on_the_in_process_workers(user, settings):
    settings.TASKS_IN_PROCESS = True  # the embedded default's runner (Celery's: tests/e2e/test_worker.py)
    job = a_job(f.project(members=[user]), "Fetch patients from the registry")
    assert dispatch.wait_for_submitted(timeout=10)
    assert vector_of(job) is not None
    [hit] = search(user, "registry patients")
    assert hit.row["id"] == job.pk


def test_a_transient_failure_is_retried_with_backoff_then_given_up(model_server, project_of, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_RETRIES": 2}
    job = a_job(project_of(), "Fetch patients")
    model_server.script_embeddings(Reply(status=503), Reply(status=429))
    outcomes = [registry.embed_step(JOBS, [str(job.pk)], retries_done=n) for n in range(3)]
    assert [o.state for o in outcomes] == ["retry", "retry", "success"]
    assert outcomes[0].retry_in > 0 and vector_of(job) is not None
    model_server.script_embeddings(Reply(status=500))
    Job.objects.filter(pk=job.pk).update(name="Renamed")
    assert registry.embed_step(JOBS, [str(job.pk)], retries_done=2).state == "error"  # retries spent
    model_server.script_embeddings(Reply(status=400))
    assert registry.embed_step(JOBS, [str(job.pk)], retries_done=0).state == "error"  # not worth retrying


@pytest.mark.django_db(transaction=True)
def test_the_in_process_runner_retries_until_the_model_answers(
    model_server, project_of, fast_retries, settings
):
    settings.TASKS_IN_PROCESS = True
    job = a_job(project_of(), "Fetch patients")
    assert dispatch.wait_for_submitted(timeout=10)  # its own background embedding
    Job.objects.filter(pk=job.pk).update(code="changed")
    model_server.reset()
    model_server.script_embeddings(Reply(status=502), Reply(status=502))
    dispatch._run_here(indexing.EMBED_ROWS, (JOBS, [str(job.pk)]), 0, 0)
    assert len(model_server.embedding_requests) == 3
    assert vector_of(job).text_hash == indexing.text_hash("Fetch patients\nchanged")


def test_save_hands_a_transient_failure_to_the_background(
    model_server, project_of, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(dispatch, "enqueue", lambda name, *args, **kw: queued.append((name, args, kw)))
    model_server.script_embeddings(Reply(status=503))
    with django_capture_on_commit_callbacks(execute=True):
        workflow = Workflow.objects.create(project=project_of(), name="Busy model")
    [(name, args, options)] = queued
    assert (name, args) == (indexing.EMBED_ROWS, (WORKFLOWS, [str(workflow.pk)]))
    assert options["retries_done"] == 1 and options["countdown"] > 0


def test_a_deleted_row_leaves_no_vector_cascades_included(project_of, django_capture_on_commit_callbacks):
    project = project_of()
    workflow = f.workflow(project_=project)
    jobs = [f.job(workflow_=workflow, name=f"Job {n}") for n in range(3)]
    index(JOBS, *jobs)
    index(WORKFLOWS, workflow)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        jobs[0].delete()
    assert vector_of(jobs[0]) is None and vector_of(jobs[1]) is not None
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        workflow.delete()
        raise RuntimeError
    assert Embedding.objects.count() == 3  # rolled back: kept
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        Project.objects.filter(pk=project.pk).delete()
    assert len(callbacks) == 1 and Embedding.objects.count() == 0


def test_an_emptied_text_loses_its_vector(project_of):
    workflow = f.workflow(project_=project_of(), name="Named")
    index(WORKFLOWS, workflow)
    Workflow.objects.filter(pk=workflow.pk).update(name="")
    assert index(WORKFLOWS, workflow).removed == 1 and vector_of(workflow) is None


@pytest.fixture
def projects_by_command():
    """Projects declared with the command strategy."""
    declaration = embeddings.register(
        embeddings.embedded(
            Project,
            fields=["name"],
            queryset=lambda user: Project.objects.filter(members=user),
            update="command",
        )
    )
    yield declaration
    embeddings.site.unregister(declaration.label)


def test_the_command_embeds_what_saves_do_not_and_stale_only_what_changed(
    projects_by_command, model_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        projects = [Project.objects.create(name=f"Project about patients {n}") for n in range(3)]
    assert not model_server.embedding_requests  # saves do nothing
    out = call(["--model", "projects.project"])
    assert "projects.project: 3 embedded, 0 unchanged, 0 removed (1 requests" in out
    Project.objects.filter(pk=projects[0].pk).update(name="Renamed")
    # Its vector would go once the test's transaction commits, which it never does: an
    # orphan, as a raw delete leaves, which the command removes.
    Project.objects.filter(pk=projects[1].pk).delete()
    out = call(["--model", "projects.project", "--stale"])
    assert "projects.project: 1 embedded, 1 unchanged, 1 removed" in out
    out = call(["--model", "PROJECTS.PROJECT"])
    assert "projects.project: 2 embedded, 0 unchanged, 0 removed" in out


def call(arguments):
    from io import StringIO

    out = StringIO()
    call_command("embed", *arguments, stdout=out)
    return out.getvalue()


def test_the_command_refuses_an_unknown_model_and_says_when_the_model_fails(model_server, project_of):
    with pytest.raises(CommandError, match="Not an embedded model: projects.run"):
        call(["--model", "projects.run"])
    a_job(project_of(), "Fetch patients")
    model_server.script_embeddings(Reply(status=400, error="No such model"))
    with pytest.raises(CommandError, match="projects.job: the embedding model failed: No such model"):
        call(["--model", JOBS])


def test_the_command_without_a_model_embeds_every_declared_one(project_of):
    a_job(project_of(), "Fetch patients")
    out = call(["--stale"])
    assert all(f"{label}: " in out for label in (JOBS, WORKFLOWS, MESSAGES))


# Search ------------------------------------------------------------------------------


def test_the_nearest_rows_come_first_with_their_scores(user, project_of):
    project = project_of()
    wanted = a_job(project, "Sync patients to the registry", code="post('/registry/patients', state.data);")
    other = a_job(project, "Send invoices", code="sendEmail(state.invoice);")
    index(JOBS, wanted, other)
    first, second = search(user, "the job that syncs patients to the registry")
    assert first.row == {
        "id": wanted.pk,
        "name": wanted.name,
        "adaptor": wanted.adaptor,
        "workflow": wanted.workflow_id,
        "workflow__name": wanted.workflow.name,
    }
    assert first.score > second.score and second.row["id"] == other.pk
    assert -1 <= second.score <= first.score <= 1
    assert [hit.row["id"] for hit in search(user, "patients registry", k=1)] == [wanted.pk]


def test_another_users_rows_are_never_returned(user, make_user, project_of):
    bob = make_user("bob")
    mine = a_job(project_of(), "Fetch patients")
    bobs = a_job(project_of(bob), "Fetch patients")
    index(JOBS, mine, bobs)
    assert [hit.row["id"] for hit in search(user, "fetch patients")] == [mine.pk]
    assert [hit.row["id"] for hit in search(bob, "fetch patients")] == [bobs.pk]


def test_scope_is_asked_on_every_search(user, project_of):
    project = project_of()
    job = a_job(project, "Fetch patients")
    index(JOBS, job)
    assert search(user, "fetch patients")
    project.memberships.filter(user=user).delete()
    assert search(user, "fetch patients") == []
    user.is_active = False
    assert search(user, "fetch patients") == []


def test_rows_without_a_vector_or_of_another_model_are_not_compared(user, project_of, settings):
    project = project_of()
    old = a_job(project, "Fetch patients")
    index(JOBS, old)
    a_job(project, "Fetch patients too")  # not embedded yet
    settings.ASSISTANT = {**settings.ASSISTANT, "EMBEDDING_DIMENSIONS": 128}
    assert search(user, "fetch patients") == []
    settings.ASSISTANT = {**settings.ASSISTANT, "EMBEDDING_DIMENSIONS": 384}
    assert [hit.row["id"] for hit in search(user, "fetch patients")] == [old.pk]


def test_messages_are_found_through_the_sessions_the_user_may_read(user, make_user, enqueued):
    bob = make_user("bob")
    mine = f.job_session(user=user, content="Why does the registry reject my patients?")
    bobs = f.job_session(user=bob, content="Why does the registry reject my patients?")
    questions = [f.first_message(mine), f.first_message(bobs)]
    ChatMessage.objects.filter(pk__in=[q.pk for q in questions]).update(status="success")
    index(MESSAGES, *questions)
    [hit] = search(user, "registry rejects patients", label=MESSAGES)
    assert hit.row["id"] == str(questions[0].pk) and hit.row["session"] == str(mine.pk)
    assert hit.row["role"] == "user" and "registry" in hit.row["content"]


def test_the_question_and_answer_are_embedded_after_the_answer(
    user, model_server, django_capture_on_commit_callbacks, monkeypatch
):
    from assistant.processing import message_process

    queued = []
    monkeypatch.setattr(dispatch, "enqueue", lambda name, *args, **kw: queued.append((name, *args)))
    monkeypatch.setattr("assistant.services.enqueue_message", lambda *a, **kw: None)
    session = f.job_session(user=user, content="Why is my registry sync failing?")
    question = f.first_message(session)
    model_server.script(Reply(text="The registry needs a patient id."))
    with django_capture_on_commit_callbacks(execute=True):
        assert message_process(message_id=question.pk).state == "success"
    question.refresh_from_db()
    [(name, label, pks)] = [call for call in queued if call[0] == indexing.EMBED_ROWS]
    assert (label, pks) == (MESSAGES, [str(question.pk), str(question.reply.pk)])
    assert registry.embed_step(label, pks).state == "success"
    [first, *_] = search(user, "patient id registry", label=MESSAGES)
    assert first.row["id"] == str(question.reply.pk)


def test_messages_are_not_embedded_when_switched_off(
    user, model_server, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from assistant.processing import message_process

    settings.ASSISTANT = {**settings.ASSISTANT, "EMBED_MESSAGES": False}
    queued = []
    monkeypatch.setattr(dispatch, "enqueue", lambda name, *args, **kw: queued.append(name))
    monkeypatch.setattr("assistant.services.enqueue_message", lambda *a, **kw: None)
    question = f.first_message(f.job_session(user=user, content="Hello"))
    with django_capture_on_commit_callbacks(execute=True):
        assert message_process(message_id=question.pk).state == "success"
    assert indexing.EMBED_ROWS not in queued


def test_a_search_takes_the_same_queries_however_many_rows(user, project_of, django_assert_max_num_queries):
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.get_for_model(Job)  # cached, as in any running process
    workflow = f.workflow(project_=project_of())
    for count in (5, 60):
        jobs = Job.objects.bulk_create(
            Job(workflow=workflow, name=f"Job {count}-{n}", adaptor="x", code=f"step {n}")
            for n in range(count)
        )
        index(JOBS, *jobs)
        with django_assert_max_num_queries(2):  # the vectors in scope, the rows found
            assert len(search(user, "step", k=5)) == 5


# The API and the tool ------------------------------------------------------------------


def test_the_api_returns_the_nearest_rows_of_a_model(client_of, user, project_of):
    job = a_job(project_of(), "Sync patients to the registry")
    index(JOBS, job)
    response = client_of(user).get("/api/search/semantic", {"q": "patients registry", "model": JOBS})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == JOBS
    [hit] = body["results"]
    assert hit["object"]["id"] == job.pk and 0 < hit["score"] <= 1


@pytest.mark.parametrize(
    ("params", "field"),
    [({"model": JOBS}, "q"), ({"q": "x"}, "model"), ({"q": "x", "model": "projects.run"}, "model"),
     ({"q": "x", "model": JOBS, "limit": 0}, "limit"), ({"q": "", "model": JOBS}, "q")],
)  # fmt: skip
def test_the_api_refuses_bad_parameters_with_a_json_error(client_of, user, params, field):
    response = client_of(user).get("/api/search/semantic", params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid" and list(body["detail"]) == [field], body


def test_the_api_says_503_when_the_embedding_model_is_down(client_of, user, model_server):
    model_server.script_embeddings(*[Reply(status=500, error="Down")] * 2)
    response = client_of(user).get("/api/search/semantic", {"q": "x", "model": JOBS})
    assert response.status_code == 503 and response["content-type"].startswith("application/json")


def test_the_api_needs_a_user(api_client):
    assert api_client.get("/api/search/semantic", {"q": "x", "model": JOBS}).status_code in (401, 403)


def test_the_tool_searches_as_the_caller(user, make_user, project_of):
    from assistant.tools import ToolContext
    from assistant.tools import site as tools

    bob = make_user("bob")
    mine, bobs = a_job(project_of(), "Fetch patients"), a_job(project_of(bob), "Fetch patients")
    index(JOBS, mine, bobs)
    tool = tools.get("semantic_search")
    result = tool.function(ToolContext(user=user), {"query": "fetch patients", "model": JOBS})
    assert [row["id"] for row in result["results"]] == [mine.pk] and result["results"][0]["score"] > 0


# pgvector ------------------------------------------------------------------------------


def test_pgvector_where_installed_ranks_as_the_exact_search_does(user, project_of):
    """CI's PostgreSQL has no pgvector: there, enabling it is refused and searches read
    the vectors; where the extension is installed, the database ranks them the same."""
    if not pgvector.available():
        assert not pgvector.enable() and not pgvector.enabled()
        return
    project = project_of()
    jobs = [a_job(project, name) for name in ("Sync patients", "Patients registry", "Send invoices")]
    index(JOBS, *jobs)
    pgvector.forget()
    exact = [(hit.row["id"], hit.score) for hit in search(user, "patients registry")]
    assert pgvector.enable() and pgvector.enabled()
    ranked = [(hit.row["id"], hit.score) for hit in search(user, "patients registry")]
    assert [key for key, _ in ranked] == [key for key, _ in exact]
    assert [score for _, score in ranked] == pytest.approx([score for _, score in exact], abs=1e-3)
