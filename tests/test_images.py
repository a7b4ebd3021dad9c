"""Decoding, conversion and resize rules, and each way an upload is refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from altgen.images.decode import prepare_image, scaled_size

from altgen.errors import ImageRejected
from altgen.settings import ResizeConfig
from conftest import encode, noise_image

DEFAULT = ResizeConfig()
LIMITS = {"max_bytes": 10_000_000, "max_pixels": 10_000_000}


def prepare(data: bytes, config: ResizeConfig = DEFAULT, **limits):
    return prepare_image(data, "photo.jpg", config, **{**LIMITS, **limits})


@pytest.mark.parametrize(
    ("size", "config", "expected"),
    [
        ((1000, 1000), ResizeConfig(), (500, 500)),  # the default rule halves each side
        ((1000, 500), ResizeConfig(), (500, 250)),  # aspect ratio kept
        ((40, 20), ResizeConfig(halve_rate=0.5, min_size=15), (30, 15)),  # shorter side held at min_size
        ((30, 12), ResizeConfig(halve_rate=0.5, min_size=100), (30, 12)),  # never upscaled
        ((640, 480), ResizeConfig(halve_rate=1.0, min_size=10), (640, 480)),
        ((1000, 10), ResizeConfig(halve_rate=0.1, min_size=10), (1000, 10)),
    ],
)
def test_resize_rule_keeps_aspect_and_never_upscales(size, config, expected):
    assert scaled_size(*size, config) == expected


def test_jpeg_is_resized_with_its_hash_and_sizes():
    data = encode(noise_image(200, 100))
    prepared = prepare(data)
    assert prepared.original_size == (200, 100)
    assert prepared.size == (100, 50)
    assert prepared.image.mode == "RGB"
    assert len(prepared.sha256) == 64


def test_rgba_transparent_area_becomes_white():
    image = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    prepared = prepare(encode(image, "PNG"), ResizeConfig(halve_rate=1.0))
    assert prepared.image.mode == "RGB"
    assert prepared.image.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "P", "1", "LA", "CMYK"])
def test_other_modes_become_rgb(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    image = noise_image(32, 24).convert(mode)
    prepared = prepare(encode(image, fmt), ResizeConfig(halve_rate=1.0))
    assert prepared.image.mode == "RGB"
    assert prepared.size == (32, 24)


def test_palette_with_transparency_is_composited():
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.info["transparency"] = 0
    prepared = prepare(encode(image, "PNG", transparency=0), ResizeConfig(halve_rate=1.0))
    assert prepared.image.getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_png_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 64 * 8).reshape(8, 64)).astype(np.uint16)
    image = Image.fromarray(ramp)
    assert image.mode == "I;16"
    prepared = prepare(encode(image, "PNG"), ResizeConfig(halve_rate=1.0))
    values = np.asarray(prepared.image)[..., 0]
    assert values.min() == 0 and values.max() >= 250
    assert len(np.unique(values)) > 50  # a real gradient, not black/white


def test_exif_orientation_is_applied():
    image = noise_image(60, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    prepared = prepare(encode(image, "JPEG", exif=exif), ResizeConfig(halve_rate=1.0))
    assert prepared.original_size == (20, 60)
    assert prepared.size == (20, 60)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (16, 16), color) for color in [(255, 0, 0), (0, 0, 255)]]
    buffer = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    prepared = prepare(buffer, ResizeConfig(halve_rate=1.0))
    red, green, blue = prepared.image.getpixel((8, 8))
    assert red > 200 and blue < 50


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF", "GIF"])
def test_accepted_formats(fmt):
    assert prepare(encode(noise_image(20, 20), fmt)).image.mode == "RGB"


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"", 422, "empty"),
        (b"hello, this is plain text and not a photo", 415, "not a recognised image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 415, "not a recognised image"),  # bogus header
    ],
)
def test_refused_uploads_name_the_problem(data, status, words):
    with pytest.raises(ImageRejected) as info:
        prepare(data)
    assert info.value.status == status
    assert words in str(info.value) and "photo.jpg" in str(info.value)


def test_truncated_jpeg_is_refused():
    data = encode(noise_image(300, 300))
    with pytest.raises(ImageRejected) as info:
        prepare(data[: len(data) // 2])
    assert info.value.status == 422
    assert "truncated" in info.value.reason


def test_too_many_pixels_is_refused_before_decoding():
    data = encode(Image.new("L", (4000, 3000)), "PNG")
    with pytest.raises(ImageRejected) as info:
        prepare(data, max_pixels=1_000_000)
    assert info.value.status == 413
    assert "12000000 pixels" in info.value.reason and "1000000" in info.value.reason


def test_too_many_bytes_is_refused():
    with pytest.raises(ImageRejected) as info:
        prepare(encode(noise_image(100, 100)), max_bytes=100)
    assert info.value.status == 413 and "limit is 100 bytes" in info.value.reason


def test_unaccepted_format_is_refused():
    data = encode(noise_image(10, 10), "ICO")
    with pytest.raises(ImageRejected) as info:
        prepare(data)
    assert info.value.status == 415 and "ICO" in info.value.reason
