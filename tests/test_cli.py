"""The ``dumpin`` command: subcommands, one-line errors, secrets never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings

SECRET = "s3cr3t-P4ss"


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DUMPIN_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_help_lists_subcommands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "db" in result.stdout


def test_db_upgrade_and_seed_on_sqlite(tmp_path: Path) -> None:
    env = {"DUMPIN_DATA_DIR": str(tmp_path)}
    assert run_cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    first = run_cli("db", "seed", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "departments: 101 inserted" in first.stdout
    second = run_cli("db", "seed", env=env, cwd=tmp_path)
    assert "departments: 0 inserted, 0 updated, 101 unchanged" in second.stdout
    assert (tmp_path / "dumpin.db").exists()


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", env={"DUMPIN_DATABASE_URL": "nonsense"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "DUMPIN_DATABASE_URL" in result.stderr


def test_unsupported_driver(tmp_path: Path) -> None:
    url = f"postgresql://dumpin:{SECRET}@127.0.0.1/dumpin"
    result = run_cli("db", "upgrade", env={"DUMPIN_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    assert "postgresql" in result.stderr and SECRET not in result.stderr


def test_unreachable_database_hides_password(tmp_path: Path) -> None:
    url = f"mysql+aiomysql://dumpin:{SECRET}@127.0.0.1:1/dumpin"
    result = run_cli("db", "upgrade", env={"DUMPIN_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("dumpin: database error")
    assert SECRET not in result.stderr + result.stdout


def test_missing_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUMPIN_TELEGRAM_TOKEN", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="BotFather"):
        settings.token()


def test_bad_settings_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUMPIN_ADMIN_IDS", "12,abc")
    with pytest.raises(SettingsError, match="DUMPIN_ADMIN_IDS"):
        load_settings()
    monkeypatch.setenv("DUMPIN_ADMIN_IDS", "12, 34")
    monkeypatch.setenv("DUMPIN_DEFAULT_LANGUAGE", "de")
    with pytest.raises(SettingsError, match="DUMPIN_DEFAULT_LANGUAGE"):
        load_settings()
    monkeypatch.setenv("DUMPIN_DEFAULT_LANGUAGE", "en")
    assert load_settings().admins == {12, 34}


def test_default_database_is_sqlite_in_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUMPIN_DATABASE_URL", raising=False)
    monkeypatch.setenv("DUMPIN_DATA_DIR", "/srv/dumpin")
    url = load_settings().db_url
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == "/srv/dumpin/dumpin.db"


def test_search_from_a_fresh_database(tmp_path: Path) -> None:
    env = {"DUMPIN_DATA_DIR": str(tmp_path)}
    not_yet = run_cli("search", "pile", env=env, cwd=tmp_path)
    assert not_yet.returncode == 1 and "dumpin db upgrade && dumpin db seed" in not_yet.stderr
    assert run_cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    assert run_cli("db", "seed", env=env, cwd=tmp_path).returncode == 0
    bad = ["", "   ", "x" * 5000, "😀😀", "pile\x07\x1b", "'; DROP TABLE items; --"]
    result = run_cli(
        "search",
        "bouteille de vin",
        "battery",
        *bad,
        "--department",
        "75",
        "--json",
        "--lang",
        "en",
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["bouteille de vin", "battery", *bad]
    glass = lines[0]["matches"][0]
    assert glass["item"].startswith("Bouteille en verre") and glass["category"] == "verre"
    assert glass["container"] == "White bin or Trilib' station"
    assert "conteneur réservé aux emballages en verre" in glass["instruction"]
    battery = lines[1]["matches"][0]
    assert (battery["item"], battery["name"], battery["category"]) == (
        "Pile jetable",
        "battery",
        None,
    )
    assert battery["container"] is None and 0 < battery["score"] <= 100
    assert len(lines[1]["matches"]) <= 5
    empty, blank, huge, emoji, control, sql = lines[2:]
    assert empty["matches"] == blank["matches"] == emoji["matches"] == sql["matches"] == []
    assert "error" in huge and "matches" not in huge
    assert control["matches"][0]["item"] == "Pile jetable"  # control characters dropped
    text = run_cli("search", "canette", env=env, cwd=tmp_path)
    assert text.stdout.startswith("'canette': Canette (100) -> Bac jaune")
