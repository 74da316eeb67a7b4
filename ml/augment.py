"""Training augmentation and "scene" compositing (no data downloaded).

Dataset photos are mostly single items on plain backgrounds, while users send cluttered
scenes. :func:`composite_scene` pastes an item (cut out from a plain background when
possible) onto a procedurally generated background (gradients, noise, wood/table
stripes, tiles, concrete, fabric, or a faint blurred crop of another image), optionally
with a hand-like occluder and a shadow; it also makes the fixed val-scene views, so it is
left as it is. Training views (:func:`augment`) use :func:`real_world_scene`, which adds
what phone photos of waste look like: photographed backgrounds (ground, walls, tables:
``photos``, or the edges of other dataset photos), small and partly hidden items, other
items around, crumpled and dirty packaging, harsh light, motion blur and strong JPEG.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from ml.preprocess import INPUT_SIZE, RESAMPLE, preprocess

Rng = np.random.Generator
CANVAS = (320, 240)
AUGMENT_VERSION = 2  # bump when views change: part of the embedding-cache key


def _colour(rng: Rng, lo: int = 0, hi: int = 256) -> np.ndarray:
    return rng.integers(lo, hi, 3).astype(np.float32)


def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs / max(w, h), ys / max(w, h)


def _low_freq_noise(rng: Rng, w: int, h: int, cells: int) -> np.ndarray:
    small = rng.random((max(2, cells * h // w), cells)).astype(np.float32)
    img = Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def _bg_gradient(rng: Rng, w: int, h: int) -> np.ndarray:
    xs, ys = _grid(w, h)
    angle = rng.uniform(0, 2 * np.pi)
    t = xs * np.cos(angle) + ys * np.sin(angle)
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    a, b = _colour(rng), _colour(rng)
    return np.asarray(a + (b - a) * t[..., None], np.float32)


def _bg_noise(rng: Rng, w: int, h: int) -> np.ndarray:
    base = _colour(rng, 30, 230)
    tint = rng.uniform(20, 90)
    n = _low_freq_noise(rng, w, h, int(rng.integers(3, 24)))
    return np.asarray(base + tint * (n[..., None] - 0.5) * _colour(rng, 50, 256) / 128, np.float32)


def _bg_wood(rng: Rng, w: int, h: int) -> np.ndarray:
    xs, ys = _grid(w, h)
    if rng.random() < 0.5:
        xs, ys = ys, xs
    warp = _low_freq_noise(rng, w, h, 4) * rng.uniform(0.05, 0.3)
    grain = np.sin((ys + warp) * rng.uniform(40, 160)) * 0.5 + 0.5
    dark = np.array([rng.uniform(60, 120), rng.uniform(35, 70), rng.uniform(10, 40)], np.float32)
    light = dark + np.array([rng.uniform(60, 110), rng.uniform(50, 90), rng.uniform(30, 70)])
    img = dark + (light - dark) * (0.6 + 0.4 * grain[..., None])
    planks = rng.uniform(0.12, 0.4)
    seams = (np.mod(xs, planks) < 0.006)[..., None]
    img = np.where(seams, img * 0.45, img)
    if rng.random() < 0.4:  # painted / grey table tops
        img = img.mean(axis=2, keepdims=True) * 0.5 + _colour(rng, 80, 230) * 0.5
    return np.asarray(img, np.float32)


def _bg_tiles(rng: Rng, w: int, h: int) -> np.ndarray:
    xs, ys = _grid(w, h)
    size = rng.uniform(0.08, 0.3)
    grout = (np.mod(xs, size) < 0.01) | (np.mod(ys, size) < 0.01)
    base = _colour(rng, 60, 250)
    img = np.broadcast_to(base, (h, w, 3)).copy()
    if rng.random() < 0.3:
        checker = ((xs // size + ys // size) % 2 == 1)[..., None]
        img = np.where(checker, _colour(rng), img)
    return np.where(grout[..., None], base * rng.uniform(0.3, 0.8), img)


def _bg_concrete(rng: Rng, w: int, h: int) -> np.ndarray:
    grey = rng.uniform(70, 190)
    n = _low_freq_noise(rng, w, h, int(rng.integers(8, 40)))
    fine = rng.normal(0, rng.uniform(4, 18), (h, w)).astype(np.float32)
    img = grey + 40 * (n - 0.5) + fine
    return np.asarray(
        img[..., None] * np.array([1.0, rng.uniform(0.95, 1.03), rng.uniform(0.9, 1.05)]),
        np.float32,
    )


def _bg_fabric(rng: Rng, w: int, h: int) -> np.ndarray:
    xs, ys = _grid(w, h)
    f = rng.uniform(60, 250)
    weave = np.sin(xs * f) * np.sin(ys * f)
    stripes = np.sin((xs if rng.random() < 0.5 else ys) * rng.uniform(5, 30)) > 0
    a, b = _colour(rng), _colour(rng)
    img = (
        np.where(stripes[..., None], a, b) if rng.random() < 0.5 else np.broadcast_to(a, (h, w, 3))
    )
    return np.asarray(img + 15 * weave[..., None], np.float32)


def _bg_blurred_photo(rng: Rng, w: int, h: int, others: Sequence[Image.Image]) -> np.ndarray:
    other = others[int(rng.integers(len(others)))]
    ow, oh = other.size
    cw, ch = int(ow * rng.uniform(0.3, 0.8)), int(oh * rng.uniform(0.3, 0.8))
    x0, y0 = int(rng.integers(0, ow - cw + 1)), int(rng.integers(0, oh - ch + 1))
    crop = other.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), RESAMPLE)
    crop = crop.filter(ImageFilter.GaussianBlur(rng.uniform(6, 14)))
    flat = _colour(rng, 40, 230)
    alpha = rng.uniform(0.25, 0.5)  # faint: the other item must not be recognisable
    return alpha * np.asarray(crop, dtype=np.float32) + (1 - alpha) * flat


_BACKGROUNDS: tuple[Callable[[Rng, int, int], np.ndarray], ...] = (
    _bg_gradient,
    _bg_noise,
    _bg_wood,
    _bg_tiles,
    _bg_concrete,
    _bg_fabric,
)


def background(rng: Rng, size: tuple[int, int], others: Sequence[Image.Image] = ()) -> Image.Image:
    """A random procedural background of ``size`` (w, h)."""
    w, h = size
    kind = int(rng.integers(len(_BACKGROUNDS) + (1 if others else 0)))
    if kind == len(_BACKGROUNDS):
        arr = _bg_blurred_photo(rng, w, h, others)
    else:
        arr = _BACKGROUNDS[kind](rng, w, h)
        if rng.random() < 0.5:  # uneven lighting
            arr = arr * (0.75 + 0.5 * _low_freq_noise(rng, w, h, 2))[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def item_mask(item: Image.Image) -> Image.Image:
    """Soft alpha mask of the item: a cut-out when the photo has a plain uniform
    background, otherwise the whole frame with feathered edges."""
    arr = np.asarray(item, dtype=np.float32)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    ref = np.median(border, axis=0)
    w, h = item.size
    if border.std(axis=0).max() < 28:
        fg = (np.abs(arr - ref).max(axis=2) > 30).astype(np.uint8) * 255
        frac = fg.mean() / 255
        if 0.06 < frac < 0.92:
            mask = Image.fromarray(fg, "L").filter(ImageFilter.MaxFilter(5))
            mask = mask.filter(ImageFilter.MinFilter(5))
            return mask.filter(ImageFilter.GaussianBlur(1.5))
    mask = Image.new("L", (w, h), 0)
    pad = max(2, min(w, h) // 40)
    ImageDraw.Draw(mask).rounded_rectangle((pad, pad, w - pad, h - pad), radius=pad * 2, fill=255)
    return mask.filter(ImageFilter.GaussianBlur(pad / 2))


def _hand(rng: Rng, canvas: Image.Image) -> None:
    """Draw a blurred skin-toned blob entering from an edge (a hand holding the item)."""
    w, h = canvas.size
    skin = tuple(
        int(c)
        for c in rng.choice(
            [(224, 172, 140), (198, 134, 100), (141, 85, 60), (90, 56, 37), (241, 194, 170)]
        )
        * rng.uniform(0.85, 1.1)
    )
    layer = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(layer)
    side = int(rng.integers(4))
    cx = [rng.uniform(0.2, 0.8) * w, w, rng.uniform(0.2, 0.8) * w, 0][side]
    cy = [h, rng.uniform(0.2, 0.8) * h, 0, rng.uniform(0.2, 0.8) * h][side]
    rx, ry = rng.uniform(0.12, 0.25) * w, rng.uniform(0.12, 0.25) * h
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    for _ in range(int(rng.integers(2, 5))):  # fingers
        fx, fy = cx + rng.uniform(-rx, rx), cy + rng.uniform(-ry, ry)
        draw.ellipse((fx - rx / 4, fy - ry / 1.2, fx + rx / 4, fy + ry / 1.2), fill=255)
    canvas.paste(Image.new("RGB", (w, h), skin), (0, 0), layer.filter(ImageFilter.GaussianBlur(3)))


def composite_scene(
    item: Image.Image,
    rng: Rng,
    others: Sequence[Image.Image] = (),
    canvas_size: tuple[int, int] = CANVAS,
) -> Image.Image:
    """Paste ``item`` (scaled 30-80 % of the canvas, slightly rotated) on a background."""
    w, h = canvas_size if rng.random() < 0.7 else canvas_size[::-1]
    canvas = background(rng, (w, h), others)
    scale = rng.uniform(0.3, 0.8) * min(w, h) / max(item.size)
    size = (max(8, round(item.size[0] * scale)), max(8, round(item.size[1] * scale)))
    rgb = item.resize(size, RESAMPLE)
    mask = item_mask(item).resize(size, RESAMPLE)
    angle = rng.uniform(-20, 20)
    rgb = rgb.rotate(angle, RESAMPLE, expand=True)
    mask = mask.rotate(angle, RESAMPLE, expand=True)
    x = int((w - rgb.size[0]) / 2 + rng.uniform(-0.15, 0.15) * w)
    y = int((h - rgb.size[1]) / 2 + rng.uniform(-0.15, 0.15) * h)
    if rng.random() < 0.6:  # soft drop shadow
        shadow = mask.filter(ImageFilter.GaussianBlur(6)).point(lambda v: int(v * 0.5))
        off = int(rng.integers(3, 10))
        canvas.paste(Image.new("RGB", rgb.size, (0, 0, 0)), (x + off, y + off), shadow)
    canvas.paste(rgb, (x, y), mask)
    if rng.random() < 0.3:
        _hand(rng, canvas)
    return canvas


def _photo_background(rng: Rng, size: tuple[int, int], photo: Image.Image) -> Image.Image:
    """A crop of a photographed scene or texture, tinted and lit at random."""
    w, h = size
    pw, ph = photo.size
    side = rng.uniform(0.35, 1.0) * min(pw, ph * w / h)
    cw, ch = max(8, round(side)), max(8, round(side * h / w))
    x0, y0 = int(rng.integers(0, max(1, pw - cw + 1))), int(rng.integers(0, max(1, ph - ch + 1)))
    crop = photo.convert("RGB").resize(size, RESAMPLE, box=(x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    arr = np.asarray(crop, np.float32) * rng.uniform(0.6, 1.25, 3).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _edge_background(rng: Rng, size: tuple[int, int], other: Image.Image) -> Image.Image:
    """A strip along one side of another dataset photo (items sit in the middle), enlarged:
    floors, tables and walls the photos were taken on."""
    ow, oh = other.size
    frac = rng.uniform(0.2, 0.4)
    side = int(rng.integers(4))
    box = [
        (0, 0, ow, oh * frac),
        (ow * (1 - frac), 0, ow, oh),
        (0, oh * (1 - frac), ow, oh),
        (0, 0, ow * frac, oh),
    ][side]
    strip = other.crop((round(box[0]), round(box[1]), round(box[2]), round(box[3])))
    return _photo_background(rng, size, strip)


def crumple(item: Image.Image, mask: Image.Image, rng: Rng) -> tuple[Image.Image, Image.Image]:
    """Warp the item (and its mask) on a jittered grid and shade the folds: crumpled or
    dented packaging."""
    w, h = item.size
    n = int(rng.integers(3, 6))
    amp = rng.uniform(0.04, 0.12)
    xs, ys = np.linspace(0, w, n + 1), np.linspace(0, h, n + 1)
    jx = rng.uniform(-amp, amp, (n + 1, n + 1)) * w / n
    jy = rng.uniform(-amp, amp, (n + 1, n + 1)) * h / n
    jx[:, [0, -1]] = 0
    jy[[0, -1], :] = 0
    mesh = []
    for i in range(n):
        for j in range(n):
            box = (round(xs[j]), round(ys[i]), round(xs[j + 1]), round(ys[i + 1]))
            quad = []
            for a, b in ((i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)):
                quad += [xs[b] + jx[a, b], ys[a] + jy[a, b]]
            mesh.append((box, quad))
    warp = Image.Transform.MESH
    item = item.transform((w, h), warp, mesh, RESAMPLE, fillcolor=(255, 255, 255))
    mask = mask.transform((w, h), warp, mesh, RESAMPLE, fillcolor=0)
    folds = 0.75 + 0.5 * _low_freq_noise(rng, w, h, int(rng.integers(4, 12)))
    arr = np.asarray(item, np.float32) * folds[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB"), mask


def dirty(item: Image.Image, rng: Rng) -> Image.Image:
    """Brown/grey stains of soil, grease or food over the item."""
    w, h = item.size
    stains = _low_freq_noise(rng, w, h, int(rng.integers(4, 16)))
    alpha = np.clip((stains - rng.uniform(0.55, 0.8)) * 4, 0, 1) * rng.uniform(0.4, 0.85)
    dirt = np.array([rng.uniform(50, 130), rng.uniform(40, 100), rng.uniform(20, 70)], np.float32)
    arr = np.asarray(item, np.float32) * (1 - alpha[..., None]) + dirt * alpha[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _paste_item(
    canvas: Image.Image,
    item: Image.Image,
    mask: Image.Image,
    rng: Rng,
    scale: float,
    centre: tuple[float, float],
) -> None:
    w, h = canvas.size
    s = scale * min(w, h) / max(item.size)
    size = (max(8, round(item.size[0] * s)), max(8, round(item.size[1] * s)))
    rgb, alpha = item.resize(size, RESAMPLE), mask.resize(size, RESAMPLE)
    angle = rng.uniform(-180, 180) if rng.random() < 0.3 else rng.uniform(-25, 25)
    rgb = rgb.rotate(angle, RESAMPLE, expand=True)
    alpha = alpha.rotate(angle, RESAMPLE, expand=True)
    x, y = int(centre[0] * w - rgb.size[0] / 2), int(centre[1] * h - rgb.size[1] / 2)
    if rng.random() < 0.6:  # soft shadow, its direction and length at random
        shadow = alpha.filter(ImageFilter.GaussianBlur(rng.uniform(3, 10)))
        darkness = rng.uniform(0.3, 0.7)
        shadow = shadow.point(lambda v: int(v * darkness))
        dx, dy = (int(v) for v in rng.integers(-12, 13, 2))
        canvas.paste(Image.new("RGB", rgb.size, (0, 0, 0)), (x + dx, y + dy), shadow)
    canvas.paste(rgb, (x, y), alpha)


def _occlude(canvas: Image.Image, rng: Rng, source: Image.Image | None) -> None:
    """Hide part of the middle of the frame behind a patch of another photo or a dark shape."""
    w, h = canvas.size
    pw, ph = int(w * rng.uniform(0.15, 0.35)), int(h * rng.uniform(0.15, 0.35))
    x = int(rng.uniform(0.2, 0.8) * w - pw / 2)
    y = int(rng.uniform(0.2, 0.8) * h - ph / 2)
    if source is not None and rng.random() < 0.6:
        patch = _edge_background(rng, (pw, ph), source)
    else:
        patch = Image.new("RGB", (pw, ph), tuple(int(c) for c in _colour(rng, 0, 120)))
    mask = Image.new("L", (pw, ph), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, pw, ph), fill=255)
    canvas.paste(patch, (x, y), mask.filter(ImageFilter.GaussianBlur(2)))


def real_world_scene(
    item: Image.Image,
    rng: Rng,
    others: Sequence[Image.Image] = (),
    photos: Sequence[Image.Image] = (),
) -> Image.Image:
    """``item`` as a phone would see it where it lies: on a photographed background
    (``photos`` or the edge of one of ``others``; procedural when there are none), often
    small, crumpled or stained, with other items around and parts hidden."""
    w, h = CANVAS if rng.random() < 0.7 else CANVAS[::-1]
    pick = rng.random()
    if photos and pick < 0.45:
        canvas = _photo_background(rng, (w, h), photos[int(rng.integers(len(photos)))])
    elif others and pick < 0.7:
        canvas = _edge_background(rng, (w, h), others[int(rng.integers(len(others)))])
    else:
        canvas = background(rng, (w, h), others)
    mask = item_mask(item)
    if rng.random() < 0.3:
        item, mask = crumple(item, mask, rng)
    if rng.random() < 0.25:
        item = dirty(item, rng)
    if others and rng.random() < 0.3:  # a few much smaller items around, at the edges
        for _ in range(int(rng.integers(1, 3))):
            other = others[int(rng.integers(len(others)))]
            centre = (float(rng.choice([0.08, 0.92])), rng.uniform(0.1, 0.9))
            _paste_item(canvas, other, item_mask(other), rng, rng.uniform(0.08, 0.18), centre)
    scale = rng.uniform(0.15, 0.45) if rng.random() < 0.35 else rng.uniform(0.45, 0.85)
    centre = (0.5 + rng.uniform(-0.15, 0.15), 0.5 + rng.uniform(-0.15, 0.15))
    _paste_item(canvas, item, mask, rng, scale, centre)
    if rng.random() < 0.3:
        _hand(rng, canvas)
    if rng.random() < 0.2:
        source = others[int(rng.integers(len(others)))] if others else None
        _occlude(canvas, rng, source)
    return canvas


def _random_resized_crop(image: Image.Image, rng: Rng, scale: tuple[float, float]) -> Image.Image:
    w, h = image.size
    for _ in range(10):
        area = w * h * rng.uniform(*scale)
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = round(np.sqrt(area * ratio)), round(np.sqrt(area / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return image.resize((INPUT_SIZE, INPUT_SIZE), RESAMPLE, box=(x0, y0, x0 + cw, y0 + ch))
    return Image.fromarray(preprocess(image))


def _harsh_light(arr: np.ndarray, rng: Rng) -> np.ndarray:
    """Sun and lamp light: gamma, a shadowed half-plane, a colour cast, overexposure."""
    if rng.random() < 0.3:
        arr = 255 * (arr / 255) ** rng.uniform(0.55, 1.8)
    if rng.random() < 0.2:
        h, w = arr.shape[:2]
        xs, ys = _grid(w, h)
        angle = rng.uniform(0, 2 * np.pi)
        t = xs * np.cos(angle) + ys * np.sin(angle)
        edge = np.clip((t - np.median(t)) * rng.uniform(10, 40), 0, 1)
        arr = arr * (1 - rng.uniform(0.3, 0.6) * edge[..., None])
    if rng.random() < 0.3:
        arr = arr * rng.uniform(0.8, 1.2, 3)
    if rng.random() < 0.1:
        arr = arr * rng.uniform(1.3, 1.8)
    return np.asarray(arr, np.float32)


def _motion_blur(image: Image.Image, rng: Rng) -> Image.Image:
    """A 5-px streak in one of four directions (a moving phone)."""
    kernel = np.zeros((5, 5), np.float32)
    direction = int(rng.integers(4))
    for i in range(5):
        r, c = [(2, i), (i, 2), (i, i), (i, 4 - i)][direction]
        kernel[r, c] = 1.0
    return image.filter(ImageFilter.Kernel((5, 5), kernel.ravel().tolist(), scale=5))


def _photometric(image: Image.Image, rng: Rng) -> Image.Image:
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.65, 1.35))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.65, 1.35))
    image = ImageEnhance.Color(image).enhance(rng.uniform(0.6, 1.4))
    arr = np.asarray(image, dtype=np.float32) * rng.normal(1.0, 0.05, 3).astype(np.float32)
    arr = _harsh_light(arr, rng)
    if rng.random() < 0.2:
        arr += rng.normal(0, rng.uniform(2, 8), arr.shape).astype(np.float32)
    image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < 0.15:
        image = _motion_blur(image, rng)
    elif rng.random() < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.6)))
    if rng.random() < 0.15:  # a small photo enlarged
        size = image.size
        small = (max(16, size[0] * 2 // 5), max(16, size[1] * 2 // 5))
        image = image.resize(small, RESAMPLE).resize(size, RESAMPLE)
    if rng.random() < 0.5:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=int(rng.integers(10, 90)))
        image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return image


def augment(
    item: Image.Image,
    rng: Rng,
    others: Sequence[Image.Image] = (),
    scene_prob: float = 0.6,
    photos: Sequence[Image.Image] = (),
) -> np.ndarray:
    """One random training view of ``item``: uint8 [224, 224, 3]; ``others`` are other
    training photos, ``photos`` photographed backgrounds (see :func:`real_world_scene`)."""
    if rng.random() < scene_prob:
        scene = real_world_scene(item, rng, others, photos)
        view = _random_resized_crop(scene, rng, (0.55, 1.0))
    else:
        view = item
        if rng.random() < 0.25:
            view = view.rotate(rng.uniform(-15, 15), RESAMPLE, fillcolor=(255, 255, 255))
        view = _random_resized_crop(view, rng, (0.3, 1.0))
    if rng.random() < 0.5:
        view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(_photometric(view, rng), dtype=np.uint8)


def scene_view(item: Image.Image, seed: int, others: Sequence[Image.Image] = ()) -> np.ndarray:
    """Deterministic scene composite of ``item`` for the val-scene evaluation."""
    rng = np.random.default_rng(seed)
    return preprocess(composite_scene(item, rng, others))
