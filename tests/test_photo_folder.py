"""`altgen describe` on folders and `altgen find`, run in-process as a shell user runs them; HEIC and AVIF
through both APIs."""

from __future__ import annotations

import json
import threading
import time

import pytest
from conftest import EXPECTED_WORD, encode, noise_image
from PIL import Image

import altgen.composition
from altgen.captioning.contract import Captioner
from altgen.cli import main


class SlowCaptioner(Captioner):
    """Names each photo by its width, a fixed time per batch, one batch at a time."""

    name = "slow"
    device = "cpu"

    def __init__(self, seconds_per_batch: float):
        self.seconds_per_batch = seconds_per_batch
        self.lock = threading.Lock()

    def caption(self, requests):
        with self.lock:
            time.sleep(self.seconds_per_batch)
        return [f"a photo {request.image.width} wide." for request in requests]


@pytest.fixture
def quick_ranker(monkeypatch, ranker):
    monkeypatch.setattr(altgen.composition, "load_ranker", lambda _settings: ranker)


def test_a_folder_larger_than_the_queue_and_slower_than_the_deadline_gets_every_result(
    tmp_path, monkeypatch, quick_ranker, capsys
):
    """30 photos, a queue of 4 and 1 s for a request: the whole folder takes about 3 s, yet every photo is
    described (each has its own time limit and the CLI feeds the model at its pace); one broken file fails alone."""
    monkeypatch.setattr(altgen.composition, "load_captioner", lambda _settings, _device: SlowCaptioner(0.2))
    folder = tmp_path / "photos"
    (folder / "inner").mkdir(parents=True)
    for i in range(30):
        place = folder / "inner" if i % 3 == 0 else folder
        (place / f"IMG_{i:04d}.JPG").write_bytes(encode(noise_image(40 + i, 30)))
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.png").write_bytes(encode(noise_image(50, 50), "PNG")[:200])
    output = tmp_path / "results.jsonl"
    code = main([
        "describe", "--recursive", str(folder), "--output", str(output), "--queue-capacity", "4",
        "--max-batch-size", "2", "--request-timeout-s", "1", "--halve-rate", "1", "--devices", "cpu", "--log-level", "warning",
    ])
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    described = {row["file"]: row["description"] for row in rows if row["description"]}
    assert len(described) == 30
    assert described[str(folder / "inner" / "IMG_0003.JPG")] == "a photo 43 wide."  # the path as given
    assert [row["file"] for row in rows if row["error"]] == [str(folder / "broken.png")]  # notes.txt is no photo
    assert code == 1  # a photo failed
    assert "described 30, failed 1" in capsys.readouterr().err


def test_resume_skips_what_the_output_already_has(tmp_path, monkeypatch, quick_ranker):
    captioner = SlowCaptioner(0.0)
    calls = []
    monkeypatch.setattr(captioner, "caption", lambda requests: calls.append(len(requests)) or ["x."] * len(requests))
    monkeypatch.setattr(altgen.composition, "load_captioner", lambda _settings, _device: captioner)
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(encode(noise_image(20 + i, 20), "PNG"))
    output = tmp_path / "out.csv"
    output.write_text(f"file,description,error\n{tmp_path / '0.png'},earlier.,\n{tmp_path / '1.png'},,damaged\n")
    assert main(["describe", str(tmp_path), "-o", str(output), "--resume", "--devices", "cpu"]) == 0
    assert sum(calls) == 2  # 1.png failed before: tried again; 0.png was done
    assert output.read_text().count("\n") == 5


def test_find_describes_once_and_answers_in_korean_and_english(tmp_path, monkeypatch, photos, captioner, quick_ranker, capsys):
    monkeypatch.setattr(altgen.composition, "load_captioner", lambda _settings, _device: captioner)
    for name, data in photos.items():
        (tmp_path / f"{name}.jpg").write_bytes(data)
    flags = ["--cache-path", str(tmp_path / "cache" / "embeddings.sqlite3"), "--devices", "cpu"]
    assert main(["find", "고양이 사진 찾아 줘", str(tmp_path), *flags]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.split()[1].endswith("cat.jpg:") and EXPECTED_WORD["cat"] in first
    calls = []
    monkeypatch.setattr(captioner, "caption", lambda requests: calls.append(requests) or [])
    assert main(["find", "a cup of espresso", str(tmp_path), *flags]) == 0
    assert calls == []  # described from the stored descriptions
    assert capsys.readouterr().out.splitlines()[0].split()[1].endswith("coffee.jpg:")
    assert main(["find", "a red sports car", str(tmp_path), *flags]) == 0
    assert capsys.readouterr().out.startswith("no match")


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
async def test_phone_formats_through_both_apis(client, photos, fmt):
    data = encode(Image.open(__import__("io").BytesIO(photos["cat"])), fmt)
    legacy = await client.post("/getAltText", data={"Id": "u", "Hash": "h"}, files={"Image": ("IMG.HEIC", data)})
    assert legacy.status_code == 200 and EXPECTED_WORD["cat"] in legacy.json()[0]["Description"]
    v1 = await client.post("/v1/describe", files={"images": ("IMG.avif", data)})
    assert v1.status_code == 200 and EXPECTED_WORD["cat"] in v1.json()["results"][0]["description"]


def test_bad_flag_values_get_one_plain_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", "abc"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("altgen: error: --port: Input should be a valid integer") and "pydantic" not in error
