"""The try-it page at / in a real browser: Debian's chromium, driven by Playwright (which never
downloads a browser here), against a real `altgen serve` on loopback with the embedded models.

axe-core is vendored under tests/axe (see its README for why and how to update it).
"""

from __future__ import annotations

import base64
import re
import shutil
import os
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright
from skimage import data as skdata

from test_end_to_end import start_server

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no chromium binary (install Debian's: apt-get install chromium; .ci/run does)"
)

# Headless, and nothing that reaches out on its own (updates, sync, safe browsing lists).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
REPO = Path(__file__).parent.parent
# Where the README's screenshot is written, when asked for: ALTGEN_PAGE_SCREENSHOT=docs/page.png.
SCREENSHOT = os.environ.get("ALTGEN_PAGE_SCREENSHOT")
AXE = Path(__file__).parent / "axe" / "axe.min.js"
AXE_VERSION = "4.14.1"
MAX_FILE_BYTES = 2_000_000  # the server's limit here, so that a "too big" photo stays small
API_KEY = "page-test-key"
ANSWERED = ".card[aria-busy='false']"  # described, or refused for good


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("page-photos")
    paths = {name: folder / name for name in ("chelsea.jpg", "coffee.jpg", "notes.txt", "noise.png")}
    Image.fromarray(skdata.chelsea()).save(paths["chelsea.jpg"])
    Image.fromarray(skdata.coffee()).save(paths["coffee.jpg"])
    paths["notes.txt"].write_text("shopping list: milk, eggs\n")
    # Random pixels do not compress: a real PNG over the server's file limit.
    noise = np.random.default_rng(0).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    Image.fromarray(noise).save(paths["noise.png"])
    assert paths["noise.png"].stat().st_size > MAX_FILE_BYTES
    return paths


def serve(tmp_path_factory, *flags: str):
    process, base = start_server(tmp_path_factory.mktemp("page-server") / "server.log", *flags)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve(tmp_path_factory, "--max-file-bytes", str(MAX_FILE_BYTES))


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    # Room for one photo only: a group of two is refused as busy, then sent one by one.
    yield from serve(tmp_path_factory, "--api-keys", API_KEY, "--queue-capacity", "1")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Browser, base: str, locale: str = "en-US", width: int = 1100, height: int = 900) -> Page:
    """A fresh tab on the page that records every request it makes and fails on any script error."""
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    page = context.new_page()
    page.requests, page.script_errors = [], []
    page.on("request", lambda request: page.requests.append(request))
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    page.goto(f"{base}/")
    return page


@pytest.fixture
def pages(browser):
    """Opens pages; afterwards checks that they raised no script error and asked only their own server."""
    opened = []

    def opener(base: str, **options) -> Page:
        page = open_page(browser, base, **options)
        opened.append((page, base))
        return page

    yield opener
    for page, base in opened:
        assert page.script_errors == []
        outside = [r.url for r in page.requests if not r.url.startswith((base, "blob:"))]
        assert outside == []
        page.context.close()


def wait_answered(page: Page, count: int) -> None:
    expect(page.locator(ANSWERED)).to_have_count(count, timeout=30_000)


def card(page: Page, name: str):
    return page.locator(".card", has=page.locator(".name", has_text=name))


def api_description(base: str, path: Path, lang: str = "en", key: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    answer = requests.post(
        f"{base}/v1/describe", files={"images": (path.name, path.read_bytes())}, data={"lang": lang}, headers=headers
    )
    return answer.json()["results"][0]["description"]


def search(page: Page, query: str) -> None:
    page.get_by_label("Describe the photo you want").fill(query)
    page.get_by_role("button", name="Find").click()


def announcements(page: Page) -> str:
    return page.locator("#announcements").text_content()


def test_two_photos_get_their_alt_text_and_search_finds_each(server, files, pages, tmp_path):
    page = pages(server)
    page.get_by_label("Choose photos").set_input_files([files["chelsea.jpg"], files["coffee.jpg"]])
    wait_answered(page, 2)

    for name, word in (("chelsea.jpg", "cat"), ("coffee.jpg", "espresso")):
        expected = api_description(server, files[name])
        assert word in expected
        expect(card(page, name).locator("img")).to_have_attribute("alt", expected)
        expect(card(page, name).locator(".alt .text")).to_have_text(expected)
        expect(card(page, name).locator(".timing")).to_have_text(re.compile(r"^Ready in \d+\.\d\d s \(model \d+\.\d\d s\)\.$"))
        assert f"{name}: {expected}" in announcements(page)

    search(page, "고양이 사진을 찾아 줘")
    expect(page.locator(".card.best")).to_have_count(1)
    expect(page.locator(".card.best .name")).to_have_text("chelsea.jpg")
    expect(page.locator(".card").first).to_have_class(re.compile(r"\bbest\b"))
    expect(page.locator(".card.best .badge")).to_have_text("Rank 1 · Best match")
    expect(page.locator("#search-result")).to_have_text(re.compile(r"^Best match: chelsea\.jpg\."))

    search(page, "a cup of coffee")
    expect(page.locator(".card.best .name")).to_have_text("coffee.jpg")
    expect(card(page, "chelsea.jpg").locator(".badge")).to_have_text("Rank 2")
    assert "Best match: coffee.jpg." in announcements(page)
    page.screenshot(path=REPO / SCREENSHOT if SCREENSHOT else tmp_path / "page.png", full_page=True)

    # When the API says nothing matches, the page says so and highlights nothing.
    candidates = [{"id": n, "description": api_description(server, files[n])} for n in ("chelsea.jpg", "coffee.jpg")]
    verdict = requests.post(f"{server}/v1/recommend", json={"query": "a red sports car", "candidates": candidates}).json()
    assert verdict["match"] is False
    search(page, "a red sports car")
    expect(page.locator("#search-result")).to_have_text("No good match for “a red sports car”: none of the photos fits it.")
    expect(page.locator(".card.best")).to_have_count(0)

    # The page's own requests: the public v1 API and its files, nothing else.
    paths = {re.sub(r"^https?://[^/]+", "", r.url) for r in page.requests if not r.url.startswith("blob:")}
    assert {p for p in paths if not p.startswith("/page/")} == {"/", "/v1/describe", "/v1/recommend"}


DROP_AND_TIME = """async ({name, data}) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const dropped = new DataTransfer();
    dropped.items.add(new File([bytes], name, {type: "image/jpeg"}));
    const painted = new Promise((resolve) => {
        new MutationObserver((_changes, observer) => {
            if (!document.querySelector(".card img:not([alt=''])")) return;
            observer.disconnect();
            requestAnimationFrame(() => resolve(performance.now()));
        }).observe(document.getElementById("cards"), {subtree: true, attributes: true, attributeFilter: ["alt"]});
    });
    const started = performance.now();
    document.getElementById("drop").dispatchEvent(
        new DragEvent("drop", {dataTransfer: dropped, bubbles: true, cancelable: true}));
    return ((await painted) - started) / 1000;
}"""


def drop_and_time(page: Page, photo: Path) -> float:
    """Drops one photo on the page; seconds until its alt text is painted (benchmarks/page_first_alt_text.py)."""
    return page.evaluate(DROP_AND_TIME, {"name": photo.name, "data": base64.b64encode(photo.read_bytes()).decode()})


def test_a_dropped_photo_gets_its_alt_text(server, files, pages):
    page = pages(server)
    assert drop_and_time(page, files["chelsea.jpg"]) > 0
    expect(card(page, "chelsea.jpg").locator("img")).to_have_attribute("alt", re.compile("cat"))


def test_errors_say_what_to_do_and_spare_the_other_photos(server, files, pages):
    page = pages(server)
    page.get_by_label("Choose photos").set_input_files([files["notes.txt"], files["noise.png"], files["chelsea.jpg"]])
    wait_answered(page, 3)

    not_photo = card(page, "notes.txt")
    expect(not_photo.locator(".state")).to_have_text(
        "Not a photo this service can read. Use a JPEG, PNG, GIF, WebP, BMP or TIFF file."
    )
    expect(not_photo.locator(".said")).to_contain_text("not a recognised image")
    expect(not_photo.locator(".thumb")).to_have_text("No preview")
    too_big = card(page, "noise.png")
    expect(too_big.locator(".state")).to_have_text("Too big for this service. Use a smaller photo.")
    expect(too_big.locator(".said")).to_contain_text(f"the limit is {MAX_FILE_BYTES} bytes")
    for failed in (not_photo, too_big):  # no copy, no retry: only another file will do
        expect(failed.locator("button.copy")).to_be_hidden()
        expect(failed.locator("button.retry")).to_be_hidden()
    expect(card(page, "chelsea.jpg").locator("img")).to_have_attribute("alt", re.compile("cat"))
    assert "notes.txt: Not a photo this service can read." in announcements(page)


def test_api_key_kept_in_the_tab_and_busy_service_retried(keyed_server, files, pages):
    page = pages(keyed_server)  # the page itself needs no key
    page.get_by_label("Choose photos").set_input_files([files["chelsea.jpg"], files["coffee.jpg"]])
    expect(page.locator(".card .state", has_text="This service needs an API key.")).to_have_count(2)
    expect(page.locator("#key-box")).to_have_attribute("open", "")
    expect(page.get_by_role("button", name="Try again: chelsea.jpg")).to_be_visible()
    assert "chelsea.jpg, coffee.jpg: This service needs an API key." in announcements(page)

    page.get_by_label("API key (only if the service asks for one)").fill(API_KEY)
    with page.expect_response(lambda r: r.url.endswith("/v1/describe") and r.status == 503) as busy:
        page.get_by_role("button", name="Use this key").click()
    assert busy.value.headers["retry-after"] == "1"
    wait_answered(page, 2)
    assert "The service is busy. Trying again in 1 s." in announcements(page)
    for name in ("chelsea.jpg", "coffee.jpg"):
        expected = api_description(keyed_server, files[name], key=API_KEY)
        expect(card(page, name).locator("img")).to_have_attribute("alt", expected)
    search(page, "a cup of coffee")
    expect(page.locator(".card.best .name")).to_have_text("coffee.jpg")

    api_calls = [r for r in page.requests if "/v1/" in r.url]
    assert "authorization" not in api_calls[0].all_headers()
    assert all(r.all_headers()["authorization"] == f"Bearer {API_KEY}" for r in api_calls[1:])
    stored = page.evaluate("() => [sessionStorage.getItem('altgen.apiKey'), JSON.stringify(localStorage)]")
    assert stored[0] == API_KEY and API_KEY not in stored[1]
    other_tab = page.context.new_page()  # sessionStorage belongs to one tab
    other_tab.goto(f"{keyed_server}/")
    expect(other_tab.get_by_label("API key (only if the service asks for one)")).to_have_value("")
    other_tab.close()


def test_korean_follows_the_browser_and_the_switch_changes_it(server, files, pages):
    page = pages(server, locale="ko-KR")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("h1")).to_have_text("altgen: 사진 대체 텍스트")
    expect(page.get_by_role("radio", name="한국어")).to_be_checked()  # the alt text follows the page's language
    page.get_by_label("사진 선택").set_input_files([files["chelsea.jpg"]])
    wait_answered(page, 1)
    korean = api_description(server, files["chelsea.jpg"], lang="ko")
    assert "고양이" in korean
    expect(page.locator(".card img")).to_have_attribute("alt", korean)
    expect(page.locator(".card img")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("button", name="chelsea.jpg의 대체 텍스트 복사")).to_be_visible()

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("altgen: alt text for your photos")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Copy the alt text of chelsea.jpg")).to_be_visible()
    page.reload()  # the choice is remembered over the browser's language
    expect(page.locator("h1")).to_have_text("altgen: alt text for your photos")


def focused(page: Page) -> dict:
    return page.evaluate(
        """() => {
            const element = document.activeElement;
            const style = getComputedStyle(element);
            return {id: element.id, tag: element.tagName, name: element.getAttribute("aria-label") || element.textContent.trim(),
                    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2};
        }"""
    )


def tab_to(page: Page, matches, most: int = 30) -> list[dict]:
    """Presses Tab until ``matches`` the focused element; every stop on the way must show its focus."""
    path = []
    for _ in range(most):
        page.keyboard.press("Tab")
        path.append(focused(page))
        assert path[-1]["outline"], path[-1]
        if matches(path[-1]):
            return path
    pytest.fail(f"not reached by Tab: {path}")


def test_keyboard_alone_adds_photos_searches_and_copies(server, files, pages):
    page = pages(server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    # Playwright turns on its file-chooser interception without waiting for it: a listener from the start
    # has it on long before Space is pressed (else the chooser is sometimes missed).
    page.on("filechooser", lambda _chooser: None)
    path = tab_to(page, lambda f: f["id"] == "files")
    assert [f["name"] for f in path[:3]] == ["Skip to the photos", "English", "한국어"]
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files([files["chelsea.jpg"], files["coffee.jpg"]])
    wait_answered(page, 2)

    page.keyboard.press("Tab")  # the alt text's language: arrow keys choose within the group
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="Korean")).to_be_checked()
    page.keyboard.press("ArrowLeft")
    tab_to(page, lambda f: f["id"] == "query")
    page.keyboard.type("a cup of coffee")
    page.keyboard.press("Enter")
    expect(page.locator(".card.best .name")).to_have_text("coffee.jpg")

    tab_to(page, lambda f: f["name"] == "Copy the alt text of coffee.jpg")
    page.keyboard.press("Enter")
    expect(card(page, "coffee.jpg").locator(".copied")).to_have_text("Copied the alt text of coffee.jpg.")
    assert page.evaluate("() => navigator.clipboard.readText()") == api_description(server, files["coffee.jpg"])


# Rules that must have run and passed in some state, so that what axe could not check does not pass by default.
MUST_PASS = {"color-contrast", "label", "image-alt", "button-name", "target-size", "html-lang-valid", "region"}


def run_axe(page: Page) -> dict:
    page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated by the driver: the page's CSP allows no inline script
    assert page.evaluate("() => axe.version") == AXE_VERSION
    found = page.evaluate(
        """async () => {
            const results = await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
            });
            return {
                passed: results.passes.map((rule) => rule.id),
                violations: results.violations.map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" "))})),
            };
        }"""
    )
    return found


@pytest.mark.parametrize(("locale", "width"), [("en-US", 1100), ("ko-KR", 375)])
def test_axe_finds_no_serious_or_critical_violation(server, files, pages, locale, width, capsys):
    page = pages(server, locale=locale, width=width)
    found = {"empty page": run_axe(page)}
    page.locator("#files").set_input_files([files["chelsea.jpg"], files["coffee.jpg"], files["notes.txt"]])
    wait_answered(page, 3)
    page.locator("#query").fill("고양이 사진을 찾아 줘")
    page.locator("#query").press("Enter")
    expect(page.locator(".card.best")).to_have_count(1)
    page.locator("#key-box summary").click()
    found["photos, an error, a search, the key field"] = run_axe(page)
    with capsys.disabled():
        for state, result in found.items():
            print(f"\naxe {AXE_VERSION} ({locale}, {width} px, {state}): {len(result['passed'])} rules passed, "
                  f"violations: {result['violations'] or 'none'}")
    assert MUST_PASS <= {rule for result in found.values() for rule in result["passed"]}
    for result in found.values():
        assert [v for v in result["violations"] if v["impact"] in ("serious", "critical")] == []


@pytest.mark.parametrize("width", [375, 640])  # a phone; 1280 px at 200% zoom
def test_page_reflows_without_sideways_scrolling(server, files, pages, width):
    page = pages(server, width=width, height=800)
    page.locator("#files").set_input_files([files["chelsea.jpg"], files["notes.txt"]])
    wait_answered(page, 2)
    search(page, "고양이 사진을 찾아 줘")
    expect(page.locator(".card.best")).to_have_count(1)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    wide = page.evaluate(
        f"""() => [...document.querySelectorAll("body *:not(#announcements, #announcements *, .skip)")]
            .filter((e) => e.getBoundingClientRect().right > {width} + 0.5).map((e) => e.tagName + "." + e.className)"""
    )
    assert wide == []


def test_docs_render_their_operations_with_no_network(server, browser):
    context = browser.new_context()
    refused = []

    def only_the_server(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    page = context.new_page()
    page.goto(f"{server}/docs")
    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible(timeout=20_000)
    shown = set(operations.all_text_contents())
    assert {"/v1/describe", "/v1/recommend", "/getAltText", "/health"} <= {p.replace("\u200b", "") for p in shown}
    assert refused == []
    context.close()

