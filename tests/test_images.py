"""Decoding, conversion and resize rules, and each way an upload is refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from altgen.images.decode import finish_image, open_image, prepare_image, scaled_size

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
    assert prepared.processed_size == (100, 50)
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
    assert prepared.processed_size == (32, 24)


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
    assert prepared.processed_size == (20, 60)


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


def phone_photo(width: int = 4032, height: int = 3024, orientation: int = 1) -> bytes:
    """A phone-sized JPEG: smooth colour bands (a photo compresses like this, noise does not), an EXIF orientation."""
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    pixels = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)), (x + y) / 2], axis=-1)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(Image.fromarray(pixels.astype(np.uint8)), "JPEG", exif=exif)


def test_a_model_that_needs_few_pixels_gets_a_photo_decoded_small():
    data = phone_photo()
    opened = open_image(data, "phone.jpg", max_bytes=10**8, max_pixels=10**8)
    plan = opened.plan(DEFAULT, min_short_side=224)
    assert plan.processed_size == (2016, 1512)  # what the APIs report: the /config rule's size
    assert plan.target == (299, 224)
    assert plan.decoded_pixels == 504 * 378  # the JPEG decodes at 1/8 scale in the DCT itself
    prepared = finish_image(opened, plan)
    assert prepared.image.size == (299, 224) and prepared.image.mode == "RGB"
    assert (prepared.original_size, prepared.processed_size) == ((4032, 3024), (2016, 1512))
    # The reduced decode shows the same picture: the colour ramps sit where they were.
    whole = prepare(data, DEFAULT, max_bytes=10**8, max_pixels=10**8).image.resize((299, 224), Image.Resampling.BOX)
    difference = np.abs(np.asarray(whole, dtype=np.int16) - np.asarray(prepared.image, dtype=np.int16))
    assert difference.mean() < 3


def test_a_rotated_phone_photo_is_decoded_small_and_upright():
    opened = open_image(phone_photo(orientation=6), "portrait.jpg", max_bytes=10**8, max_pixels=10**8)
    plan = opened.plan(DEFAULT, min_short_side=224)
    prepared = finish_image(opened, plan)
    assert prepared.original_size == (3024, 4032) and prepared.processed_size == (1512, 2016)
    assert prepared.image.size == (224, 299)
    # Stored lying down with red growing to the right; upright, red grows downwards.
    column = np.asarray(prepared.image)[:, 112, 0].astype(int)
    assert column[-5] - column[5] > 150


def test_a_model_that_needs_the_whole_photo_gets_the_rule_size():
    opened = open_image(phone_photo(800, 600), "p.jpg", max_bytes=10**8, max_pixels=10**8)
    plan = opened.plan(DEFAULT, min_short_side=None)
    assert plan.target == plan.processed_size == (400, 300)
    assert plan.decoded_pixels == 400 * 300  # still a 1/2-scale JPEG decode: it is what the rule asks for
    assert finish_image(opened, plan).image.size == (400, 300)


def test_other_formats_decode_whole_and_say_so():
    opened = open_image(encode(noise_image(800, 600), "PNG"), "p.png", max_bytes=10**8, max_pixels=10**8)
    plan = opened.plan(DEFAULT, min_short_side=224)
    assert plan.decoded_pixels == 800 * 600  # PNG has no reduced decode: the budget counts all of it
    assert finish_image(opened, plan).image.size == (299, 224)
