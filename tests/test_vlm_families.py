"""Every popular vision-language family, as a tiny random model of its real classes: it loads, batches
photos of mixed shapes and languages exactly as it answers them one at a time, answers the same with
a static KV cache (after warm-up) as with a dynamic one, starts its prompts with one BOS, and is
served by a real `altgen serve`.

Families whose processors import torchvision run where torchvision is installed from the same build
as torch (docs/captioner.md: Vision-language models); elsewhere they are skipped with that reason."""

from __future__ import annotations

import importlib.util

import pytest
import requests
from PIL import Image
from skimage import data as skdata

from altgen.captioning.contract import CaptionRequest
from altgen.model.vlm.transformers_captioner import TransformersCaptioner
from test_end_to_end import start_server
from vlm_families import FAMILIES

HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None


def family_params() -> list:
    return [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                family.needs_torchvision and not HAS_TORCHVISION, reason="its processor needs torchvision ('.[vlm]')"
            ),
        )
        for name, family in FAMILIES.items()
    ]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict:
    return {}


@pytest.fixture(params=family_params())
def folder(request, folders, tmp_path_factory):
    """The family's folder, built once per test session."""
    name = request.param
    if name not in folders:
        folders[name] = FAMILIES[name].build(tmp_path_factory.mktemp(name) / "model")
    return folders[name]


def mixed_requests() -> list[CaptionRequest]:
    """A square-ish, a very wide and a tall photo; English and Korean; short and long text."""
    cat = Image.fromarray(skdata.chelsea())
    wide = Image.fromarray(skdata.coffee()).resize((1200, 200))
    tall = Image.fromarray(skdata.astronaut()).resize((150, 600))
    return [CaptionRequest(cat, "en"), CaptionRequest(wide, "ko"), CaptionRequest(tall, "en", detail="long")]


def captioner(folder, kv_cache: str) -> TransformersCaptioner:
    return TransformersCaptioner(
        str(folder), "cpu", max_new_tokens=6, long_max_new_tokens=9, kv_cache=kv_cache, max_batch_size=4
    )


def test_a_mixed_batch_equals_one_photo_at_a_time(folder):
    model = captioner(folder, "dynamic")
    requests_ = mixed_requests()
    batched = model.generate_raw(requests_)
    assert batched == [model.generate_raw([one])[0] for one in requests_]
    assert model.generate_raw([model.preprocess(one) for one in requests_]) == batched
    assert all(batched)


def test_the_static_cache_after_warm_up_answers_like_the_dynamic_one(folder):
    static = captioner(folder, "static")
    static.warm_up()
    assert static.warm_up_seconds  # every bucket was compiled before the service would say ready
    requests_ = mixed_requests()
    assert static.generate_raw(requests_) == captioner(folder, "dynamic").generate_raw(requests_)


def test_prompts_hold_exactly_one_bos(folder):
    model = captioner(folder, "dynamic")
    bos = model.tokenizer.bos_token_id
    for request in mixed_requests():
        ids = model.preprocess(request).features["input_ids"][0].tolist()
        if bos is not None:  # families without one (Qwen's) have none to double
            assert ids.count(bos) == 1, ids[:8]


def test_served_by_altgen_serve(folder, tmp_path):
    process, base = start_server(tmp_path / "server.log", "--model", str(folder), "--max-new-tokens", "6")
    photo = tmp_path / "cat.jpg"
    Image.fromarray(skdata.chelsea()).save(photo)
    try:
        response = requests.post(f"{base}/getAltText", data={"Id": "i", "Hash": "h"},
                                 files={"Image": ("cat.jpg", photo.read_bytes())}, timeout=60)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert answer["Id"] == "i" and answer["Hash"] == "h" and answer["Description"].strip()


def test_families_trained_on_task_prefixes_get_them(tmp_path, caplog):
    florence = captioner(FAMILIES["florence-2"].build(tmp_path / "florence"), "dynamic")
    assert florence.prompts["ko", "alt"] == "<CAPTION>" and florence.prompts["en", "long"] == "<MORE_DETAILED_CAPTION>"
    assert "writes English only" in caplog.text
    paligemma = captioner(FAMILIES["paligemma"].build(tmp_path / "paligemma"), "dynamic")
    assert paligemma.prompts["ko", "alt"] == "<image>caption ko" and paligemma.prompts["en", "long"] == "<image>describe en"
