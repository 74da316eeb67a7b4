"""docker-compose.yml, its override, .env.example and .dockerignore, checked without a container
engine (``make deploy-check`` builds and runs them)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
OVERRIDE = REPO / "docker-compose.override.yml"
CHECK = REPO / "deploy" / "check.compose.yml"
APP_SERVICES = ("migrate", "bot", "scheduler")
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def check() -> dict[str, Any]:
    return yaml.safe_load(CHECK.read_text())  # type: ignore[no-any-return]


def _dockerfile_default(name: str) -> str:
    [line] = [
        line
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.startswith(f"ARG {name}=")
    ]
    return line.split("=", 1)[1]


def _megabytes(limit: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([mg])", limit).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "g" else 1)


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def test_valid_for_compose_v1_and_v2(compose: dict[str, Any]) -> None:
    # docker-compose 1.29 refuses a top-level name: the project name comes from .env
    assert set(compose) == {"x-dumpin", "services", "volumes"}
    assert re.search(r"^COMPOSE_PROJECT_NAME=dumpin$", (REPO / ".env.example").read_text(), re.M)


def test_services_and_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", *APP_SERVICES}
    assert services["db"]["image"] == "${MARIADB_IMAGE:-mariadb:11}"
    assert "--character-set-server=utf8mb4" in services["db"]["command"]
    python = f"${{PYTHON_IMAGE:-{_dockerfile_default('PYTHON_IMAGE')}}}"
    for name in APP_SERVICES:
        assert services[name]["build"] == {"context": ".", "args": {"PYTHON_IMAGE": python}}
        assert services[name]["env_file"] == ".env"
    assert services["scheduler"]["command"] == ["dumpin", "scheduler"]
    assert services["bot"]["command"].split()[:2] == ["dumpin", "bot"]
    assert services["migrate"]["command"][-1] == "dumpin db upgrade && dumpin db seed"
    assert services["migrate"]["restart"] == "no"


def test_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["db"]["healthcheck"]["test"] == [
        "CMD",
        "healthcheck.sh",
        "--connect",
        "--innodb_initialized",
    ]
    assert "healthcheck" not in services["bot"]  # the image's HEALTHCHECK on /healthz applies
    assert services["scheduler"]["healthcheck"] == {"disable": True}  # serves no /healthz
    assert services["migrate"]["healthcheck"] == {"disable": True}
    env = _env(services["bot"])  # both modes answer the image's HEALTHCHECK on port 8080
    assert env["DUMPIN_HTTP_LISTEN"] == env["DUMPIN_WEBHOOK_LISTEN"] == "0.0.0.0:8080"


def test_the_override_only_publishes_the_bot_on_loopback_by_default() -> None:
    override = yaml.safe_load(OVERRIDE.read_text())
    assert override == {"services": {"bot": {"ports": ["${DUMPIN_PUBLISH:-127.0.0.1:8080}:8080"]}}}


def test_memory_limits(compose: dict[str, Any]) -> None:
    limits = {name: _megabytes(s["mem_limit"]) for name, s in compose["services"].items()}
    assert set(limits) == {"db", *APP_SERVICES}
    assert limits["bot"] >= 1.5 * 300  # the bot stays under 300 MB RSS under load


def test_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("bot", "scheduler"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }


def test_volumes(compose: dict[str, Any]) -> None:
    assert set(compose["volumes"]) == {"mariadb", "data", "backups"}
    services = compose["services"]
    assert services["db"]["volumes"] == ["mariadb:/var/lib/mysql"]
    # backups are written and read by the scheduler only, never by the internet-facing bot
    assert services["scheduler"]["volumes"] == ["data:/data", "backups:/data/backups"]
    for name in APP_SERVICES:
        if name != "scheduler":
            assert services[name]["volumes"] == ["data:/data"]
        assert _env(services[name])["DUMPIN_DATA_DIR"] == "/data"
        assert _env(services[name])["DUMPIN_DATABASE_URL"].startswith("mysql+aiomysql://")


def test_no_secret_literals(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if key == "MARIADB_RANDOM_ROOT_PASSWORD":  # a flag: no root password in .env
                assert value == "1"
            elif re.search(r"PASSWORD|TOKEN|SECRET|DATABASE_URL", key):
                assert _VARIABLE.search(value), f"{name}.{key} must come from .env"
                assert not re.search(r"://[^:/]+:[^$]", value), f"{name}.{key} embeds a password"
    assert not re.search(r"\d{5,}:[A-Za-z0-9_-]{20,}", COMPOSE.read_text())


def test_env_example_covers_compose_and_stays_empty() -> None:
    example = (REPO / ".env.example").read_text()
    keys = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert set(_VARIABLE.findall(COMPOSE.read_text() + OVERRIDE.read_text())) <= keys
    for secret in ("DUMPIN_TELEGRAM_TOKEN", "MARIADB_PASSWORD"):
        assert re.search(rf"^{secret}=$", example, re.MULTILINE), f"{secret} must be blank"
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_dockerignore_keeps_secrets_and_data_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", "data", "backups", "tests"} <= set(ignored)
    assert not {"ml", "ml/models", "db", "locales"} & set(ignored)


def test_the_check_changes_networking_and_the_bot_api_only(
    compose: dict[str, Any], check: dict[str, Any]
) -> None:
    """``make deploy-check`` runs docker-compose.yml with deploy/check.compose.yml instead of
    the override: host networking, every socket on 127.0.0.1, a database port of its own and
    the fake Bot API. Nothing else may differ from what operators run."""
    services = check["services"]
    assert set(services) == set(compose["services"])
    db = services["db"]
    assert set(db) == {"network_mode", "command"}
    assert db["network_mode"] == "host"
    base = compose["services"]["db"]["command"]
    assert db["command"] == [*base, "--bind-address=127.0.0.1", "--port=${DUMPIN_CHECK_DB_PORT:?}"]
    for name in APP_SERVICES:
        app = services[name]
        assert set(app) == {"build", "network_mode", "environment"}
        assert app["build"] == {"network": "host"}
        assert app["network_mode"] == "host"
        env = app["environment"]
        assert set(env) == {
            "DUMPIN_DATABASE_URL",
            "DUMPIN_HTTP_LISTEN",
            "DUMPIN_WEBHOOK_LISTEN",
            "DUMPIN_TELEGRAM_API_URL",
        }
        assert env["DUMPIN_HTTP_LISTEN"] == env["DUMPIN_WEBHOOK_LISTEN"] == "127.0.0.1:8080"
        assert "@127.0.0.1:${DUMPIN_CHECK_DB_PORT:?}/dumpin" in env["DUMPIN_DATABASE_URL"]
