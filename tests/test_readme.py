"""The examples of the README and of the docs/ pages, run as a reader would run them, against a real `altgen serve`.

Every fenced block that talks to the service (localhost:8890) or runs `altgen describe` is run
as written, with only the address and the venv's interpreter swapped for this test's. A whole-line
comment in such a block is output the reader is promised, and must appear. The Docker example
(a GPU host with a model hub) is the one left out. A block that appears on two pages is run once.
The links between these pages, and the headings they point at, must exist.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_end_to_end import start_server

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)```(python|bash)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def runnable_blocks(pages: list[Path] = PAGES) -> list[tuple[str, str, str]]:
    """(page, language, body) of every block to run, each distinct body once (where it first appears)."""
    blocks, seen = [], set()
    for page in pages:
        for indent, language, body in FENCE.findall(page.read_text(encoding="utf-8")):
            body = "\n".join(line.removeprefix(indent) for line in body.splitlines())
            needs_elsewhere = "docker compose" in body  # a GPU host with Docker and a model hub
            if ("localhost:8890" in body or "altgen describe" in body) and not needs_elsewhere and body not in seen:
                seen.add(body)
                blocks.append((page.relative_to(ROOT).as_posix(), language, body))
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
    languages = [language for _, language, _ in runnable_blocks()]
    assert languages.count("python") >= 1 and languages.count("bash") >= 4
    # The first screen's examples (the CLI, the v1 API, the legacy routes) stay in the README itself.
    readme = [body for _, language, body in runnable_blocks([README]) if language == "bash"]
    assert len(readme) >= 4 and any("altgen describe" in body for body in readme)


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces to hyphens)."""
    anchors, fenced = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#+ (.*)", line)):
            anchors.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_between_pages_resolve(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path) if path else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in heading_anchors(linked), f"{page.name} links to {target}, a heading that does not exist"


@pytest.mark.parametrize(
    ("page", "language", "body"), runnable_blocks(), ids=lambda value: value.split("\n")[0][:40]
)
def test_readme_example_runs_as_written(server, page, language, body):
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
