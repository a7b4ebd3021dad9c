"""Every tested vision-language family on one device, as the service runs it there: the tiny random
models of tests/vlm_families loaded through TransformersCaptioner, a batch mixing photo shapes,
languages and details, the static KV cache warmed up (on CUDA: the compiled decode step and its
graphs), and how its answers compare with the dynamic cache and with one photo at a time.

    python benchmarks/family_check.py OUT_DIR --device cuda

Each family runs in its own process with its own timeout (a few at once), once per precision
(``--dtypes``: the service's own, and float32, which separates rounding from real differences);
OUT_DIR/family_check.json and a table are written after every run, so a run cut short still reports
what it finished.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the random model builders live beside the tests


def check_one(name: str, device: str, dtype: str, bucket: int) -> dict:
    """Load, warm up and compare one family on ``device``; every figure is recorded as it is measured."""
    import torch

    from altgen.model.vlm.transformers_captioner import TransformersCaptioner
    from test_vlm_families import mixed_requests
    from vlm_families import FAMILIES

    result: dict = {"family": name, "dtype": dtype}
    requests = mixed_requests()
    with tempfile.TemporaryDirectory() as work:
        folder = str(FAMILIES[name].build(Path(work) / "model"))

        def captioner(kv_cache: str) -> TransformersCaptioner:
            return TransformersCaptioner(folder, device, max_new_tokens=8, long_max_new_tokens=12, kv_cache=kv_cache,
                                         dtype=dtype, max_batch_size=bucket, compiled_batch_sizes=[bucket])

        started = time.perf_counter()
        dynamic = captioner("dynamic")
        result["load_s"] = round(time.perf_counter() - started, 2)
        batched = dynamic.generate_raw(requests)
        single = [dynamic.generate_raw([one])[0] for one in requests]
        result["dynamic_batched_equals_single"] = batched == single
        bos = dynamic.tokenizer.bos_token_id
        ids = dynamic.preprocess(requests[0]).features["input_ids"][0].tolist()
        result["bos_count"] = None if bos is None else ids.count(bos)
        del dynamic

        static = captioner("static")
        started = time.perf_counter()
        static.warm_up()
        result["warm_up_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        static_batched = static.generate_raw(requests)
        result["static_batch_s"] = round(time.perf_counter() - started, 3)
        result["static_equals_dynamic_rows"] = sum(a == b for a, b in zip(static_batched, batched))
        result["rows"] = len(requests)
        result["text"] = {"dynamic batched": batched, "dynamic single": single, "static batched": static_batched}
        if device.startswith("cuda"):
            result["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return result


def run_family(name: str, dtype: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "-", "--one", name, "--device", args.device, "--dtypes", dtype,
               "--bucket", str(args.bucket)]
    started = time.perf_counter()
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout_s)
        lines = finished.stdout.strip().splitlines()
        result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {"error": finished.stderr[-800:]}
    except subprocess.TimeoutExpired:
        result = {"error": f"timed out after {args.timeout_s} s"}
    return {"family": name, "dtype": dtype, **result, "wall_s": round(time.perf_counter() - started, 1)}


def table(results: list[dict]) -> str:
    lines = [
        "| family | dtype | load s | warm-up s | batched == single | static == dynamic | BOS | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        error = [" ".join(line.strip() for line in (r.get("error") or "").splitlines() if line.strip())]
        lines.append(
            f"| {r['family']} | {r['dtype']} | {r.get('load_s', '')} | {r.get('warm_up_s', '')} | "
            f"{r.get('dynamic_batched_equals_single', '')} | {r.get('static_equals_dynamic_rows', '')}/{r.get('rows', '')} | "
            f"{r.get('bos_count', '')} | {error[0][:120]} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtypes", default="auto,float32", help="each family is checked at each of these precisions")
    parser.add_argument("--families", default="", help="comma-separated; default every tested family")
    parser.add_argument("--bucket", type=int, default=4, help="the one batch size compiled for the static cache")
    parser.add_argument("--workers", type=int, default=4, help="families checked at once")
    parser.add_argument("--timeout-s", type=float, default=240)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child: one family at one precision, printed as the last line of its output
        result: dict = {}
        try:
            result = check_one(args.one, args.device, args.dtypes, args.bucket)
        except Exception as exc:  # noqa: BLE001 - the report must say what failed
            result["error"] = "".join(traceback.format_exception_only(exc)).strip()[:800]
            result["trace"] = traceback.format_exc()[-2000:]
        print(json.dumps(result, ensure_ascii=False))
        return
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    from vlm_families import FAMILIES

    names = [n.strip() for n in args.families.split(",") if n.strip()] or list(FAMILIES)
    runs = [(name, dtype) for dtype in args.dtypes.split(",") for name in names]
    results: list[dict] = []
    with ThreadPoolExecutor(args.workers) as pool:
        for result in pool.map(lambda run: run_family(*run, args), runs):
            results.append(result)
            (out_dir / "family_check.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
            (out_dir / "family_check.md").write_text(table(results))
            print(table([result]).splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
