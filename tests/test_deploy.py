"""The deployment files are documentation that must work: the compose file is valid Compose, names only real settings, and the Caddyfile validates."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from server import config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads((DEPLOY / "schema" / "compose-spec.json").read_text(encoding="utf-8"))
    # The schema names draft-07 by a URL without the trailing '#' that jsonschema looks up.
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(compose())


def test_compose_runs_two_app_nodes_a_proxy_postgresql_minio_and_one_scheduler():
    services = compose()["services"]
    assert {"app1", "app2", "caddy", "db", "minio", "scheduler", "migrate"} <= set(services)
    for name in ("app1", "app2", "scheduler", "migrate"):
        env = services[name]["environment"]
        assert env["STORAGE_BACKEND"] == "s3" and env["DATABASE_URL"].startswith("postgresql://")
        assert env["SECRET_KEY"] == services["app1"]["environment"]["SECRET_KEY"]  # one key: sessions work on every node
    assert services["app1"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["flask", "db", "upgrade"]


def test_compose_sets_only_settings_the_app_reads():
    known = {name for name, *_ in config.SETTINGS} | {"TZ"}
    env = compose()["services"]["app1"]["environment"]
    assert set(env) <= known, set(env) - known


def test_the_scheduler_runs_every_scheduled_command():
    script = (DEPLOY / "scheduler.sh").read_text(encoding="utf-8")
    runs = set(re.findall(r"^\s*run ([a-z ]+?)(?: --apply)?$", script, re.M))
    assert runs == {"webhooks deliver", "tasks escalate", "complaints escalate", "archive seal", "archive build", "retention purge", "sync prune", "storage sweep"}


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (Debian package caddy)")
def test_caddyfile_validates():
    result = subprocess.run(["caddy", "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
                            capture_output=True, text=True, env={"PATROL_DOMAIN": "patrol.example.com", "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, result.stderr


def test_the_phone_app_version_depends_on_the_files_only(tmp_path, monkeypatch):
    """Two nodes from one commit answer the same PWA version: file times and byte-code caches do not count, contents do."""
    from server import web

    app_dir = tmp_path / "pwa"
    shutil.copytree(web.PWA, app_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    monkeypatch.delenv("PWA_VERSION", raising=False)
    monkeypatch.setattr(web, "PWA", app_dir)
    first = web.pwa_version()
    for path in app_dir.rglob("*"):
        os.utime(path, (0, 0))
    (app_dir / "icons" / "__pycache__").mkdir(parents=True, exist_ok=True)
    (app_dir / "icons" / "__pycache__" / "make.cpython-311.pyc").write_bytes(os.urandom(64))
    assert web.pwa_version() == first
    (app_dir / "app.css").write_text((app_dir / "app.css").read_text(encoding="utf-8") + "\n/* changed */\n", encoding="utf-8")
    assert web.pwa_version() != first
