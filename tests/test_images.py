"""Decoding, conversion and resize rules, and each way an upload is refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import encode, noise_image
from PIL import Image

from altgen.errors import ImageRejected
from altgen.images.decode import DecodePlan, finish_image, open_image, prepare_image, scaled_size
from altgen.settings import ResizeConfig

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


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_phone_formats_are_read_upright(fmt):
    """An iPhone's HEIC and an AVIF, written by the libraries that read them, with a 'rotate 90' orientation."""
    image = Image.new("RGB", (64, 32), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    prepared = prepare(encode(image, fmt, exif=exif.tobytes()), ResizeConfig(halve_rate=1.0))
    assert prepared.original_size == (32, 64) and prepared.image.size == (32, 64)
    red, green, _blue = prepared.image.getpixel((16, 32))
    assert red > 150 and green < 60


def test_a_png_whose_rotation_follows_its_pixels_is_turned_after_decoding():
    """Pillow finds such an EXIF only by decoding: planning must not decode, and the sizes still come out upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(noise_image(60, 20), "PNG", exif=exif.tobytes())
    opened = open_image(data, "late.png", max_bytes=10**7, max_pixels=10**7)
    plan = opened.plan(ResizeConfig(halve_rate=1.0), min_short_side=None)
    prepared = finish_image(opened, plan)
    assert prepared.original_size == prepared.processed_size == prepared.image.size == (20, 60)


def test_a_photo_decoded_small_can_be_decoded_again_larger_within_the_rule():
    """What the text reader reads: the same upload, upright, up to the asked longer side, never past the rule."""
    prepared = prepare(phone_photo(orientation=6), DEFAULT, min_short_side=240, max_pixels=10**8)
    assert prepared.image.size == (240, 320)
    reading = prepared.larger(1600)
    assert reading.size == (1200, 1600) and reading.mode == "RGB"
    assert prepared.larger(10_000).size == prepared.processed_size == (1512, 2016)
    assert prepared.larger(100) is prepared.image  # no larger than what it has: nothing decoded again
    # Upright like the small one: red grows downwards in both.
    column = np.asarray(reading)[:, 600, 0].astype(int)
    assert column[-20] - column[20] > 150


def test_a_prepared_photo_keeps_the_upload_not_the_decoders_full_size_pixels():
    prepared = prepare(encode(noise_image(2000, 1500), "PNG"), DEFAULT, min_short_side=240)
    data, plan = prepared.source
    assert isinstance(data, bytes) and plan.target == prepared.image.size == (320, 240)
    assert prepared.larger(800).size == (800, 600)


def test_a_webp_is_decoded_by_libwebp_upright_and_on_white():
    """Half-transparent red over white, a 'rotate 90' orientation, an animation's first frame."""
    image = Image.new("RGBA", (80, 40), (255, 0, 0, 128))
    image.paste((0, 0, 255, 255), (0, 0, 80, 10))  # a blue band along the top as stored
    exif = Image.Exif()
    exif[0x0112] = 6
    prepared = prepare(encode(image, "WEBP", lossless=True, exif=exif.tobytes()), ResizeConfig(halve_rate=1.0))
    assert prepared.original_size == prepared.image.size == (40, 80)
    red, green, blue = prepared.image.getpixel((10, 40))
    assert red > 240 and 110 < green < 145 and 110 < blue < 145  # red at half strength over white
    assert prepared.image.getpixel((35, 40))[2] > 240  # the top band is on the right once upright
    frames = [Image.new("RGB", (30, 20), colour) for colour in ((0, 200, 0), (200, 0, 0))]
    animated = io.BytesIO()
    frames[0].save(animated, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert prepare(animated.getvalue(), ResizeConfig(halve_rate=1.0)).image.getpixel((5, 5))[1] > 150


def test_the_decode_budget_counts_every_buffer_of_a_decode():
    def plan(image: Image.Image, fmt: str, **save) -> DecodePlan:
        return open_image(encode(image, fmt, **save), "p", max_bytes=10**8, max_pixels=10**8).plan(DEFAULT, 240)

    assert plan(Image.new("RGB", (1000, 1000)), "WEBP").decoded_bytes == 4 * 10**6  # libwebp's array and its resize
    assert plan(Image.new("RGBA", (1000, 1000)), "PNG").decoded_bytes == 9 * 10**6  # + a white background, a mask
    assert plan(Image.new("L", (1000, 1000)), "PNG").decoded_bytes == 10**6
    turned = Image.Exif()
    turned[0x0112] = 6
    assert plan(Image.new("RGB", (1000, 1000)), "PNG", exif=turned.tobytes()).decoded_bytes == 8 * 10**6
    phone = open_image(phone_photo(), "p.jpg", max_bytes=10**8, max_pixels=10**8).plan(DEFAULT, 240)
    assert phone.decoded_bytes == 4 * 504 * 378  # a JPEG counts only what its DCT-scaled decode holds
