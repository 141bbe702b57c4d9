"""Schemathesis over the OpenAPI document: no input gives a 5xx or a response that
breaks the schema. Bounded: a few examples per operation, so it runs in CI."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application
from tests import factories as f

#: Examples per operation: enough to find crashes, few enough for every CI run.
EXAMPLES = 15


@pytest.fixture
def api_schema(db):
    # Requests run inside the test's transaction: keep Django from closing the
    # connection at their end, as its own test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, make_user, enqueued):
    from accounts.services import tokens_for_user

    user = make_user("fuzzer")
    job = f.job(workflow_=f.workflow(project_=f.project(members=[user])))
    f.job_session(user=user, job_=job)
    return {"Authorization": f"Bearer {tokens_for_user(user)['access']}"}


def test_no_input_breaks_the_api(api_schema, bearer):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def check(case):
            case.call_and_validate(headers=bearer, checks=[not_a_server_error, response_schema_conformance])

        check()
