"""Peak memory of decoding user images, several at once as the bot's inference threads do.

Each case runs in a fresh Python process that imports ``ml.image_io`` from ``--checkout``
(this one by default: compare with ``git archive <rev> | tar -x -C DIR``), starts
``--threads`` threads decoding the same bytes together, and reports how far the process's
peak RSS (``VmHWM``) rose above what it was after the imports.

Usage::

    python bench/decode_memory.py [--threads 4] [--checkout DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.botproc import phone_photos  # noqa: E402
from bench.machine import describe  # noqa: E402

CHILD = """
import json, sys, threading
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from ml.image_io import UnsupportedImage, decode_image

def vm(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024

data = Path(sys.argv[2]).read_bytes()
threads = int(sys.argv[3])
start = threading.Barrier(threads)
results = []

def decode():
    start.wait()
    try:
        image = decode_image(data)
        results.append("x".join(map(str, image.size)))
    except UnsupportedImage as exc:
        results.append(exc.reason)

before = vm("VmRSS")
workers = [threading.Thread(target=decode) for _ in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(json.dumps({"peak_mb": vm("VmHWM") - before, "result": sorted(set(results))}))
"""


def _png(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True, **options)
    return buffer.getvalue()


def _jpeg(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    image = Image.open(io.BytesIO(phone_photos(1)[0])).resize(size, Image.Resampling.BICUBIC)
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _drawing(size: tuple[int, int]) -> Image.Image:
    """Flat colours and a few shapes: a huge image in a small file."""
    image = Image.new("RGB", size, (230, 230, 225))
    draw = ImageDraw.Draw(image)
    for i in range(0, min(size), 350):
        draw.ellipse((i, i, i + 300, i + 200), fill=(40 + i % 200, 90, 160))
        draw.line((0, i, size[0], size[1] - i), fill=(20, 20, 20), width=9)
    return image


def cases() -> dict[str, bytes]:
    """The images measured, by name."""
    palette = _drawing((4000, 3000)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return {
        "PNG 7000x7000 drawing": _png(_drawing((7000, 7000))),
        "PNG 4000x3000 RGB (12 MP)": _png(_drawing((4000, 3000))),
        "PNG 4000x3000 palette, transparent": _png(palette, transparency=0),
        "JPEG 4000x3000 photo": _jpeg((4000, 3000)),
        "JPEG 8000x6000 photo": _jpeg((8000, 6000)),
    }


def measure(checkout: Path, data: bytes, threads: int) -> dict[str, object]:
    """Peak RSS growth and outcome of ``threads`` decodes of ``data`` at once."""
    with tempfile.NamedTemporaryFile() as file:
        file.write(data)
        file.flush()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(checkout), file.name, str(threads)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--checkout", type=Path, default=REPO)
    args = parser.parse_args()
    print(describe())
    print(f"{args.threads} decodes at once, code from {args.checkout}")
    print("| image | file | decoded | peak RSS growth |\n|---|---|---|---|")
    for name, data in cases().items():
        found = measure(args.checkout, data, args.threads)
        result = ", ".join(found["result"])  # type: ignore[arg-type]
        print(f"| {name} | {len(data) / 1024:.0f} KB | {result} | {found['peak_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
