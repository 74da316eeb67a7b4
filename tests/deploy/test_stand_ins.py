"""The deploy check's stand-in for ``mariadb:11`` (deploy/base/mariadb) takes what
docker-compose.yml gives the official image; ``make deploy-check`` runs it for real."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import URL

from tests.conftest import REPO

MARIADB = REPO / "deploy" / "base" / "mariadb"


@pytest.fixture(scope="module")
def db() -> dict[str, Any]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return compose["services"]["db"]  # type: ignore[no-any-return]


def test_the_entrypoint_reads_every_variable_compose_sets(db: dict[str, Any]) -> None:
    entrypoint = (MARIADB / "docker-entrypoint.sh").read_text()
    for variable in db["environment"]:
        assert variable in entrypoint, variable


def test_the_image_runs_the_healthcheck_compose_asks_for(db: dict[str, Any]) -> None:
    command, script, *options = db["healthcheck"]["test"]
    assert command == "CMD"
    assert re.search(
        rf"^COPY .*\b{script}\b.* /usr/local/bin/$", (MARIADB / "Dockerfile").read_text(), re.M
    )
    handled = re.findall(r"^\s+(--[a-z_]+)\)", (MARIADB / script).read_text(), re.M)
    assert set(options) <= set(handled)


def _healthcheck(server: URL, *options: str) -> subprocess.CompletedProcess[str]:
    """healthcheck.sh against the test server (over TCP instead of the container's socket)."""
    env = os.environ | {"MYSQL_HOST": str(server.host), "MYSQL_TCP_PORT": str(server.port or 3306)}
    if server.password:
        env["MYSQL_PWD"] = str(server.password)
    return subprocess.run(
        ["sh", str(MARIADB / "healthcheck.sh"), *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.mysql
def test_healthcheck_passes_on_a_running_server(db: dict[str, Any], mysql_server: URL) -> None:
    options = db["healthcheck"]["test"][2:]
    done = _healthcheck(mysql_server, *options)
    assert done.returncode == 0, done.stderr


@pytest.mark.mysql
def test_healthcheck_fails_when_the_server_does_not_answer(mysql_server: URL) -> None:
    assert _healthcheck(mysql_server.set(port=1), "--connect").returncode != 0


def test_healthcheck_refuses_an_unknown_test() -> None:
    done = _healthcheck(URL.create("mysql", host="127.0.0.1", port=1), "--galera_online")
    assert done.returncode == 2
    assert "unknown test --galera_online" in done.stderr
