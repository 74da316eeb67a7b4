"""Local stand-ins for ``python:3.11-slim-bookworm`` and ``mariadb:11``, built from Debian
bookworm's packages: this machine reaches Debian's archive and PyPI, but no image registry."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from deploy.shell import CommandFailed, run, say

BASE = Path(__file__).resolve().parent / "base"
DEBIAN_IMAGE = "dumpin-check/debian:bookworm"
PYTHON_IMAGE = "dumpin-check/python:3.11"
MARIADB_IMAGE = "dumpin-check/mariadb:10.11"
IMAGES = (PYTHON_IMAGE, MARIADB_IMAGE, DEBIAN_IMAGE)
MIRROR = "http://deb.debian.org/debian"
SLIMMED = ("usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists")
"""Emptied in the root file system, as in Debian's slim images."""


def machine_ca_bundle() -> Path:
    """The certificate authorities this machine trusts (its proxy's, if it has one)."""
    return Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))


def _slim(root: Path) -> None:
    """Debian's image settings (``base/debian``), without documentation, caches or package
    lists, like Debian's own slim images."""
    shutil.copytree(BASE / "debian", root, dirs_exist_ok=True, symlinks=True)
    for folder in SLIMMED:
        for entry in (root / folder).iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for path in (root / "var/cache/apt").rglob("*"):
        if path.is_file():
            path.unlink()
    for path in sorted((root / "usr/share/doc").rglob("*"), reverse=True):
        if path.is_file() and path.name != "copyright":
            path.unlink()


async def root_file_system(work: Path, log: Path) -> Path:
    """``debootstrap --variant=minbase bookworm`` (no container engine needed yet)."""
    root = work / "rootfs"
    await run("debootstrap", "--variant=minbase", "bookworm", str(root), MIRROR, log=log)
    _slim(root)
    return root


async def debian(root: Path, log: Path) -> None:
    """``root`` imported as :data:`DEBIAN_IMAGE`, then deleted."""
    try:
        await run(
            "sh",
            "-c",
            f"tar -C {root} -c . | docker import --change 'CMD [\"bash\"]' - {DEBIAN_IMAGE}",
            log=log,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _build(tag: str, dockerfile: Path, context: Path, log: Path) -> None:
    await run(
        "docker",
        "build",
        "--network=host",
        f"--build-arg=DEBIAN_IMAGE={DEBIAN_IMAGE}",
        f"--tag={tag}",
        f"--file={dockerfile}",
        str(context),
        log=log,
    )


async def python(work: Path, log: Path) -> None:
    """:data:`PYTHON_IMAGE`: its build context holds this machine's certificate authorities."""
    context = work / "python-context"
    context.mkdir()
    shutil.copyfile(machine_ca_bundle(), context / "machine-ca.crt")
    await _build(PYTHON_IMAGE, BASE / "python" / "Dockerfile", context, log)


async def mariadb(log: Path) -> None:
    """:data:`MARIADB_IMAGE`."""
    await _build(MARIADB_IMAGE, BASE / "mariadb" / "Dockerfile", BASE / "mariadb", log)


async def present() -> bool:
    """Whether the base images are there already."""
    try:
        await run("docker", "image", "inspect", *IMAGES, quiet=True)
    except CommandFailed:
        return False
    return True


async def remove(images: tuple[str, ...]) -> None:
    """Remove ``images`` where present."""
    say(f"removing {' '.join(images)}")
    await asyncio.gather(
        *(run("docker", "image", "rm", "--force", image, quiet=True) for image in images),
        return_exceptions=True,
    )
