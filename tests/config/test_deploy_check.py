"""``manage.py check --deploy`` on production settings, in a new process as a deployment
runs it. With HTTPS on, nothing is left; on the plain-http default (``make run``) only
the four warnings the README explains, which HTTPS=true removes."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

from .test_settings import VARIABLES

PRODUCTION = {
    "SECRET_KEY": "k3y-" + "x7Qp9zL2mV8rT4wN6bY1cJ5hF0dS3aG" * 2,
    "ALLOWED_HOSTS": "assistant.example.org",
    "DEBUG": "false",
}


def deploy_warnings(tmp_path, **variables) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(ENV_FILE="", DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    env.update(PRODUCTION, **variables)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = set(re.findall(r"\((\w+\.[WE]\d+)\)", result.stdout + result.stderr))
    if not found:
        assert "System check identified no issues" in result.stdout
    return found


def test_production_over_https_passes_the_deploy_check(tmp_path):
    assert deploy_warnings(tmp_path, HTTPS="true", HSTS_PRELOAD="true") == set()
    # the same behind a TLS-terminating proxy
    assert deploy_warnings(tmp_path, HTTPS_BEHIND_PROXY="true", HSTS_PRELOAD="true") == set()


@pytest.mark.parametrize(
    "variables, explained",
    [
        ({}, {"security.W004", "security.W008", "security.W012", "security.W016"}),
        ({"HTTPS": "true"}, {"security.W021"}),
    ],
)
def test_only_the_warnings_the_readme_explains_remain(tmp_path, variables, explained):
    assert deploy_warnings(tmp_path, **variables) == explained
    readme = (ROOT / "README.md").read_text()
    for check in explained:
        assert f"`{check}`" in readme
