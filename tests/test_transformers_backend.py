"""The Hugging Face backend on a tiny random LLaVA, loaded from a folder through the same code a hub id takes."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skdata  # noqa: E402

from altgen.captioning.contract import CaptionRequest  # noqa: E402
from altgen.model.vlm.transformers_captioner import TransformersCaptioner  # noqa: E402
from random_vlms import save_random_llava, save_tiny_blip, save_tiny_blip2  # noqa: E402


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    return save_random_llava(tmp_path_factory.mktemp("tiny-llava"))


@pytest.fixture(scope="module")
def llava(tiny_llava):
    return TransformersCaptioner(str(tiny_llava), "cpu", max_new_tokens=8, min_new_tokens=8)


def photos() -> list[Image.Image]:
    return [Image.fromarray(skdata.chelsea()), Image.fromarray(skdata.coffee()), Image.fromarray(skdata.astronaut())]


@pytest.fixture(scope="module")
def blip(tmp_path_factory):
    folder = save_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))
    return TransformersCaptioner(str(folder), "cpu", max_new_tokens=6, min_new_tokens=6)


@pytest.fixture(scope="module")
def blip2(tmp_path_factory):
    folder = save_tiny_blip2(tmp_path_factory.mktemp("tiny-blip2"))
    return TransformersCaptioner(str(folder), "cpu", max_new_tokens=6, min_new_tokens=6)


FAMILIES = ["llava", "blip", "blip2"]


@pytest.mark.parametrize(("family", "new_tokens"), [("llava", 8), ("blip", 6), ("blip2", 6)])
def test_exactly_the_new_tokens_are_returned(request, family, new_tokens):
    # min_new_tokens == max_new_tokens, so every row must hold exactly that many new tokens: no prompt
    # token left in, no generated token cut off (BLIP echoes its prompt one token shorter than its input).
    captioner = request.getfixturevalue(family)
    rows = captioner.generate_tokens([CaptionRequest(image) for image in photos()])
    assert [len(row) for row in rows] == [new_tokens] * 3


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_generation_equals_one_at_a_time(request, family):
    captioner = request.getfixturevalue(family)
    # Mixed languages give prompts of different lengths, so the batch is really left-padded.
    requests = [CaptionRequest(image, language) for image, language in zip(photos(), ["en", "ko", "en"])]
    batched = captioner.generate_raw(requests)
    single = [captioner.generate_raw([one])[0] for one in requests]
    assert batched == single
    assert all(text for text in batched)


@pytest.mark.parametrize("family", FAMILIES)
def test_photos_preprocessed_on_request_threads_collate_into_the_processors_batch(request, family):
    from concurrent.futures import ThreadPoolExecutor

    from altgen.model.vlm.transformers_captioner import collate_padded

    captioner = request.getfixturevalue(family)
    requests = [CaptionRequest(image, language) for image, language in zip(photos(), ["en", "ko", "en"])]
    with ThreadPoolExecutor(3) as pool:  # each thread uses its own processor copy
        preprocessed = list(pool.map(captioner.preprocess, requests))
    collated = collate_padded([r.features for r in preprocessed], captioner.tokenizer.pad_token_id)
    direct = captioner._inputs(requests)
    assert collated.keys() == direct.keys()
    assert captioner.generate_raw(preprocessed) == captioner.generate_raw(requests)
    if family != "blip2":  # BLIP-2's processor pads between its image tokens and the text; this pads before both
        for key in direct:
            assert torch.equal(collated[key], direct[key]), key


def test_features_that_differ_in_shape_fall_back_to_the_processor():
    from altgen.model.vlm.transformers_captioner import collate_padded

    tiles = [{"input_ids": torch.ones(1, 3, dtype=torch.long), "pixel_values": torch.zeros(1, n, 3, 8, 8)} for n in (2, 5)]
    assert collate_padded(tiles, pad_token_id=0) is None


def test_mixed_details_share_a_batch_and_keep_their_own_budgets(tiny_llava):
    captioner = TransformersCaptioner(
        str(tiny_llava), "cpu", max_new_tokens=3, long_max_new_tokens=7, min_new_tokens=7
    )
    requests = [CaptionRequest(image, "en", detail) for image, detail in zip(photos(), ["alt", "long", "alt"])]
    rows = captioner.generate_tokens(requests)
    assert [len(row) for row in rows] == [3, 7, 3]
    # A photo's text does not depend on its batch-mates: the same as when it runs alone.
    assert captioner.generate_raw(requests) == [captioner.generate_raw([one])[0] for one in requests]
    assert captioner._prompt("en", "long") != captioner._prompt("en", "alt")


def test_static_cache_pads_to_a_bucket_and_answers_like_the_dynamic_cache(tiny_llava, llava):
    static = TransformersCaptioner(
        str(tiny_llava), "cpu", max_new_tokens=8, min_new_tokens=8, kv_cache="static", max_batch_size=6
    )
    assert static.buckets == [1, 2, 4, 6]
    static.warm_up()  # sizes the cache for the longest prompt and budget, runs every bucket
    requests = [CaptionRequest(image, language) for image, language in zip(photos(), ["en", "ko", "en"])]
    assert len(static._padded(requests)) == 4
    assert static.generate_raw(requests) == llava.generate_raw(requests)


def test_generation_stops_at_a_stop_string(tiny_llava, monkeypatch):
    from altgen.model.vlm import transformers_captioner

    captioner = TransformersCaptioner(str(tiny_llava), "cpu", max_new_tokens=24)
    request = CaptionRequest(photos()[0])
    unstopped = captioner.generate_raw([request])[0]
    stop = unstopped[len(unstopped) // 2 :][:3]  # a piece from the middle of the free-running text
    monkeypatch.setattr(transformers_captioner, "STOP_STRINGS", [stop])
    stopped = captioner.generate_raw([request])[0]
    assert len(stopped) < len(unstopped)
    assert stop in stopped and unstopped.startswith(stopped)


def test_generation_is_deterministic_and_cleaned(llava):
    requests = [CaptionRequest(image) for image in photos()]
    first, second = llava.caption(requests), llava.caption(requests)
    assert first == second
    for text in first:
        assert "ASSISTANT" not in text and "###" not in text
        assert len(text) <= 151


def test_prompt_goes_through_the_chat_template(llava, blip):
    prompt = llava._prompt("en", "alt")
    assert prompt.startswith("USER: <image>") and prompt.endswith("ASSISTANT:")
    assert "alt text" in prompt
    assert blip._prompt("en", "alt").startswith("Write alt text")  # no chat template: the bare instruction


async def test_service_runs_the_backend_on_two_cpu_devices(make_client, tiny_llava, photos):
    from altgen.composition import load_captioner

    async with make_client(
        captioner_factory=load_captioner, model=str(tiny_llava), devices="cpu,cpu", max_new_tokens=4, max_batch_wait_ms=0,
        max_batch_size=1,
    ) as client:
        data = {"Id": "i", "Hash": [f"h{i}" for i in range(6)]}
        files = {f"Image{i}": ("p.jpg", photos["cat"]) for i in range(6)}
        response = await client.post("/getAltTexts", data=data, files=files)
        assert response.status_code == 200
        assert [item["Hash"] for item in response.json()] == data["Hash"]
        service = client.app.state.service
        assert [c.name for c in service.captioning.captioners] == [str(tiny_llava)] * 2
        registry = service.metrics.registry
        assert registry.get_sample_value("altgen_inference_seconds_count", {"device": "cpu#0"}) >= 1
        assert registry.get_sample_value("altgen_inference_seconds_count", {"device": "cpu#1"}) >= 1


def test_chosen_compiled_batch_sizes_always_end_at_the_cap():
    from altgen.model.vlm.transformers_captioner import batch_buckets

    assert batch_buckets(64) == [1, 2, 4, 8, 16, 32, 64]
    assert batch_buckets(5) == [1, 2, 4, 5]
    assert batch_buckets(64, [1, 64]) == [1, 64]
    assert batch_buckets(8, [2, 16]) == [2, 8]  # above the cap is dropped; the cap always has a bucket


def test_dummy_load_format_builds_random_weights_from_config_and_processor_files(tmp_path):
    folder = save_random_llava(tmp_path / "shape-only", weights=False)
    assert not list(folder.glob("*.safetensors")) and (folder / "config.json").exists()
    from altgen.errors import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="no file named model.safetensors"):  # the ordinary load needs weights
        TransformersCaptioner(str(folder), "cpu", load_format="auto")
    captioner = TransformersCaptioner(str(folder), "cpu", max_new_tokens=5, min_new_tokens=5, load_format="dummy")
    assert type(captioner.model).__name__ == "LlavaForConditionalGeneration"
    assert captioner.model.config.text_config.hidden_size == 32
    assert all(parameter.device.type == "cpu" and parameter.dtype == torch.float32 for parameter in captioner.model.parameters())
    requests = [CaptionRequest(image, language) for image, language in zip(photos(), ["en", "ko", "en"])]
    assert [len(row) for row in captioner.generate_tokens(requests)] == [5, 5, 5]
    assert captioner.generate_raw(requests) == [captioner.generate_raw([one])[0] for one in requests]


def test_compiled_batch_sizes_setting_is_checked():
    from pydantic import ValidationError

    from altgen.settings import Settings

    assert Settings(compiled_batch_sizes="1, 8,64").compiled_batch_size_list() == [1, 8, 64]
    assert Settings().compiled_batch_size_list() == []
    for bad in ("0", "a,b", "4,-1", "2000"):
        with pytest.raises(ValidationError, match="compiled_batch_sizes"):
            Settings(compiled_batch_sizes=bad)


def test_a_template_that_writes_bos_gets_exactly_one(tmp_path):
    folder = save_random_llava(tmp_path / "bos", bos_in_template=True)
    captioner = TransformersCaptioner(str(folder), "cpu", max_new_tokens=3, min_new_tokens=3)
    bos = captioner.tokenizer.bos_token_id
    assert captioner.tokenizer("x")["input_ids"][0] == bos  # the tokenizer adds one by itself
    assert captioner._prompt("en").startswith("<s>")  # and so does the template
    for language in ("en", "ko"):
        features = captioner.preprocess(CaptionRequest(photos()[0], language)).features
        ids = features["input_ids"][0].tolist()
        assert ids[0] == bos and ids[1] != bos, ids[:4]
    batch = captioner._inputs([CaptionRequest(image, language) for image, language in zip(photos(), ["en", "ko", "en"])])
    first_real = [row[row != captioner.tokenizer.pad_token_id][:2].tolist() for row in batch["input_ids"]]
    assert all(ids[0] == bos and ids[1] != bos for ids in first_real), first_real


def test_training_labels_from_a_processor_never_reach_generate():
    from altgen.model.vlm.transformers_captioner import model_inputs

    features = {"input_ids": torch.ones(1, 3, dtype=torch.long), "labels": torch.full((1, 3), -100)}
    assert set(model_inputs(features)) == {"input_ids"}


def test_the_dtype_setting_chooses_the_models_precision(tiny_llava):
    captioner = TransformersCaptioner(str(tiny_llava), "cpu", max_new_tokens=4, dtype="bfloat16")
    assert next(captioner.model.parameters()).dtype == torch.bfloat16
    assert all(captioner.generate_raw([CaptionRequest(photos()[0])]))
