import openai
import pytest

from assistant import demo_model, processing
from projects.prompts import WORKFLOW_SYSTEM
from tests import factories as f


def client():
    return openai.OpenAI(
        api_key="demo", base_url="http://demo.invalid/v1", http_client=demo_model.demo_http_client()
    )


def test_the_demo_streams_with_usage_and_says_what_it_is(monkeypatch):
    monkeypatch.setattr(demo_model, "DEMO_CHUNK_DELAY", 0)
    stream = client().chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "Why does my job fail?"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith(demo_model.INTRO)
    assert "Why does my job fail?" in text
    assert chunks[-1].usage.total_tokens > 0 and chunks[-1].choices == []
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 10


def test_the_demo_answers_without_streaming_and_lists_its_model():
    reply = client().chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content.startswith(demo_model.INTRO)
    assert [m.id for m in client().models.list().data] == ["demo"]


def test_asked_for_a_workflow_the_demo_answers_with_yaml():
    reply = client().chat.completions.create(
        model="demo",
        messages=[
            {"role": "system", "content": WORKFLOW_SYSTEM},
            {"role": "user", "content": "sync patients daily"},
        ],
    )
    text = reply.choices[0].message.content
    assert "```yaml\nname: Sync Patients Daily\njobs:" in text
    for key in ("triggers:", "edges:", "adaptor:", "source_trigger: webhook"):
        assert key in text


@pytest.mark.django_db
def test_on_the_embedded_default_the_demo_answers_a_real_message(user, enqueued, settings, monkeypatch):
    monkeypatch.setattr(demo_model, "DEMO_CHUNK_DELAY", 0)
    settings.OPENAI_BASE_URL = "demo"
    settings.OPENAI_API_KEY = None
    settings.OPENAI_MODEL = "demo"
    message = f.first_message(f.job_session(user=user, content="What does fn() do?"))
    assert processing.message_process(message_id=message.pk).state == "success"
    assert message.reply.content.startswith(demo_model.INTRO)
    assert message.reply.usage["total_tokens"] > 0
