"""``dumpin classify`` and ``dumpin evaluate``: output shape and error handling."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from ml.head import Head
from tests.bot.conftest import DATASET
from tests.conftest import REPO
from tests.scheduler.conftest import model_copy
from tests.test_cli import run_cli


def _val(category: str, n: int) -> list[Path]:
    return sorted((DATASET / "val" / category).glob("*.jpg"))[:n]


def test_classify_json_lines(tmp_path: Path) -> None:
    env = {"DUMPIN_DATA_DIR": str(tmp_path)}
    for step in (("db", "upgrade"), ("db", "seed")):
        assert run_cli(*step, env=env, cwd=tmp_path).returncode == 0
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    good = _val("verre", 1)[0]
    result = run_cli(
        "classify", str(good), str(bad), "--json", "--department", "75", env=env, cwd=tmp_path
    )
    assert result.returncode == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert set(first) == {"file", "label", "confidence", "top", "container", "instruction"}
    assert len(first["top"]) == 3 and first["top"][0]["label"] == first["label"]
    assert second == {"file": str(bad), "error": "not_an_image"}
    plain = run_cli("classify", str(good), env=env, cwd=tmp_path)
    assert plain.returncode == 0 and "->" in plain.stdout


def test_classify_needs_a_database(tmp_path: Path) -> None:
    result = run_cli(
        "classify", str(_val("verre", 1)[0]), env={"DUMPIN_DATA_DIR": str(tmp_path)}, cwd=tmp_path
    )
    assert result.returncode == 1 and "dumpin db upgrade" in result.stderr


def test_classify_unknown_department(tmp_path: Path) -> None:
    result = run_cli("classify", "x.jpg", "--department", "atlantis", cwd=tmp_path)
    assert (
        result.returncode == 1 and result.stderr.strip() == "dumpin: unknown département 'atlantis'"
    )


def test_evaluate_json(tmp_path: Path) -> None:
    for category in ("verre", "carton"):
        (tmp_path / category).mkdir()
        for path in _val(category, 2):
            shutil.copy(path, tmp_path / category)
    result = run_cli("evaluate", str(tmp_path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"n", "accuracy", "macro_f1", "per_class", "confusion"} <= set(report)
    assert report["n"] == 4 and len(report["confusion"]) == 13
    assert "4/4" in result.stderr
    assert not (tmp_path / "data").exists()  # no database: none created to read the memory


def test_evaluate_empty_folder(tmp_path: Path) -> None:
    result = run_cli("evaluate", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1 and "no labelled images" in result.stderr


@pytest.fixture
def in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str]]:
    """``dumpin ARGS`` in this process from ``tmp_path`` with no DUMPIN_ variable: exit code
    and standard output. The command configures logging as a process of its own would (its
    handler writes to the captured stream, its filter drops tracebacks after redacting them):
    the root logger is given back as it was, so later tests log as before."""
    for name in [k for k in os.environ if k.startswith("DUMPIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().out

    return run


def test_evaluate_without_a_database_uses_the_shipped_model(
    tmp_path: Path, in_process: Callable[..., tuple[int, str]]
) -> None:
    """From a fresh clone: no database yet, none created, the shipped model answers."""
    (tmp_path / "set" / "verre").mkdir(parents=True)
    shutil.copy(_val("verre", 1)[0], tmp_path / "set" / "verre")
    shipped = json.loads((REPO / "ml" / "models" / "model.json").read_text())["version"]
    code, out = in_process("evaluate", str(tmp_path / "set"), "--json")
    assert code == 0 and json.loads(out)["model_version"] == shipped
    assert not (tmp_path / "data" / "dumpin.db").exists()
    (tmp_path / "data").mkdir()
    sqlite3.connect(tmp_path / "data" / "dumpin.db").close()  # a database not migrated yet
    code, out = in_process("evaluate", str(tmp_path / "set"), "--json")
    assert code == 0 and json.loads(out)["model_version"] == shipped


def test_classify_and_evaluate_default_to_the_active_model(
    tmp_path: Path, in_process: Callable[..., tuple[int, str]]
) -> None:
    """What the bot answers with: the model the ``models`` table marks active."""
    assert in_process("db", "upgrade")[0] == 0 and in_process("db", "seed")[0] == 0
    shipped_dir = REPO / "ml" / "models"
    head = Head.load(shipped_dir / "head.npz")
    always_carton = replace(head, W=np.zeros_like(head.W), b=np.eye(13, dtype=np.float32)[1])
    active = model_copy(shipped_dir, tmp_path / "models" / "carton-1", "carton-1", always_carton)
    with sqlite3.connect(tmp_path / "data" / "dumpin.db") as db:
        db.execute(
            "INSERT INTO models (version, path, created_at, dataset_size, metrics, status) "
            "VALUES ('carton-1', ?, '2026-01-01', 0, '{}', 'active')",
            (str(active),),
        )
    photo = str(_val("verre", 1)[0])
    assert json.loads(in_process("classify", photo, "--json")[1])["label"] == "carton"
    chosen = in_process("classify", photo, "--json", "--model", str(shipped_dir))[1]
    assert json.loads(chosen)["label"] == "verre"
    (tmp_path / "set" / "verre").mkdir(parents=True)
    shutil.copy(photo, tmp_path / "set" / "verre")
    _, out = in_process("evaluate", str(tmp_path / "set"), "--json")
    assert json.loads(out)["model_version"] == "carton-1"
