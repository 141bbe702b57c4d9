import pytest

from tests import factories as f


@pytest.fixture
def pending(user, enqueued):
    """A user's question, saved and pending; nothing processes it unless the test does."""
    return f.first_message(f.job_session(user=user, content="Why does my job fail?"))
