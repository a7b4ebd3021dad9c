"""The text reader: what it reads, what it leaves out, what it costs on odd input, and the search by
the words it read, through the HTTP API."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data as skdata

from altgen.model.classifier.faces import FaceCounter
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner
from altgen.model.ocr.text_reader import TextLine, TextReader, reading_order
from altgen.model.ocr.text_words import title_first, with_text
from altgen.ranking.words import quoted_scores, quoted_text, text_request_tokens
from tests.conftest import encode

NANUM = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")


def font(size: int, korean: bool = False) -> ImageFont.FreeTypeFont:
    if korean:
        if not NANUM.is_file():
            pytest.skip("fonts-nanum is not installed")
        return ImageFont.truetype(str(NANUM), size)
    return ImageFont.load_default(size=size)


def page(lines: list[tuple[str, int]], size=(1000, 600), korean=False) -> Image.Image:
    """A screen-like page: dark text on white, one (text, font size) a row."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    top = 30
    for text, points in lines:
        draw.text((40, top), text, font=font(points, korean), fill=(20, 20, 20))
        top += int(points * 1.8)
    return image


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader()


@pytest.fixture(scope="module")
def reading_captioner(reader) -> ImageNetCaptioner:
    return ImageNetCaptioner(faces=FaceCounter(), text_reader=reader)


def test_reads_english_lines_in_reading_order(reader):
    image = page([("Garden Party", 64), ("Saturday at noon", 36), ("Bring a friend", 36)])
    lines = reader.read([image])[0]
    assert [line.text for line in lines] == ["Garden Party", "Saturday at noon", "Bring a friend"]
    assert all(line.confidence >= reader.line_confidence for line in lines)


def test_reads_korean_lines_when_tesseract_korean_is_installed(reader):
    if reader.korean is None:
        pytest.skip("tesseract-ocr-kor is not installed")
    image = page([("고슴도치 먹이 주는 방법", 48), ("서울 지하철 안내", 36)], korean=True)
    texts = [line.text for line in reader.read([image])[0]]
    assert "고슴도치 먹이 주는 방법" in texts


def test_korean_is_read_on_several_threads_at_once_with_the_same_words(reader):
    """Each photo thread has its own Tesseract engine (an engine is not thread-safe; one behind a lock left
    photo threads waiting): four threads reading at once get what one thread reads alone."""
    from concurrent.futures import ThreadPoolExecutor

    if reader.korean is None:
        pytest.skip("Tesseract's Korean data is not installed (apt-get install tesseract-ocr-kor)")
    line = np.asarray(page([("고슴도치 먹이 주는 방법", 48)], size=(700, 90), korean=True).convert("L"))
    alone = reader.korean.words(line)
    assert [w for w, _ in alone] == ["고슴도치", "먹이", "주는", "방법"]
    with ThreadPoolExecutor(max_workers=4) as threads:
        together = list(threads.map(lambda _: reader.korean.words(line), range(16)))
    assert together == [alone] * 16


def test_a_text_free_photo_stops_at_detection_and_claims_no_text(reader, reading_captioner):
    cat = Image.fromarray(skdata.chelsea())
    assert reader.read([cat]) == [[]]
    from altgen.captioning.contract import CaptionRequest

    description = reading_captioner.describe([CaptionRequest(cat)])[0]
    assert "\u201c" not in description and "cat" in description


def test_the_reader_never_opens_a_network_connection(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("the text reader tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    reader = TextReader(korean=False)
    assert reader.read([page([("No downloads", 60)])])[0][0].text == "No downloads"


def test_title_is_the_first_line_about_as_tall_as_the_tallest():
    lines = [TextLine("menu", 0.9, (0, 0, 50, 10)), TextLine("Heading", 0.9, (0, 20, 200, 60)),
             TextLine("Body text", 0.9, (0, 70, 200, 80))]
    assert [line.text for line in title_first(lines)] == ["Heading", "menu", "Body text"]
    side_by_side = [TextLine("right", 0.9, (300, 0, 400, 20)), TextLine("left", 0.9, (0, 2, 100, 22))]
    assert [line.text for line in reading_order(side_by_side)] == ["left", "right"]


def test_words_quote_the_text_as_written_and_say_screenshot():
    image = page([("Release notes", 60), ("Version two", 30), ("Fixed bugs", 30)])
    lines = [TextLine("Release notes", 0.99, (40, 30, 400, 90)), TextLine("Version two", 0.99, (40, 140, 300, 170)),
             TextLine("Fixed bugs", 0.99, (40, 200, 300, 230))]
    english = with_text("Image may contain: a web site.", image, lines, "en", "alt")
    assert english == "A screenshot titled \u201cRelease notes\u201d. Text: \u201cVersion two\u201d, \u201cFixed bugs\u201d."
    korean = with_text("사진에 있을 수 있는 것: 웹사이트.", image, lines, "ko", "alt")
    assert korean.startswith("\u201cRelease notes\u201d 제목의 스크린샷.")
    photo = Image.fromarray(skdata.coffee())
    sign = with_text("Image may contain: a street sign.", photo, lines[:1], "en", "alt")
    assert sign == "Image may contain: a street sign. Text: \u201cRelease notes\u201d."


def test_alt_text_keeps_what_fits_and_the_long_description_more():
    image = Image.new("RGB", (800, 800), "white")
    lines = [TextLine(f"Line number {i} of a long page", 0.99, (0, 30 * i, 300, 30 * i + 20)) for i in range(20)]
    alt = with_text("", image, lines, "en", "alt")
    long = with_text("", image, lines, "en", "long")
    assert quoted_text(alt).count("line number") < quoted_text(long).count("line number") <= 20
    assert len(alt) < 200


def test_requests_find_text_by_partial_words_in_either_script():
    descriptions = ["A screenshot titled \u201cRegion-based segmentation\u201d.", "Image may contain: a cat.",
                    "\u201c카자흐스탄 공화국\u201d 제목의 스크린샷."]
    quoted = [quoted_text(d) for d in descriptions]
    assert quoted_scores(text_request_tokens("the page about segment"), quoted).argmax() == 0
    assert quoted_scores(text_request_tokens("카자흐스탄 나온 스크린샷 보여 줘"), quoted).argmax() == 2
    assert not quoted_scores(text_request_tokens("the screenshot that says hello"), quoted).any()
    # A Latin word matches at the start of a word only: "ion" is no word of "segmentation".
    assert not quoted_scores(["ion"], quoted).any()


def test_odd_input_is_bounded(reader):
    """A 20,000-pixel-wide screenshot, a page of tiny print, vertical text: each answered in bounded time."""
    wide = Image.new("RGB", (20_000, 300), "white")
    ImageDraw.Draw(wide).text((100, 100), "Very wide banner", font=font(80), fill="black")
    tiny = Image.new("RGB", (1200, 1200), "white")
    draw = ImageDraw.Draw(tiny)
    for row in range(120):
        draw.text((5, row * 10), "tiny print " * 20, font=font(8), fill="black")
    vertical = Image.new("RGB", (200, 900), "white")
    column = Image.new("RGB", (800, 120), "white")
    ImageDraw.Draw(column).text((20, 10), "EXIT HERE", font=font(90), fill="black")
    vertical.paste(column.rotate(-90, expand=True), (40, 50))  # top to bottom, as on a book spine
    for image, longest_s in ((wide, 20), (tiny, 30), (vertical, 10)):
        start = time.monotonic()
        lines = reader.read([image])[0]
        assert time.monotonic() - start < longest_s
        assert len(lines) <= reader.max_lines
    assert any("EXIT" in line.text for line in reader.read([vertical])[0])


async def test_described_and_found_by_its_words_through_the_api(make_client, reading_captioner, photos):
    sign = page([("Harbour Ferry Timetable", 64), ("Departures every hour", 32), ("Platform four", 32)], size=(1400, 700))
    # A phone photo of it, turned by EXIF: the service turns it upright before reading.
    turned = sign.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    files = [("Image0", ("ferry.jpg", encode(turned, "JPEG", quality=95, exif=exif.tobytes()), "image/jpeg")),
             ("Image1", ("cat.jpg", photos["cat"], "image/jpeg")),
             ("Image2", ("coffee.jpg", photos["coffee"], "image/jpeg"))]
    async with make_client(captioner_factory=lambda _s, _d: reading_captioner) as client:
        response = await client.post("/getAltTexts", data={"Id": "t", "Hash": ["ferry", "cat", "coffee"]}, files=files)
        assert response.status_code == 200
        pairs = response.json()
        said = {pair["Hash"]: pair["Description"] for pair in pairs}
        assert "\u201cHarbour Ferry Timetable\u201d" in said["ferry"]
        assert "\u201c" not in said["cat"]
        for request in ("the screenshot that says ferry", "Timetable 화면 찾아 줘"):
            found = await client.post("/getBestPictures", data={"userText": request, "data": json.dumps(pairs)})
            assert found.json() == "ferry"


def test_a_huge_flat_image_costs_little_when_it_has_no_text(reader):
    blank = Image.fromarray(np.full((4000, 6000, 3), 200, np.uint8))
    start = time.monotonic()
    assert not reader.has_text(blank)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("name", ["coins", "horse", "colorwheel"])
def test_a_box_nearly_as_large_as_the_photo_is_texture_not_a_line(reader, name):
    """The detector outlines these text-free photos almost whole; such a box does not open the reader."""
    photo = Image.fromarray(getattr(skdata, name)()).convert("RGB")
    photo = photo.resize((320, round(320 * photo.height / photo.width)))
    assert len(reader._boxes(reader._gate, photo)) > 0
    assert not reader.has_text(photo)


def test_a_page_still_opens_the_reader(reader):
    assert reader.has_text(Image.fromarray(skdata.text()).convert("RGB"))
    assert reader.has_text(page([("Garden Party", 64), ("Saturday at noon", 36)]).resize((320, 192)))


async def test_a_phone_photo_is_classified_small_and_read_large(make_client, reading_captioner):
    """A 12-megapixel photo of a notice: the classifier and the gate get a 240-pixel copy; the words are read
    from the upload decoded again at reading size, off the model's thread."""
    notice = page([("Harbour Ferry Timetable", 150), ("Departures every hour", 80)], size=(4032, 3024))
    seen: list[tuple[int, int]] = []
    caption_scored = reading_captioner.caption_scored

    def recording(requests):
        seen.extend(request.image.size for request in requests)
        return caption_scored(requests)

    reading_captioner.caption_scored = recording  # what the model's thread runs
    try:
        async with make_client(captioner_factory=lambda _s, _d: reading_captioner) as client:
            response = await client.post("/v1/describe", files={"images": ("notice.jpg", encode(notice, "JPEG", quality=90))})
    finally:
        del reading_captioner.caption_scored
    assert response.status_code == 200
    assert "\u201cHarbour Ferry Timetable\u201d" in response.json()["results"][0]["description"]
    assert seen == [(320, 240)]
