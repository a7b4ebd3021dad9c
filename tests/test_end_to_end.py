"""A real `altgen serve` process on loopback, driven by the legacy clients' own code (CONTRACT.md)."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_path: Path, *flags: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "altgen", "serve", "--host", "127.0.0.1", "--port", str(port), "--devices", "cpu", *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()
        try:
            if requests.get(f"{base}/ready", timeout=1).status_code == 200:
                return process, base
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail("server did not become ready:\n" + log_path.read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process, base = start_server(tmp_path_factory.mktemp("server") / "server.log", "--max-batch-wait-ms", "20")
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


# ---- the clients' code, as the old README and CONTRACT.md quote it ----------------------------
def makeDescription(url, Img, Hash, Id):
    with open(Img, 'rb') as img_file:
        data = {'Id' : Id, 'Hash': Hash}
        files = {'Image': img_file}
        res = requests.post(url, data=data, files=files)
        result = json.loads(res.content)
        return result


def send_request(url, images_subset):
    data = {
        'Id': 'SaGol',
        'Hash': [os.path.splitext(image)[0] for image in images_subset]
    }
    files = {}
    for i, image in enumerate(images_subset, start=1):
        with open(image, 'rb') as img_file:
            files[f'Image{i}'] = (image, img_file.read())

    response = requests.post(url, data=data, files=files)

    json_data = response.content.decode('UTF-8')
    data = json.loads(json_data)

    return data


def recommendImages(url, userText, pairs):
    data = {'userText' : userText, 'data': json.dumps(pairs)}
    result = requests.post(url, data = data)
    return result.content.decode("UTF-8")[1:-1]


def config(url, halve, min_size):
    data = {'halve' : halve, 'min_size': min_size}
    res = requests.post(url, data=data)
    result = json.loads(res.content)
    return result
# -------------------------------------------------------------------------------------------------


def test_legacy_clients_work_verbatim(server, photo_dir, monkeypatch):
    monkeypatch.chdir(photo_dir)
    [cat] = makeDescription(f"{server}/getAltText", photo_dir / "chelsea.jpg", "21123dasdasd12e", "Sagol")
    assert cat["Hash"] == "21123dasdasd12e" and cat["Id"] == "Sagol" and "cat" in cat["Description"]

    described = send_request(f"{server}/getAltTexts", ["chelsea.jpg", "coffee.png", "camera.jpg"])
    assert [d["Hash"] for d in described] == ["chelsea", "coffee", "camera"]
    assert "cat" in described[0]["Description"] and "espresso" in described[1]["Description"]

    combined = []
    for file in sorted(photo_dir.iterdir()):
        combined.extend(makeDescription(f"{server}/getAltText", file, file.name, "Hcail"))
    assert recommendImages(f"{server}/getBestPictures", " 고양이 사진을 찾아 줘.", combined) == "chelsea.jpg"
    assert recommendImages(f"{server}/getBestPictures", "coffee please", combined) == "coffee.png"

    assert config(f"{server}/config", 0.1, 100) == {"halve_rate": 0.1, "min_size": 100}
    timed = requests.post(
        f"{server}/getAltText_time", data={"Id": "x", "Hash": "cat"}, files={"Image": open(photo_dir / "chelsea.jpg", "rb")}
    ).json()
    assert timed[0]["original_size"] == [451, 300] and timed[0]["resized"] == [150, 100]
    assert config(f"{server}/config", 0.5, 10) == {"halve_rate": 0.5, "min_size": 10}


def test_errors_come_back_as_json_with_status(server):
    response = requests.post(f"{server}/getAltText", data={"Id": "x", "Hash": "h"}, files={"Image": ("a.txt", b"text")})
    assert response.status_code == 415 and "a.txt" in response.json()["error"]
    response = requests.post(f"{server}/config", data={"halve": "0.5", "min_size": "-1"})
    assert response.status_code == 422 and "min_size" in response.json()["error"]


def test_serve_does_not_import_ray_unless_its_engine_is_ray():
    """Ray is an optional extra: the default engine starts (up to the HTTP server) without importing it."""
    code = (
        "import sys, uvicorn; uvicorn.run = lambda app, **options: None; from altgen.cli import main; main(['serve']); "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'ray'], 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_describe_command_prints_descriptions_and_refuses_non_images(photo_dir, tmp_path):
    (tmp_path / "notes.txt").write_text("not a photo")
    result = subprocess.run(
        [sys.executable, "-m", "altgen", "describe", str(photo_dir / "chelsea.jpg"), str(tmp_path / "notes.txt"),
         "--devices", "cpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1  # one of the two files was not a photo
    assert result.stdout == f"{photo_dir / 'chelsea.jpg'}: Image may contain: a cat.\n"  # results only, the path as given
    assert "notes.txt" in result.stderr and "not a recognised image" in result.stderr


def test_describe_checks_files_before_loading_a_model_and_can_answer_json(photo_dir, tmp_path):
    started = time.monotonic()
    missing = subprocess.run([sys.executable, "-m", "altgen", "describe", str(tmp_path / "nope.jpg")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "nope.jpg: error: no such file or folder" in missing.stderr and missing.stdout == ""
    assert time.monotonic() - started < 3  # said at once, no model loaded
    result = subprocess.run(
        [sys.executable, "-m", "altgen", "describe", "--json", "--lang", "ko", str(photo_dir / "chelsea.jpg"),
         str(tmp_path / "nope.jpg")],
        capture_output=True, text=True, timeout=120,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["file"].rsplit("/", 1)[-1]: (line["description"], line["error"] is None) for line in lines} == {
        "nope.jpg": (None, False),
        "chelsea.jpg": ("사진에 있을 수 있는 것: 고양이.", True),
    }
    help_text = subprocess.run([sys.executable, "-m", "altgen", "describe", "--help"], capture_output=True, text=True).stdout
    assert "--model" in help_text and "--api-keys" not in help_text and "--max-connections" not in help_text


def test_sigterm_finishes_admitted_requests_then_exits(photo_dir, tmp_path):
    process, base = start_server(tmp_path / "server.log", "--max-batch-size", "2", "--shutdown-grace-s", "60")
    photo = (photo_dir / "chelsea.jpg").read_bytes()

    def post_six(index: int) -> tuple[int, str]:
        files = {f"Image{i}": ("c.jpg", photo) for i in range(6)}
        data = {"Id": str(index), "Hash": [f"{index}-{i}" for i in range(6)]}
        response = requests.post(f"{base}/getAltTexts", data=data, files=files, timeout=120)
        assert response.status_code != 200 or len(response.json()) == 6
        return response.status_code, response.headers.get("connection", "")

    idle = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=30)
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):  # the whole answer, so that nothing of it is left to read later
        first += idle.recv(4096)
    assert b" 200 " in first  # a keep-alive connection, idle when SIGTERM comes

    try:
        with ThreadPoolExecutor(8) as pool:
            pending = [pool.submit(post_six, i) for i in range(8)]
            deadline = time.monotonic() + 30
            while b"altgen_queue_depth 0.0" in requests.get(f"{base}/metrics").content:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            process.send_signal(signal.SIGTERM)
            outcomes = [future.result() for future in pending]
            assert idle.recv(4096) == b""  # the idle connection is closed cleanly, not reset
        assert process.wait(timeout=60) == 0  # a planned shutdown is a success
    finally:
        process.kill()
        idle.close()
    codes = [code for code, _connection in outcomes]
    log = (tmp_path / "server.log").read_text()
    answered = log.count('"path": "/getAltTexts", "status": 200')
    assert answered == codes.count(200) and answered >= 1, log  # every admitted request was answered
    assert set(codes) == {200}, (codes, log)
    # Answers finished after SIGTERM tell the client to close (no reuse of a dying socket).
    assert any(connection.lower() == "close" for _code, connection in outcomes), outcomes
    assert "Application shutdown complete" in log


def test_a_request_still_running_when_the_grace_ends_gets_json_503_and_the_exit_is_clean(tmp_path):
    process, base = start_server(tmp_path / "server.log", "--shutdown-grace-s", "1")
    # Hundreds of new descriptions: seconds of embedding, far past the one-second grace.
    candidates = [{"id": str(i), "description": f"photo {i}: " + "a red kite over a grey beach near the pier " * 5}
                  for i in range(600)]

    def search() -> requests.Response:
        return requests.post(f"{base}/v1/recommend", json={"query": "kite", "candidates": candidates},
                             headers={"X-Request-ID": "late-1"}, timeout=60)

    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(search)
            time.sleep(2)  # well into its embedding
            process.send_signal(signal.SIGTERM)
            response = pending.result()
        code = process.wait(timeout=60)
    finally:
        process.kill()
    log = (tmp_path / "server.log").read_text()
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["retry-after"] == "1" and response.headers["x-request-id"] == "late-1"
    assert response.json()["request_id"] == "late-1" and "shutting down" in response.json()["error"]
    assert code == 0
    assert "Traceback" not in log and " ERROR " not in log, log


def test_a_vision_language_model_served_for_real(photo_dir, tmp_path):
    """A tiny random LLaVA from a folder, static KV cache (warmed up before /ready), many clients at once."""
    from random_vlms import save_random_llava

    folder = save_random_llava(tmp_path / "tiny-llava")
    flags = ["--model", str(folder), "--kv-cache", "static", "--max-batch-size", "4", "--max-batch-wait-ms", "20",
             "--max-new-tokens", "6", "--long-max-new-tokens", "12"]
    process, base = start_server(tmp_path / "server.log", *flags)
    options = [{"lang": "en", "detail": "alt"}, {"lang": "ko", "detail": "long"}] * 4
    photo = (photo_dir / "chelsea.jpg").read_bytes()

    def describe(form: dict) -> tuple[int, str]:
        response = requests.post(f"{base}/v1/describe", data=form, files={"images": ("c.jpg", photo)}, timeout=120)
        return response.status_code, response.json()

    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(describe, options))
        metrics = requests.get(f"{base}/metrics").text
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert [status for status, _ in answers] == [200] * 8, answers
    texts = [body["results"][0]["description"] for _, body in answers]
    assert answers[0][1]["model"] == str(folder)
    assert len(set(texts[0::2])) == 1 and len(set(texts[1::2])) == 1  # same photo, same options: same text
    assert "altgen_batch_size_count" in metrics


def test_a_real_architecture_served_from_its_config_alone(photo_dir, tmp_path):
    """load_format=dummy: config and processor files only, random weights built at start; only the chosen
    batch sizes are compiled (warmed up) before /ready."""
    from random_vlms import save_random_llava

    folder = save_random_llava(tmp_path / "shape-only", weights=False)
    flags = ["--model", str(folder), "--load-format", "dummy", "--kv-cache", "static", "--max-batch-size", "4",
             "--compiled-batch-sizes", "2", "--max-new-tokens", "4", "--log-level", "info"]
    process, base = start_server(tmp_path / "server.log", *flags)
    try:
        response = requests.post(f"{base}/getAltText", data={"Id": "i", "Hash": "c.jpg"},
                                 files={"Image": ("c.jpg", (photo_dir / "chelsea.jpg").read_bytes())}, timeout=60)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert answer["Hash"] == "c.jpg" and answer["Id"] == "i" and isinstance(answer["Description"], str)
    log = (tmp_path / "server.log").read_text()
    assert "batch size 2 ready" in log and "batch size 4 ready" in log and "batch size 1 ready" not in log, log


def test_three_requests_of_sixteen_huge_webps_stay_within_a_gigabyte(tmp_path):
    """16 WebPs of 7000x7000 (87 KB each) three requests at once once peaked at +1.8 GB and kept +0.6 GB."""
    import io
    import threading

    buffer = io.BytesIO()
    Image.new("RGB", (7000, 7000), (120, 160, 200)).save(buffer, "WEBP", quality=80)
    huge = buffer.getvalue()
    process, base = start_server(tmp_path / "server.log")

    def resident_mb() -> float:
        return int(Path(f"/proc/{process.pid}/statm").read_text().split()[1]) * 4096 / 2**20

    def describe_sixteen(_index: int) -> int:
        files = [(f"Image{i}", (f"w{i}.webp", huge)) for i in range(16)]
        form = {"Id": "i", "Hash": [str(i) for i in range(16)]}
        return requests.post(f"{base}/getAltTexts", data=form, files=files, timeout=120).status_code

    settled, peak, done = resident_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident_mb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    try:
        sampler.start()
        with ThreadPoolExecutor(3) as pool:
            statuses = list(pool.map(describe_sixteen, range(3)))
        time.sleep(1)
        done.set()
        sampler.join()
        after = resident_mb()
    finally:
        done.set()
        process.kill()
    assert statuses == [200, 200, 200]
    assert peak[0] - settled <= 1000, (settled, peak[0])
    assert after - settled <= 400, (settled, after)
