"""The README's examples, run as a reader would run them, against a real `altgen serve`.

Every fenced block that talks to the service (localhost:8890) or runs `altgen describe` is run
as written, with only the address and the venv's interpreter swapped for this test's. A whole-line
comment in such a block is output the reader is promised, and must appear. The Docker example
(a GPU host with a model hub) is the one left out.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_end_to_end import start_server

README = Path(__file__).parent.parent / "README.md"
FENCE = re.compile(r"^( *)```(python|bash)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def runnable_blocks() -> list[tuple[str, str]]:
    blocks = []
    for indent, language, body in FENCE.findall(README.read_text(encoding="utf-8")):
        body = "\n".join(line.removeprefix(indent) for line in body.splitlines())
        needs_elsewhere = "docker compose" in body  # a GPU host with Docker and a model hub
        if ("localhost:8890" in body or "altgen describe" in body) and not needs_elsewhere:
            blocks.append((language, body))
    return blocks


def promised_output(language: str, body: str) -> list[str]:
    comments = [line.strip()[2:] for line in body.splitlines() if line.strip().startswith("# ")]
    trailing = [m.group(1) for m in re.finditer(r"print\(.*\)\s+# (\S.*)$", body, re.MULTILINE)]
    skip = ("pip install", "the photo is one", "photos scikit-image ships")
    return [text for text in comments + trailing if not text.startswith(skip)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process, base = start_server(tmp_path_factory.mktemp("readme") / "server.log")
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_readme_has_runnable_examples():
    languages = [language for language, _ in runnable_blocks()]
    assert languages.count("python") >= 1 and languages.count("bash") >= 4


@pytest.mark.parametrize(("language", "body"), runnable_blocks(), ids=lambda value: value.split("\n")[0][:40])
def test_readme_example_runs_as_written(server, language, body):
    host = server.removeprefix("http://")
    code = body.replace("http://localhost:8890", server).replace("localhost:8890", host)
    code = code.replace(".venv/bin/python", sys.executable).replace(".venv/bin/altgen", f"{sys.executable} -m altgen")
    if language == "python":
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    else:
        code = code.replace("curl ", "curl -sS --fail-with-body ")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for promised in promised_output(language, body):
        assert promised in done.stdout, (promised, done.stdout)
