import pytest

from tests import factories as f


@pytest.fixture
def pending(user, enqueued):
    """A user's question, saved and pending; nothing processes it unless the test does."""
    return f.first_message(f.job_session(user=user, content="Why does my job fail?"))


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def job(user):
    """A job in a project of ``user``'s."""
    return f.job(workflow_=f.workflow(project_=f.project(members=[user])))
