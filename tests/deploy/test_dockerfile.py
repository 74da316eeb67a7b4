"""The Dockerfile, checked without a container engine (``make deploy-check`` builds and runs it).

Here its instructions are parsed and checked (stages, base image, non-root user, what is
copied, no TensorFlow, HEALTHCHECK, CMD), and its install and start commands are replayed: the
build context it copies is assembled from the repository, installed non-editable into a fresh
venv as ``pip install .`` does (with ``--no-deps``: the third-party packages come from the test
interpreter instead of PyPI), then the build-stage check, ``dumpin --help`` through the
installed entry point and the HEALTHCHECK command itself are run from outside the repository.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _args(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [args for instruction, args in stage if instruction == name]


def _exec_form(args: str) -> list[str]:
    return json.loads(args)  # type: ignore[no-any-return]


def test_two_slim_python_stages_and_a_non_root_user() -> None:
    [base] = [a for i, a in _instructions() if i == "ARG" and a.startswith("PYTHON_IMAGE=")]
    assert base.removeprefix("PYTHON_IMAGE=").startswith("python:3.11-slim")
    build, runtime = _stages()
    assert _args(build, "FROM") == ["${PYTHON_IMAGE} AS build"]
    assert _args(runtime, "FROM") == ["${PYTHON_IMAGE}"]
    [user] = _args(runtime, "USER")
    assert user not in {"root", "0"}
    [adduser] = [run for run in _args(runtime, "RUN") if "useradd" in run]
    assert f" {user} " in adduser
    assert _args(runtime, "COPY") == ["--from=build /opt/dumpin /opt/dumpin"]


def test_base_install_only_and_the_shipped_model() -> None:
    runs = " ".join(_args(_stages()[0], "RUN"))
    assert "pip install ." in runs
    assert not any("tensorflow" in args.lower() for _, args in _instructions())
    assert "[train" not in runs and "[dev" not in runs
    assert "Classifier.load(Settings(_env_file=None).shipped_model_dir)" in runs  # all its files


def test_copied_paths_exist_and_are_not_dockerignored() -> None:
    ignored = [p for p in (REPO / ".dockerignore").read_text().split() if not p.startswith("#")]
    for args in _args(_stages()[0], "COPY"):
        *sources, _target = args.split()
        for source in sources:
            assert (REPO / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_healthcheck_and_command() -> None:
    [healthcheck] = _args(_stages()[1], "HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--start-period=" in options
    assert "http://127.0.0.1:8080/healthz" in " ".join(_exec_form(command))
    assert _exec_form(_args(_stages()[1], "CMD")[0]) == ["dumpin", "bot"]


def _context(tmp_path: Path) -> Path:
    """The files the build stage copies, as ``docker build`` would send them."""
    context = tmp_path / "context"
    for args in _args(_stages()[0], "COPY"):
        *sources, target = args.split()
        for source in sources:
            destination = context / (source if target.endswith("/") else target.lstrip("./"))
            if (REPO / source).is_dir():
                shutil.copytree(
                    REPO / source, destination, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / source, destination)
    return context


def _run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the image's install of Dumpin; returns its ``bin`` directory."""
    tmp_path = tmp_path_factory.mktemp("image")
    context = _context(tmp_path)
    wheels = tmp_path / "wheels"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, ".", cwd=context)
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    [purelib] = {sysconfig.get_path("purelib", vars={"base": str(venv)})}
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    [wheel] = wheels.glob("dumpin-*.whl")
    _run(
        *pip, "--python", venv / "bin" / "python", "install", "--no-deps", "-q", wheel, cwd=tmp_path
    )
    return venv / "bin"


def test_installed_image_runs_its_commands(installed: Path, tmp_path: Path) -> None:
    python = installed / "python"
    [install] = [run for run in _args(_stages()[0], "RUN") if "pip install ." in run]
    check = shlex.split(install.split("&& cd /tmp &&", 1)[1])
    _run(python, *check[1:], cwd=tmp_path)  # the build stage's own check, as written
    where = _run(python, "-c", "import bot, sys; print(bot.__file__)", cwd=tmp_path)
    assert where.startswith(str(installed.parent))
    imports = "import bot.app, bot.web, scheduler.process, sys; print('tensorflow' in sys.modules)"
    assert _run(python, "-c", imports, cwd=tmp_path).strip() == "False"
    assert "bot" in _run(installed / "dumpin", "--help", cwd=tmp_path)
    assert "--webhook" in _run(installed / "dumpin", "bot", "--help", cwd=tmp_path)


@pytest.mark.parametrize("status", [200, 503])
async def test_healthcheck_command_follows_healthz(installed: Path, status: int) -> None:
    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({}, status=status)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site_ = web.TCPSite(runner, "127.0.0.1", 0)
    await site_.start()
    port = runner.addresses[0][1]
    [healthcheck] = _args(_stages()[1], "HEALTHCHECK")
    command = _exec_form(healthcheck.partition("CMD ")[2])
    command = [part.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for part in command]
    try:
        process = await asyncio.create_subprocess_exec(
            installed / command[0], *command[1:], stderr=asyncio.subprocess.DEVNULL
        )
        assert (await process.wait() == 0) is (status == 200)
    finally:
        await runner.cleanup()
