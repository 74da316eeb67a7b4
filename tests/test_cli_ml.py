"""``dumpin classify`` and ``dumpin evaluate``: output shape and error handling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.bot.conftest import DATASET
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
