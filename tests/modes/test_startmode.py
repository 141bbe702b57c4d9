import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import ROOT


def test_startmode_scaffolds_a_mode_that_registers(tmp_path):
    app = tmp_path / "notes_app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    settings = tmp_path / "scaffold_settings.py"
    settings.write_text(
        "from tests.settings import *  # noqa\nINSTALLED_APPS = [*INSTALLED_APPS, 'notes_app']\n"
    )
    env_path = f"{tmp_path}:{ROOT}"
    run = subprocess.run(
        [sys.executable, "manage.py", "startmode", "meeting_notes", "--app", "notes_app"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": env_path, "DJANGO_SETTINGS_MODULE": "scaffold_settings", "ENV_FILE": "",
             "DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (app / "ai_modes.py").exists() and (app / "test_meeting_notes_mode.py").exists()
    check = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from modes.registry import site; "
         "m = site.get('meeting_notes'); print(type(m).__name__, m.metadata()['name'])"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": env_path, "DJANGO_SETTINGS_MODULE": "scaffold_settings", "ENV_FILE": "",
             "DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert check.stdout.strip() == "MeetingNotesMode Meeting notes", check.stderr


@pytest.mark.parametrize("args", [["Bad-Name", "--app", "modes"], ["fine", "--app", "no_such_app"]])
def test_startmode_refuses_bad_names_and_apps(args):
    with pytest.raises(CommandError):
        call_command("startmode", *args, stdout=StringIO())


def test_startmode_never_overwrites(tmp_path, monkeypatch):
    from django.apps import apps

    config = apps.get_app_config("plugin_app")
    monkeypatch.setattr(config, "path", str(tmp_path))
    (tmp_path / "ai_modes.py").write_text("# mine\n")
    with pytest.raises(CommandError, match="exists already"):
        call_command("startmode", "other", "--app", "plugin_app", stdout=StringIO())
    assert (tmp_path / "ai_modes.py").read_text() == "# mine\n"
