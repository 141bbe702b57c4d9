"""``message_data`` builds a message's shape directly: it equals what the serializer's
declared fields make (the API document's shape), for every kind of message."""

import pytest

from assistant import processing, selectors, services
from assistant.models import ChatMessage
from assistant.serializers import ChatMessageSerializer, message_data
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db


def test_message_data_equals_the_declared_fields_for_every_kind_of_message(user, enqueued, model_server):
    session = f.job_session(user=user, content="Why does it fail?")
    question = f.first_message(session)
    model_server.script(Reply(text="Because."), Reply(text="Because, again."))
    assert processing.message_process(message_id=question.pk).state == "success"
    services.message_regenerate(message=ChatMessage.objects.get(reply_to=question))
    assert processing.message_process(message_id=question.pk).state == "success"
    ChatMessage.objects.filter(pk=question.pk).update(code="x", partial="Bec", error="x")
    shown = selectors.session_get(session_id=session.pk).conversation  # answers carry their versions
    messages = [*ChatMessage.objects.filter(session=session), *shown]
    assert any(getattr(m, "versions", None) for m in messages), "an answer with two versions"
    assert {m.role for m in messages} == {"user", "assistant"}
    serializer = ChatMessageSerializer()
    for message in messages:
        assert message_data(message) == serializer.fields_representation(message), message.pk
        assert ChatMessageSerializer(message).data == message_data(message)
