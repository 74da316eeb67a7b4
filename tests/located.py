"""Real image files carrying a location everywhere an image can hide one, and a parser that
lists what a stored file holds besides its pixels."""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageCms, PngImagePlugin
from PIL.ExifTags import IFD

LATITUDE = "48.8582"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4917N" '
    b'exif:GPSLongitude="2,17.67E" exif:Comment="' + LATITUDE.encode() + b'"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
TELLTALES = (b"GPS", LATITUDE.encode(), b"xmpmeta", b"Exif", b"PhoneMaker", b"sRGB")
"""Bytes that only metadata put in these files."""
JPEG_PIXELS = frozenset({"SOI", "APP0", "DQT", "SOF", "DHT", "DRI", "SOS", "EOI"})
"""JPEG segments that encode the picture (APP0: the JFIF header, pixel density only)."""
PNG_PIXELS = frozenset({"IHDR", "PLTE", "IDAT", "IEND"})


def located_exif(orientation: int = 1) -> Image.Exif:
    """EXIF with a camera, an orientation and a GPS position (Paris)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = orientation
    exif.get_ifd(IFD.GPSInfo).update({1: "N", 2: (48.0, 51.0, 29.5), 3: "E", 4: (2.0, 17.0, 40.2)})
    return exif


def two_colours(size: tuple[int, int] = (64, 32)) -> Image.Image:
    """Left half red, right half blue: shows whether a rotation was applied."""
    image = Image.new("RGB", size, (220, 30, 30))
    image.paste((30, 30, 220), (size[0] // 2, 0, size[0], size[1]))
    return image


def icc_profile() -> bytes:
    """A real sRGB ICC profile (its description says sRGB)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def located_jpeg(orientation: int | None = 6) -> bytes:
    """A phone-like JPEG: EXIF with GPS and a 90° orientation (no EXIF when ``orientation``
    is None), XMP with GPS, ICC profile, comment, bytes after the image."""
    out = io.BytesIO()
    exif = located_exif(orientation) if orientation is not None else Image.Exif()
    two_colours().save(
        out,
        "JPEG",
        quality=92,
        exif=exif,
        xmp=XMP,
        icc_profile=icc_profile(),
        comment=f"taken at {LATITUDE}N".encode(),
    )
    return out.getvalue() + b"GPS trailing bytes after the image"


def located_png(exif: bool = True) -> bytes:
    """A PNG with text chunks (tEXt, zTXt, iTXt XMP), an iCCP and an eXIf chunk with GPS
    (unless not ``exif``)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", f"{LATITUDE}N 2.2945E")
    info.add_text("Comment", f"GPS {LATITUDE}", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    two_colours().save(out, "PNG", pnginfo=info, exif=located_exif(), icc_profile=icc_profile())
    return out.getvalue()


def located_webp() -> bytes:
    """A WebP with EXIF (GPS) and XMP chunks."""
    out = io.BytesIO()
    two_colours().save(out, "WEBP", quality=90, exif=located_exif(), xmp=XMP)
    return out.getvalue()


def jpeg_segments(data: bytes) -> list[str]:
    """Marker names of a JPEG up to its end, then ``trailing`` if bytes follow EOI."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    names, position = ["SOI"], 2
    while position < len(data):
        marker = data[position + 1]
        if marker == 0xD9:
            names.append("EOI")
            if position + 2 < len(data):
                names.append("trailing")
            return names
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        names.append(_marker_name(marker))
        position += 2 + length
        if marker == 0xDA:  # entropy-coded data up to the next non-RST marker
            while not (
                data[position] == 0xFF and data[position + 1] not in (0, *range(0xD0, 0xD8))
            ):
                position += 1
    return names


def _marker_name(marker: int) -> str:
    if 0xE0 <= marker <= 0xEF:
        return f"APP{marker - 0xE0}"
    return {0xDB: "DQT", 0xC4: "DHT", 0xDA: "SOS", 0xFE: "COM", 0xDD: "DRI"}.get(
        marker, "SOF" if 0xC0 <= marker <= 0xCF else f"0x{marker:02X}"
    )


def png_chunks(data: bytes) -> list[str]:
    """Chunk types of a PNG, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    types, position = [], 8
    while position < len(data):
        length = struct.unpack(">I", data[position : position + 4])[0]
        types.append(data[position + 4 : position + 8].decode("ascii"))
        position += 12 + length
    return types


def metadata_in(data: bytes) -> list[str]:
    """Whatever a stored image holds besides what encodes its pixels (empty: nothing)."""
    parts: list[str] = []
    if data[:2] == b"\xff\xd8":
        parts = [s for s in jpeg_segments(data) if s not in JPEG_PIXELS]
    elif data[:4] == b"\x89PNG":
        parts = [c for c in png_chunks(data) if c not in PNG_PIXELS]
    return parts + [t.decode() for t in TELLTALES if t in data]
