"""Time from dropping one photo on the try-it page to its alt text on screen, in Debian's chromium
against a real `altgen serve` on the embedded default (issue target: within 1 s on a 2-core CPU).

    python benchmarks/page_first_alt_text.py [--runs 10]

Each run opens a fresh page; results go to benchmarks/results/page_first_alt_text.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from PIL import Image
from skimage import data as skdata

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the page's browser helpers live beside its tests

from common import start_server, stop_server  # noqa: E402
from test_page_browser import CHROMIUM, CHROMIUM_ARGS, drop_and_time, open_page  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "page_first_alt_text.json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    timings = []
    with tempfile.TemporaryDirectory() as work, sync_playwright() as playwright:
        photo = Path(work) / "chelsea.jpg"
        Image.fromarray(skdata.chelsea()).save(photo)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        process, base = start_server()
        try:
            for _ in range(args.runs):
                page = open_page(browser, base)
                timings.append(round(drop_and_time(page, photo), 3))
                page.context.close()
        finally:
            stop_server(process)
            browser.close()
    result = {"runs": timings, "median_s": statistics.median(timings), "max_s": max(timings), "target_s": 1.0}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
