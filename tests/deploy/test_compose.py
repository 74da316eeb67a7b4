"""docker-compose.yml, .env.example and .dockerignore, checked without a container engine."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
APP_SERVICES = ("migrate", "bot", "scheduler")
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def test_services_and_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", *APP_SERVICES}
    assert services["db"]["image"].startswith("mysql:8")
    assert "--character-set-server=utf8mb4" in services["db"]["command"]
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
        assert services[name]["env_file"] == ".env"
    assert services["scheduler"]["command"] == ["dumpin", "scheduler"]
    assert services["bot"]["command"].split()[:2] == ["dumpin", "bot"]
    assert services["migrate"]["command"][-1] == "dumpin db upgrade && dumpin db seed"
    assert services["migrate"]["restart"] == "no"


def test_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "mysqladmin ping" in " ".join(services["db"]["healthcheck"]["test"])
    assert "healthcheck" not in services["bot"]  # the image's HEALTHCHECK on /healthz applies
    assert services["scheduler"]["healthcheck"] == {"disable": True}  # serves no /healthz
    assert services["migrate"]["healthcheck"] == {"disable": True}
    env = _env(services["bot"])  # both modes answer the image's HEALTHCHECK on port 8080
    assert env["DUMPIN_HTTP_LISTEN"] == env["DUMPIN_WEBHOOK_LISTEN"] == "0.0.0.0:8080"
    assert services["bot"]["ports"] == ["${DUMPIN_PUBLISH:-127.0.0.1:8080}:8080"]


def test_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("bot", "scheduler"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }


def test_volumes(compose: dict[str, Any]) -> None:
    assert set(compose["volumes"]) == {"mysql", "data"}
    services = compose["services"]
    assert "mysql:/var/lib/mysql" in services["db"]["volumes"]
    for name in APP_SERVICES:
        assert services[name]["volumes"] == ["data:/data", "./backups:/data/backups"]
        assert _env(services[name])["DUMPIN_DATA_DIR"] == "/data"
        assert _env(services[name])["DUMPIN_DATABASE_URL"].startswith("mysql+aiomysql://")


def test_no_secret_literals(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if re.search(r"PASSWORD|TOKEN|SECRET|DATABASE_URL", key):
                assert _VARIABLE.search(value), f"{name}.{key} must come from .env"
                assert not re.search(r"://[^:/]+:[^$]", value), f"{name}.{key} embeds a password"
    assert not re.search(r"\d{5,}:[A-Za-z0-9_-]{20,}", COMPOSE.read_text())


def test_env_example_covers_compose_and_stays_empty() -> None:
    example = (REPO / ".env.example").read_text()
    keys = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert set(_VARIABLE.findall(COMPOSE.read_text())) <= keys
    for secret in ("DUMPIN_TELEGRAM_TOKEN", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"):
        assert re.search(rf"^{secret}=$", example, re.MULTILINE), f"{secret} must be blank"
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_dockerignore_keeps_secrets_and_data_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", "data", "backups", "tests"} <= set(ignored)
    assert not {"ml", "ml/models", "db", "locales"} & set(ignored)
