"""Phone photos against small photos through the API, and against an earlier release, in one run.

Phone-like photos are made from the photographs KDE Plasma's wallpapers ship (2560x1600 JPEGs): cropped
to 4:3, scaled to 4032x3024 (12 megapixels) with a little sensor-like noise so that they compress like
a phone's (about 3 MB at quality 90); the small ones are the same crops at 640x480. Each server (this
checkout, and with --baseline REF that git revision in a temporary worktree) runs as `altgen serve` on
the embedded default; rounds alternate server and photo size so that a busy moment favours none. It
also samples each server's memory while 8 phone photos are in flight, and compares the descriptions
the two servers write for the same photos.

    python benchmarks/bench_phone_photos.py [--baseline 1f95cd8] [--rounds 3] [--photos 48]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from glob import glob
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from common import drive, rss_bytes, start_server, stop_server

RESULTS = Path(__file__).parent / "results" / "phone_photos.json"
WALLPAPERS = "/usr/share/wallpapers/*/contents/images/2560x1600.jpg"  # Debian: plasma-workspace-wallpapers
CLIENTS = 8


def phone_and_small_photos() -> tuple[list[bytes], list[bytes]]:
    phone, small = [], []
    rng = np.random.default_rng(0)
    for path in sorted(glob(WALLPAPERS)):
        with Image.open(path) as source:
            width, height = source.size
            crop_width = round(height * 4 / 3)
            crop = source.convert("RGB").crop(((width - crop_width) // 2, 0, (width + crop_width) // 2, height))
        big = np.asarray(crop.resize((4032, 3024), Image.Resampling.LANCZOS), dtype=np.float32)
        big = np.clip(big + rng.normal(0, 2.0, big.shape), 0, 255).astype(np.uint8)
        for image, out in ((Image.fromarray(big), phone), (crop.resize((640, 480), Image.Resampling.LANCZOS), small)):
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=90)
            out.append(buffer.getvalue())
    if not phone:
        raise SystemExit(f"no photos at {WALLPAPERS}: apt-get install plasma-workspace-wallpapers")
    return phone, small


class PeakMemory:
    """Samples a process's resident memory every 20 ms while in use."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def descriptions(base: str, photos: list[bytes]) -> list[str]:
    with httpx.Client(base_url=base, timeout=120) as http:
        return [
            http.post("/v1/describe", files={"images": ("p.jpg", photo, "image/jpeg")}).json()["results"][0]["description"]
            for photo in photos
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git revision to compare with (run from a temporary worktree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=int, default=48, help="photos per client-driven measurement")
    args = parser.parse_args()

    phone, small = phone_and_small_photos()
    print(f"{len(phone)} photos; phone JPEGs {np.mean([len(p) for p in phone]) / 1e6:.1f} MB on average")
    repo = Path(__file__).resolve().parent.parent
    sources = {"this checkout": None}
    worktree = None
    if args.baseline:
        worktree = Path(tempfile.mkdtemp(prefix="altgen-baseline-"))
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(worktree), args.baseline], check=True)
        sources[args.baseline] = worktree / "src"
    servers = {}
    try:
        for name, source in sources.items():
            servers[name] = start_server(source=source, max_batch_size=8)
        speed: dict[str, dict[str, list[float]]] = {name: {"phone": [], "small": []} for name in servers}
        memory: dict[str, dict[str, float]] = {}
        for name, (process, base) in servers.items():  # warm-up, then memory with 8 phone photos in flight
            asyncio.run(drive(base, small, CLIENTS, 16))
            settled = rss_bytes(process.pid)
            with PeakMemory(process.pid) as sampler:
                asyncio.run(drive(base, phone, CLIENTS, 32))
            memory[name] = {"settled_mb": settled / 1e6, "peak_mb": sampler.peak / 1e6,
                            "per_phone_photo_in_flight_mb": (sampler.peak - settled) / 1e6 / CLIENTS}
        for _round in range(args.rounds):
            for name, (_process, base) in servers.items():
                for kind, photos in (("phone", phone), ("small", small)):
                    speed[name][kind].append(asyncio.run(drive(base, photos, CLIENTS, args.photos))["images_per_s"])
        written = {name: {"phone": descriptions(base, phone), "small": descriptions(base, small)}
                   for name, (_process, base) in servers.items()}
    finally:
        for process, _base in servers.values():
            stop_server(process)
        if worktree is not None:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(worktree)], check=False)

    median = {name: {kind: float(np.median(v)) for kind, v in kinds.items()} for name, kinds in speed.items()}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU only",
        "photos": len(phone),
        "clients": CLIENTS,
        "images_per_s": speed,
        "median_images_per_s": median,
        "phone_vs_small": {name: m["phone"] / m["small"] for name, m in median.items()},
        "memory": memory,
    }
    if args.baseline:
        new, old = median["this checkout"], median[args.baseline]
        result["vs_baseline"] = {kind: new[kind] / old[kind] for kind in ("phone", "small")}
        result["descriptions_changed"] = {
            kind: [[a, b] for a, b in zip(written[args.baseline][kind], written["this checkout"][kind]) if a != b]
            for kind in ("phone", "small")
        }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "descriptions_changed"}, indent=1))
    for kind, changed in result.get("descriptions_changed", {}).items():
        print(f"{kind}: {len(changed)} of {len(phone)} descriptions differ from {args.baseline}'s")


if __name__ == "__main__":
    main()
