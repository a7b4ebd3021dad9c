"""Decoding stays within a memory budget: huge photos wait for each other, small ones are not held up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from altgen.images.budget import DecodeBudget


async def test_huge_photos_take_turns_and_small_ones_pass():
    budget = DecodeBudget(100)
    first = await budget.take(60)
    second = asyncio.create_task(budget.take(60))
    await asyncio.sleep(0)
    assert not second.done() and budget.in_use == 60
    assert await asyncio.wait_for(budget.take(30), 1) == 30  # fits beside the first: not queued behind the second
    budget.give_back(first)
    assert await asyncio.wait_for(second, 1) == 60 and budget.in_use == 90


async def test_a_request_that_gives_up_leaves_the_queue_and_a_photo_over_the_budget_still_runs_alone():
    budget = DecodeBudget(100)
    held = await budget.take(80)
    waiting = asyncio.create_task(budget.take(50))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    budget.give_back(held)
    assert budget.in_use == 0
    assert await budget.take(10**9) == 100  # clipped to the whole budget


def fresh_python(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (so its memory is its own)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def peak_decoding_in_a_fresh_process(photo: Path, **options) -> tuple[int, str]:
    """How far (MB) a fresh process grows at its peak preparing ``photo`` (``options``: prepare_image's), and
    the prepared size and mode. Make the photo in another process, so its cost is not counted."""
    measure = (
        "from altgen.images.decode import prepare_image\nfrom altgen.settings import ResizeConfig\n"
        "def resident(): return int(open('/proc/self/statm').read().split()[1]) * 4096 // 2**20\n"
        "def peak(): return int([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]) // 1024\n"
        f"data = open({str(photo)!r}, 'rb').read()\n"
        "open('/proc/self/clear_refs', 'w').write('5')  # the peak counts from here\n"
        "before = resident()\n"
        f"image = prepare_image(data, 'big', ResizeConfig(), max_bytes=10**8, max_pixels=50_000_000, **{options!r})\n"
        "print(peak() - before, image.processed_size, image.image.mode)\n"
    )
    growth_mb, prepared = fresh_python(measure).split(maxsplit=1)
    return int(growth_mb), prepared


reads_proc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@reads_proc
def test_a_huge_16_bit_png_decodes_in_bounded_memory(tmp_path):
    """A 95 KB 7000x7000 16-bit PNG once took +1.2 GB (a float64 copy); the bound is 400 MB."""
    png = tmp_path / "big16.png"
    fresh_python(
        "import numpy as np, sys; from PIL import Image\n"
        "a = np.zeros((7000, 7000), dtype=np.uint16); a[1000:2000, 1000:2000] = 40000\n"
        f"Image.fromarray(a).save({str(png)!r})\n"
    )
    growth_mb, prepared = peak_decoding_in_a_fresh_process(png)
    assert growth_mb <= 400, growth_mb
    assert "(3500, 3500) RGB" in prepared


def peak_decoding_a_square(tmp_path, mode: str, fmt: str, side: int) -> int:
    """The peak growth (MB) preparing one ``side``-square photo for the embedded default (240-pixel shorter side)."""
    photo = tmp_path / f"big.{fmt.lower()}"
    fresh_python(
        "from PIL import Image\n"
        f"Image.new({mode!r}, ({side}, {side}), (120, 160, 200, 100)[:len({mode!r})]).save({str(photo)!r}, {fmt!r})\n"
    )
    return peak_decoding_in_a_fresh_process(photo, min_short_side=240)[0]


@reads_proc
def test_a_huge_webp_decodes_in_one_array(tmp_path):
    """A 7000x7000 WebP took +745 MB at its peak in Pillow's animation decoder (16 bytes a pixel); now libwebp's
    one array, 3 bytes a pixel (147 MB)."""
    peak_mb = peak_decoding_a_square(tmp_path, "RGB", "WEBP", 7000)
    assert peak_mb <= 250, peak_mb

