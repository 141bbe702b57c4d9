"""Model choice: the operator's list, a message's model and reasoning effort, remembered
on the session, passed to the SDK and counted in the usage."""

import pytest

from assistant import processing
from assistant.models import AIUsage, ChatMessage
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db
MODELS = [{"id": "fast", "label": "Fast"}, {"id": "thinker", "label": "Thinker", "reasoning": True}]


@pytest.fixture
def listed(settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "MODELS": MODELS}


@pytest.fixture
def session(user, enqueued):
    session = f.job_session(user=user)
    ChatMessage.objects.filter(session=session).update(status="success")
    return session


def send(client, session, **body):
    return client.post(f"/api/sessions/{session.pk}/messages/", {"content": "Why?", **body}, format="json")


def test_the_models_are_listed(client_of, user, listed):
    body = client_of(user).get("/api/models/").json()
    assert body["models"] == [{**MODELS[0], "reasoning": False}, MODELS[1]]
    assert body["default"] == "fast"
    assert body["reasoning_efforts"] == ["minimal", "low", "medium", "high"]


def test_without_a_list_the_one_model_is_the_configured_one(client_of, user, settings):
    settings.OPENAI_MODEL = "house-model"
    body = client_of(user).get("/api/models/").json()
    assert body["models"] == [{"id": "house-model", "label": "house-model", "reasoning": False}]


def test_a_chosen_model_and_effort_reach_the_sdk_are_remembered_and_counted(
    client_of, user, listed, session, model_server
):
    api = client_of(user)
    response = send(api, session, options={"model": "thinker", "reasoning_effort": "high", "logs": True})
    assert response.status_code == 202, response.content
    question = ChatMessage.objects.get(pk=response.json()["id"])
    assert (question.meta["model"], question.meta["reasoning_effort"]) == ("thinker", "high")
    assert question.meta["options"] == {"logs": True}  # the mode's own options stay apart
    model_server.script(Reply(text="Thought hard."))
    assert processing.message_process(message_id=question.pk).state == "success"
    [request] = model_server.requests
    assert (request["model"], request["reasoning_effort"]) == ("thinker", "high")
    assert AIUsage.objects.get().model == "thinker"

    again = ChatMessage.objects.get(pk=send(api, session).json()["id"])  # no options: remembered
    model_server.script(Reply(text="Still thinking."))
    assert processing.message_process(message_id=again.pk).state == "success"
    assert (model_server.requests[-1]["model"], model_server.requests[-1]["reasoning_effort"]) == (
        "thinker", "high"
    )  # fmt: skip

    fast = ChatMessage.objects.get(pk=send(api, session, options={"model": "fast"}).json()["id"])
    model_server.script(Reply(text="Quick."))
    assert processing.message_process(message_id=fast.pk).state == "success"
    assert (
        model_server.requests[-1]["model"] == "fast" and "reasoning_effort" not in model_server.requests[-1]
    )
    assert sorted(AIUsage.objects.values_list("model", flat=True)) == ["fast", "thinker", "thinker"]


@pytest.mark.parametrize(
    "options, error",
    [
        ({"model": "gpt-9"}, "model must be one of: fast, thinker."),
        ({"model": 7}, "model must be one of: fast, thinker."),
        ({"model": "fast", "reasoning_effort": "high"}, "fast takes no reasoning_effort."),
        ({"reasoning_effort": "low"}, "fast takes no reasoning_effort."),
        ({"model": "thinker", "reasoning_effort": "extreme"}, "reasoning_effort must be one of"),
    ],
)
def test_a_bad_choice_is_a_400_and_saves_nothing(client_of, user, listed, session, options, error):
    before = ChatMessage.objects.count()
    response = send(client_of(user), session, options=options)
    assert response.status_code == 400
    assert response.json()["detail"]["options"][0].startswith(error)
    assert ChatMessage.objects.count() == before


def test_a_session_can_start_with_a_model(client_of, user, listed, enqueued):
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    api = client_of(user)
    start = {"mode": "job_code", "job": job.pk, "content": "Hi"}
    bad = api.post("/api/sessions/", {**start, "meta": {"model": "x"}}, format="json")
    assert bad.status_code == 400 and "fast, thinker" in bad.json()["detail"]["meta"][0]
    made = api.post("/api/sessions/", {**start, "meta": {"model": "thinker"}}, format="json")
    assert made.status_code == 201 and made.json()["meta"]["model"] == "thinker"
