"""Production settings refuse to start with development conveniences."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CSMS_ENV": "production", "DEBUG": "true", "SECRET_KEY": "x" * 50},
         "DEBUG must be off in production"),
        ({"CSMS_ENV": "production", "DEBUG": "false"}, "Set SECRET_KEY"),
        ({"CSMS_ENV": "staging"}, "CSMS_ENV must be development or production"),
    ],
)
def test_production_refuses_unsafe_settings(env, message):
    result = check(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_with_proper_settings_starts():
    result = check(CSMS_ENV="production", DEBUG="false", SECRET_KEY="k" * 50)
    assert result.returncode == 0, result.stderr
