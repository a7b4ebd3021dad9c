"""A model that cannot load here is explained in one line (what is missing, how to install it), at
start-up of `altgen serve` and `altgen describe`, never as a traceback from inside transformers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from skimage import data as skdata
from transformers import LlamaConfig, Qwen2VLConfig

from altgen.errors import ModelUnavailable
from altgen.model.vlm.load_errors import explain
from altgen.model.vlm.transformers_captioner import TransformersCaptioner, load_processor
from random_vlms import byte_level_tokenizer
from test_end_to_end import free_port

TINY_TEXT = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
             "intermediate_size": 64}


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed here")
def test_a_processor_that_needs_torchvision_says_how_to_install_it(tmp_path):
    # A Qwen2-VL folder in the older hub layout (no video-processor file): its processor still needs torchvision.
    byte_level_tokenizer().save_pretrained(tmp_path)
    Qwen2VLConfig(text_config=TINY_TEXT).save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor"})
    )
    with pytest.raises(ModelUnavailable, match=r"needs torchvision, which is not installed.*\.\[vlm\]"):
        load_processor(str(tmp_path))


def test_a_torchvision_from_another_torch_build_is_named_as_such():
    # What transformers raises when torchvision's compiled operators do not match the torch build.
    try:
        try:
            raise RuntimeError("operator torchvision::nms does not exist")
        except RuntimeError as cause:
            raise ModuleNotFoundError("Could not import module 'AutoProcessor'.") from cause
    except ModuleNotFoundError as exc:
        message = str(explain("some/model", exc))
    assert "does not match torch" in message and "same place" in message, message


def test_a_text_only_model_is_not_taken_for_a_vision_language_model(tmp_path):
    byte_level_tokenizer().save_pretrained(tmp_path)
    LlamaConfig(vocab_size=400, **TINY_TEXT).save_pretrained(tmp_path)
    with pytest.raises(ModelUnavailable, match=r"\(LlamaConfig\) is not an image-text-to-text model"):
        TransformersCaptioner(str(tmp_path), "cpu")


def test_serve_and_describe_say_why_they_cannot_start(tmp_path):
    missing = str(tmp_path / "no-such-model")
    photo = f"{skdata.data_dir}/chelsea.png"
    serve = subprocess.run([sys.executable, "-m", "altgen", "serve", "--port", str(free_port()), "--model", missing],
                           capture_output=True, text=True, timeout=120)
    describe = subprocess.run([sys.executable, "-m", "altgen", "describe", "--model", missing, photo],
                              capture_output=True, text=True, timeout=120)
    assert serve.returncode == 3 and describe.returncode == 2
    for output in (serve.stderr, describe.stderr):
        assert f"cannot start: {missing}: no such folder" in output, output
        assert "Traceback" not in output, output
    assert describe.stdout == ""
