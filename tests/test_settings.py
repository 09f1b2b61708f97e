"""Settings come from the environment; production passes Django's deploy checks; bad values fail loudly."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from lineage_project.env import EnvError, env_bool, env_int

ROOT = Path(__file__).resolve().parents[1]


def manage(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    full_env.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True,
                          timeout=120)


def test_production_settings_pass_the_deploy_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_ENV="production",
                    DJANGO_SECRET_KEY=secrets.token_urlsafe(60), DJANGO_ALLOWED_HOSTS="lineage.example.com")
    security = [line for line in (result.stdout + result.stderr).splitlines() if "security." in line]
    assert security == []


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", DJANGO_ENV="production")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("0", False), ("Off", False), ("YES", True)])
def test_env_bool(monkeypatch, raw, value):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not value) is value


def test_typos_in_the_environment_are_errors(monkeypatch):
    monkeypatch.setenv("X_FLAG", "treu")
    with pytest.raises(EnvError, match="X_FLAG"):
        env_bool("X_FLAG", False)
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(EnvError, match="X_NUM"):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(EnvError, match="at least 1"):
        env_int("X_NUM", 5, minimum=1)


@pytest.mark.parametrize(("flag", "threshold"), [(None, "5"), ("false", "None"), ("true", "5")])
def test_prepared_statements_can_be_switched_off_for_a_pooler(flag, threshold):
    """psycopg prepares the statements it is asked to on PostgreSQL, unless the deployment says
    its pooler cannot keep them."""
    env = {"DATABASE_URL": "postgres://u@db.invalid:5432/x"}
    if flag is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = flag
    result = manage("shell", "-c", "from django.conf import settings; "
                    "print(settings.DATABASES['default']['OPTIONS'].get('prepare_threshold'))", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == threshold
