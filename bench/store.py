"""Cost of storing a consenting user's photo without metadata, against writing the bytes as
received (what the bot did before): CPU time per photo (the thread's own, so that other
processes on a shared machine do not count), for the sizes the bot stores.

Usage: ``python bench/store.py [--runs 100]``
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.botproc import phone_photos  # noqa: E402
from bench.classify import timings  # noqa: E402
from bench.machine import describe  # noqa: E402
from db.media import MediaStore, extension_of  # noqa: E402
from tests.located import located_exif  # noqa: E402

SIZES = {
    "Telegram photo 800x600 (what the bot downloads)": (800, 600),
    "phone photo 1280x960 (image sent as a file)": (1280, 960),
    "phone original 4032x3024 with EXIF/GPS (file)": (4032, 3024),
}


def sample(size: tuple[int, int]) -> bytes:
    """A dataset photo at ``size``, JPEG quality 88; the largest carries a phone's EXIF."""
    image = Image.open(io.BytesIO(phone_photos(1, size)[0]))
    out = io.BytesIO()
    exif = located_exif(orientation=6) if size[0] > 2000 else Image.Exif()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def raw_write(root: Path, data: bytes) -> None:
    """The old path: the received bytes written to a new file."""
    target = root / f"raw-{os.urandom(6).hex()}.jpg"
    target.write_bytes(data)
    target.unlink()


def clean_write(store: MediaStore, data: bytes) -> None:
    """The new path: re-encoded without metadata, then written (a new photo every time)."""
    _, relative = store.save(data, extension_of(data))
    (store.root / relative).unlink()


def main() -> int:
    """Print the median and p95 CPU milliseconds of both paths for each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = MediaStore(root)
        for name, size in SIZES.items():
            data = sample(size)
            runs = max(10, args.runs // 10) if size[0] > 2000 else args.runs
            before = timings(functools.partial(raw_write, root, data), runs, time.thread_time)
            after = timings(functools.partial(clean_write, store, data), runs, time.thread_time)
            _, relative = store.save(data, extension_of(data))
            stored = (root / relative).stat().st_size
            (root / relative).unlink()
            print(
                f"{name}: {len(data) // 1024} KB -> {stored // 1024} KB stored; "
                f"CPU: written as received {before[0]:.2f} ms (p95 {before[1]:.2f}), "
                f"re-encoded {after[0]:.2f} ms (p95 {after[1]:.2f})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
