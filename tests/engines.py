"""Real OpenAI-compatible engines on loopback for the tests, serving tiny models from local folders with no model
hub: `transformers serve` (vision-language) and Infinity (embeddings, in its own install: its pins clash with
altgen's, see docs/engines.md: tests against real engines)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from test_end_to_end import free_port

ROOT = Path(__file__).resolve().parents[1]
# Where .ci/run installs Infinity; another install can be named with ALTGEN_TEST_INFINITY.
INFINITY = Path(os.environ.get("ALTGEN_TEST_INFINITY", ROOT / ".venv-infinity" / "bin" / "infinity_emb"))
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1",
           "INFINITY_ANONYMOUS_USAGE_STATS": "0"}


def wait_until(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 120, **headers: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if requests.get(url, timeout=1, headers=headers).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"{url} did not answer:\n" + log.read_text())


def start_transformers_serve(folder: Path, log: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """`transformers serve` pinned to the model in ``folder``; returns the process and its OpenAI base URL."""
    pytest.importorskip("openai", reason="transformers serve needs transformers[serving] (the test extra has it)")
    port = port or free_port()
    command = [str(Path(sys.executable).parent / "transformers"), "serve", str(folder),
               "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=OFFLINE)
    wait_until(f"http://127.0.0.1:{port}/v1/models", process, log)
    return process, f"http://127.0.0.1:{port}/v1"


def start_infinity(folder: Path, name: str, log: Path, api_key: str) -> tuple[subprocess.Popen, str]:
    """Infinity serving the sentence-transformers folder under ``name``; returns the process and its base URL."""
    if not INFINITY.exists():
        pytest.skip(f"Infinity is not installed at {INFINITY} (.ci/run installs it; docs/engines.md: tests against real engines)")
    port = free_port()
    command = [str(INFINITY), "v2", "--model-id", str(folder), "--served-model-name", name, "--engine", "torch",
               "--device", "cpu", "--host", "127.0.0.1", "--port", str(port), "--url-prefix", "/v1",
               "--api-key", api_key]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=OFFLINE)
    wait_until(f"http://127.0.0.1:{port}/v1/models", process, log, Authorization=f"Bearer {api_key}")
    return process, f"http://127.0.0.1:{port}/v1"


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def save_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """A random two-layer BERT saved as a hub download is laid out; sentence-transformers of any version (altgen's,
    Infinity's) loads it with mean pooling."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    words = "a an the cat dog photo of red blue car query passage : hedgehog espresso cup sleeping on sofa".split()
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(str(folder))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
