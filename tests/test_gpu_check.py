"""benchmarks/gpu_check.py end to end on CPU with the tiny shape: the command a GPU run depends on
working the first time, and its promise that a failing step loses only itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "gpu_check.py"
TINY = ["--shape", "tiny", "--batch-size", "4", "--new-tokens", "3", "--photos", "8", "--clients", "1", "4",
        "--buckets", "1,4", "--kv-cache", "static", "--busy-wait-ms", "0"]


def run_check(out_dir: Path, *flags: str) -> tuple[str, dict]:
    done = subprocess.run([sys.executable, str(SCRIPT), str(out_dir), *flags], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, json.loads((out_dir / "gpu_check.json").read_text())


def test_every_step_runs_and_the_table_holds_each_target(tmp_path):
    stdout, results = run_check(tmp_path, *TINY, "--device", "cpu")
    assert results["errors"] == {}, results["errors"]
    assert results["eager"]["sequential_images_per_s"] > 0 and results["eager"]["batched_images_per_s"] > 0
    compiled = results["compiled"]
    assert compiled["static_cache"] and set(compiled["warm_up_s_per_bucket"]) == {"1", "4"}
    [service] = results["service"]
    assert [run["clients"] for run in service["runs"]] == [1, 4]
    assert service["runs"][0]["mean_batch_size"] == 1.0
    ratios = results["targets"]["busy_wait_ms=0"]
    assert set(ratios) == {
        "images_per_s_at_4_clients (>= 38)",
        "service_vs_direct_same_config (>= 0.9)",
        "service_vs_eager_batched (>= 2.0)",
        "one_client_p95_vs_single_generate (<= 1.2)",
    }
    assert all(value > 0 for value in ratios.values())
    assert (tmp_path / "gpu_check.txt").read_text().strip() in stdout
    assert "(d) altgen serve, busy wait 0 ms, 4 client(s)" in stdout
    assert "Application startup complete" in (tmp_path / "server-busy0.log").read_text()


def test_failing_steps_are_recorded_and_the_rest_still_run(tmp_path):
    stdout, results = run_check(tmp_path, *TINY, "--device", "nosuchdevice:0")
    assert set(results["errors"]) == {"eager", "compiled", "service busy wait 0 ms"}
    assert "exited with" in results["errors"]["eager"] and "eager.log" in results["errors"]["eager"]
    assert "step compiled:" in stdout


def test_steps_that_do_not_fit_the_budget_are_skipped_not_started(tmp_path):
    _stdout, results = run_check(tmp_path, *TINY, "--device", "cpu", "--budget-s", "0")
    assert all(error.startswith("skipped") for error in results["errors"].values())
    assert len(results["errors"]) == 3 and "eager" not in results
