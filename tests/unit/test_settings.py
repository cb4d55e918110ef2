"""Production settings refuse to start unsafe: DEBUG on, or the development secret key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def start_django(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OMS_ENV"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "oms_project.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"OMS_ENV": "production", "DJANGO_SECRET_KEY": "s3cr3t-" * 8, "DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
        ({"OMS_ENV": "production"}, "DJANGO_SECRET_KEY"),
    ],
)
def test_production_refuses_unsafe_settings(env, complaint):
    result = start_django(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_production_starts_with_a_secret_and_debug_off():
    result = start_django(OMS_ENV="production", DJANGO_SECRET_KEY="s3cr3t-" * 8)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout
