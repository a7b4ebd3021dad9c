"""One settings object for the whole service; every field has an ``ALTGEN_*`` environment twin."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED = "embedded"
# Where a setting names an OpenAI-compatible engine instead of a model: openai:<base url>#<model>.
REMOTE_PREFIX = "openai:"
EXAMPLES = {
    "model": "openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf",
    "embedder": "openai:http://127.0.0.1:7997#intfloat/multilingual-e5-large",
}


def is_remote(setting: str) -> bool:
    return setting.strip().startswith(REMOTE_PREFIX)


@dataclass(frozen=True)
class EngineAddress:
    base_url: str  # the engine's OpenAI base URL, as its clients are given it (usually ending in /v1)
    model: str  # the model's name on the engine

    @classmethod
    def parse(cls, value: str, setting: str) -> EngineAddress:
        """``openai:<base url>#<model>``; anything else is refused with the rule and the setting's name."""

        def refuse(why: str, echo: bool = True) -> ValueError:
            given = f" = {value!r}" if echo else ""
            return ValueError(
                f"setting '{setting}' (ALTGEN_{setting.upper()}){given}: {why}; "
                f"the rule is openai:<base url>#<model>, e.g. {EXAMPLES[setting]}"
            )

        if not is_remote(value):
            raise refuse("does not start with 'openai:'")
        base, separator, model = value.strip()[len(REMOTE_PREFIX) :].partition("#")
        if not separator or not model.strip():
            raise refuse("no model name after '#'")
        try:
            parts = urlsplit(base)
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError as exc:
            raise refuse(f"the base URL cannot be read ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise refuse("the base URL must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise refuse("the base URL must not carry credentials: give the key in ALTGEN_ENGINE_API_KEY", echo=False)
        if parts.query:
            raise refuse("the base URL must not have a query")
        return cls(base.rstrip("/"), model.strip())

    def __str__(self) -> str:
        return f"{REMOTE_PREFIX}{self.base_url}#{self.model}"


# The /config rule's limits, written once: the settings, the route and its OpenAPI schema all take them from here.
HalveRate = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
MinSize = Annotated[int, Field(ge=1, le=4096)]


class ResizeConfig(BaseModel):
    """The runtime part of the settings that the legacy ``/config`` route edits."""

    halve_rate: HalveRate = Field(0.5, description="Scale factor applied to each side before captioning.")
    min_size: MinSize = Field(10, description="Smallest width/height in pixels after scaling.")


RESIZE_DEFAULTS = ResizeConfig()


class Settings(BaseSettings):
    # A refused value is not echoed: it may hold a key (api_keys, engine_api_key, a key pasted into an openai: URL).
    model_config = SettingsConfigDict(env_prefix="ALTGEN_", extra="ignore", hide_input_in_errors=True)

    engine: Literal["inprocess", "ray"] = Field(
        "inprocess",
        description="'inprocess': the models run in this process, one consumer per device; 'ray': the same API as a "
        "Ray Serve application, captioner replicas placed and scaled by Ray (pip install 'altgen[ray]'; docs/ray.md).",
    )
    host: str = Field("0.0.0.0", description="Address the HTTP server binds to.")
    port: int = Field(8890, ge=1, le=65535, description="HTTP port (the old service's port).")
    log_level: str = Field("info", description="Python log level.")

    model: str = Field(
        EMBEDDED,
        description="Captioner: 'embedded' (offline EfficientNet-Lite0), a Hugging Face image-text-to-text "
        "model by hub id or local folder (e.g. llava-hf/llava-1.5-7b-hf), or a model on an OpenAI-compatible "
        "engine: openai:<base url>#<model> (e.g. openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf).",
    )
    read_text: bool = Field(
        True, description="Read the text in photos (signs, screenshots) into the embedded captioner's descriptions."
    )
    max_new_tokens: int = Field(60, ge=1, le=1024, description="Most tokens a vision-language model may generate for alt text.")
    min_new_tokens: int = Field(0, ge=0, description="Fixed output length for benchmarks (min = max); 0 in service.")
    alt_text_max_chars: int = Field(150, ge=20, description="Longest alt text kept, cut at a sentence boundary.")
    long_max_new_tokens: int = Field(
        200, ge=1, le=2048, description="Most tokens a vision-language model may generate for a long description."
    )
    long_text_max_chars: int = Field(800, ge=20, description="Longest long description kept, cut at a sentence boundary.")
    load_format: Literal["auto", "dummy"] = Field(
        "auto",
        description="'dummy' builds the model from its folder's config with random weights straight on the device, "
        "reading no weights (benchmarks of a real architecture's serving cost); 'auto' loads the weights.",
    )
    compiled_batch_sizes: str = Field(
        "",
        description="Batch sizes the static-cache decode step is compiled for at start-up, comma-separated; a batch "
        "is padded up to the next one. Empty = powers of two up to max_batch_size. Fewer sizes start faster.",
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto",
        description="Weights and activations of a vision-language model: 'auto' = bfloat16 on GPUs that have it, "
        "float16 on older ones, float32 on CPU. float32 answers exactly alike in any batch; 16-bit may differ by rounding.",
    )
    kv_cache: Literal["auto", "static", "dynamic"] = Field(
        "auto",
        description="KV cache of a vision-language model: 'static' compiles the decode step on GPUs "
        "(batches padded to power-of-two sizes, compiled at start-up); 'auto' = static on CUDA, dynamic on CPU.",
    )
    embedder: str = Field(
        EMBEDDED,
        description="Text encoders for ranking, comma-separated: 'use', 'e5-small', 'e5-small-c' (e5-small on its "
        "C engine: ~190 MB less memory, ~5x slower for many new texts; all packaged), a "
        "sentence-transformers hub id or folder, or an OpenAI-compatible embedding engine's model: "
        "openai:<base url>#<model>; several are averaged. 'embedded' = e5-small.",
    )
    glossary: bool = Field(True, description="Also match Korean words through the packaged Korean-English photo glossary.")
    lexical_weight: float = Field(0.5, ge=0, description="Weight of exact-word overlap (IDF-weighted) beside the encoders' votes.")
    match_threshold: float = Field(
        -1.0,
        description="Least relevance (SDs above a generic description) for a candidate to count as a match; it "
        "must also share a word with the request unless its relevance is 3 above this.",
    )
    class_scores: bool = Field(
        True,
        description="Search also reads the classifier's scores behind descriptions the service wrote (what it saw, not "
        "only what it said), and lets them decide \"no match\" for a request naming a specific thing; false: by the text alone.",
    )
    evidence_weight: float = Field(
        1.0,
        ge=0,
        description="Weight of the class scores behind descriptions the service wrote (how strongly the classifier saw "
        "what the request names); 0 ranks by the text alone.",
    )
    evidence_for_match: float = Field(
        2.0,
        ge=0,
        description="Evidence (log lift of the named classes over a flat guess) that makes a candidate the service "
        "described a match whatever its text.",
    )
    embedder_device: str = Field("cpu", description="Device for a sentence-transformers encoder.")
    embedding_turn_s: float = Field(
        0.1,
        gt=0,
        le=5,
        description="Time one turn of a large ranking request's new descriptions takes on the ranking thread; small "
        "requests go between turns, so this is the most a large request delays a small one.",
    )
    memory_cache_mb: int = Field(
        256,
        ge=1,
        description="Memory the ranking caches may hold, in MB (least recently used go first): three quarters for "
        "description embeddings, shared by the encoders, a quarter for the descriptions' prepared text and words.",
    )
    cache_path: str = Field(
        "auto",
        description="File that keeps description embeddings across restarts and processes (SQLite); 'auto' = "
        "$XDG_CACHE_HOME/altgen/embeddings.sqlite3 (~/.cache/...), 'none' = memory only.",
    )
    cache_max_entries: int = Field(1_000_000, ge=1, description="Most embeddings kept in the cache file (least recently used go first).")
    devices: str = Field("auto", description="'auto' (every CUDA card, else cpu) or a list like 'cuda:0,cuda:1' or 'cpu,cpu'.")
    torch_threads: int = Field(0, ge=0, description="CPU threads per model replica; 0 lets torch choose.")

    max_batch_size: int = Field(5, ge=1, le=1024, description="Most images in one model call.")
    max_batch_pixels: int = Field(
        0, ge=0, description="Memory budget of one batch in pixels (after resizing); 0 = count limit only."
    )
    max_batch_wait_ms: float = Field(10.0, ge=0, le=10_000, description="How long a consumer waits for a batch to fill.")
    busy_batch_wait_ms: float = Field(
        0.0,
        ge=0,
        le=10_000,
        description="After a shared batch, wait up to this long for the clients just answered to come back, "
        "starting once none has arrived for max_batch_wait_ms (0 = off).",
    )
    queue_capacity: int = Field(256, ge=1, description="Most images waiting for a model; beyond it requests get 503.")
    request_timeout_s: float = Field(60.0, gt=0, description="Deadline for one request; past it the answer is 504.")

    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Largest accepted image file.")
    max_files_per_request: int = Field(64, ge=1, description="Most images in one request.")
    max_request_bytes: int = Field(256 * 1024 * 1024, ge=1, description="Largest accepted request body.")
    max_image_pixels: int = Field(50_000_000, ge=1, description="Largest accepted width x height (decompression bombs).")
    decode_memory_mb: int = Field(
        1024, ge=16, description="Memory the photos being decoded may hold at once, every decoded buffer counted; "
        "photos wait for room (a photo needing more than all of it decodes alone)."
    )
    max_candidates: int = Field(10_000, ge=1, description="Most candidates in one recommend request.")
    max_text_chars: int = Field(4_000, ge=1, description="Longest query or description accepted for ranking.")

    keep_alive_s: float = Field(
        5.0,
        gt=0,
        description="Idle HTTP keep-alive between requests; behind a load balancer, set it above the balancer's idle "
        "timeout (under pressure the longest-idle connections are closed first anyway).",
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="Time a connection has to send each request's headers; silent connections are closed."
    )
    body_timeout_s: float = Field(
        10.0, gt=0, description="Window in which a request body must bring body_min_rate bytes a second, or get 408 and be closed."
    )
    body_min_rate: int = Field(500, ge=1, description="Least bytes a second a request body must arrive at (see body_timeout_s).")
    max_connections: int = Field(
        4096,
        ge=1,
        description="Most open connections (keep below the file limit); beyond it the longest-idle one is closed to let a "
        "new one in, else a body arriving too slowly, else the new one is refused.",
    )
    max_connections_per_client: int = Field(
        512, ge=1, description="Most open connections from one remote address (behind a proxy, raise it to max_connections)."
    )
    ops_connections: int = Field(
        32, ge=0, description="Connections kept beyond max_connections for /health, /ready and /metrics only."
    )
    shutdown_grace_s: float = Field(30.0, ge=0, description="On SIGTERM, how long in-flight requests may take to finish.")
    restart_backoff_s: float = Field(1.0, ge=0, description="Pause before a crashed device consumer is restarted.")

    engine_concurrency: int = Field(
        16, ge=1, le=1024, description="Most photos in flight to an OpenAI-compatible engine (model openai:...) at once."
    )
    engine_api_key: SecretStr | None = Field(
        None, description="Key sent to OpenAI-compatible engines (model or embedder openai:...) as a Bearer token."
    )

    api_keys: SecretStr | None = Field(None, description="Comma-separated API keys; when set, every route but /health and /ready needs one.")
    admin_key: SecretStr | None = Field(None, description="Key needed to change /config (also accepted as an API key).")

    ui: bool = Field(
        True, description="Serve the try-it page at / (drop photos, read their alt text, find one); false = API only."
    )

    ray_address: str = Field(
        "", description="engine=ray: the Ray cluster to join ('auto', ray://head:10001); empty = RAY_ADDRESS, else a new local one."
    )
    ray_ingress_replicas: int = Field(1, ge=1, description="engine=ray: replicas of the HTTP app (decoding, ranking, /config).")
    ray_ingress_num_cpus: float = Field(1.0, ge=0, description="engine=ray: CPUs Ray reserves for each HTTP app replica.")
    ray_captioner_min_replicas: int = Field(1, ge=1, description="engine=ray: fewest captioner replicas (each runs devices).")
    ray_captioner_max_replicas: int = Field(
        1, ge=1, description="engine=ray: most captioner replicas; above the minimum Ray Serve adds replicas while photos wait."
    )
    ray_captioner_num_gpus: float = Field(
        0.0, ge=0, description="engine=ray: GPUs per captioner replica; with devices=auto a replica uses the card(s) Ray gives it."
    )
    ray_captioner_num_cpus: float = Field(1.0, ge=0, description="engine=ray: CPUs Ray reserves for each captioner replica.")
    ray_target_ongoing_requests: float = Field(
        4.0, gt=0, description="engine=ray: autoscaling target, requests waiting or in a batch per captioner replica."
    )

    halve_rate: HalveRate = Field(RESIZE_DEFAULTS.halve_rate, description="Initial /config halve rate.")
    min_size: MinSize = Field(RESIZE_DEFAULTS.min_size, description="Initial /config min_size.")

    @field_validator("model")
    @classmethod
    def _engine_model(cls, value: str) -> str:
        if is_remote(value):
            EngineAddress.parse(value, "model")
        return value

    @field_validator("embedder")
    @classmethod
    def _engine_embedders(cls, value: str) -> str:
        for name in value.split(","):
            if is_remote(name):
                EngineAddress.parse(name, "embedder")
        return value

    @field_validator("compiled_batch_sizes")
    @classmethod
    def _batch_sizes(cls, value: str) -> str:
        for size in value.split(","):
            if size.strip() and not (size.strip().isdigit() and 1 <= int(size) <= 1024):
                raise ValueError(f"must be a comma-separated list of batch sizes from 1 to 1024, got {size.strip()!r}")
        return value

    @model_validator(mode="after")
    def _replica_range(self) -> "Settings":
        if self.ray_captioner_max_replicas < self.ray_captioner_min_replicas:
            raise ValueError("ray_captioner_max_replicas must be at least ray_captioner_min_replicas")
        return self

    def resize_config(self) -> ResizeConfig:
        return ResizeConfig(halve_rate=self.halve_rate, min_size=self.min_size)

    def api_key_list(self) -> list[str]:
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        return [key.strip() for key in raw.split(",") if key.strip()]

    def cache_file(self) -> str | None:
        """Where description embeddings are kept on disk, or None for memory only."""
        if self.cache_path.strip().lower() == "none":
            return None
        if self.cache_path.strip().lower() != "auto":
            return self.cache_path
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return str(Path(base) / "altgen" / "embeddings.sqlite3")

    def compiled_batch_size_list(self) -> list[int]:
        return [int(size) for size in self.compiled_batch_sizes.split(",") if size.strip()]

    def device_list(self) -> list[str]:
        if is_remote(self.model):  # the engine has the devices; altgen makes one captioner for it
            return ["engine"]
        if self.devices.strip().lower() != "auto":
            return [d.strip() for d in self.devices.split(",") if d.strip()]
        import torch

        if torch.cuda.is_available():
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        return ["cpu"]
