"""manage.py with no configuration at all runs locally; a deployment's settings stay strict."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", **env})


def test_manage_runs_with_no_configuration():
    result = _manage("check")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_manage_with_a_database_but_no_secret_refuses_with_a_sentence():
    result = _manage("check", DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_serve_help_names_gunicorn_and_keeps_runserver_for_development():
    result = _manage("serve", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "gunicorn" in text
    assert "runserver" in text and "not for production" in text
