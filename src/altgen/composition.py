"""The composition root: settings -> models -> captioning -> ranker -> service, in one place that every entry
point uses (``altgen serve``, ``altgen describe``, the app factory, the Ray deployments). It is also the only
place that maps a setting to a model class."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from threadpoolctl import threadpool_limits

from altgen.admission import Admission
from altgen.captioning.contract import Captioner
from altgen.captioning.local import CaptionerFactory, LocalCaptioning
from altgen.metrics import Metrics
from altgen.ranking.broader_words import EVERYDAY_NODES, BroaderWords
from altgen.ranking.class_concepts import ClassConcepts
from altgen.ranking.contract import Embedder
from altgen.ranking.embedding_store import EmbeddingStore
from altgen.ranking.glossary import Glossary
from altgen.ranking.ranker import Ranker
from altgen.service import AltTextService, Captioning, RankerFactory, ResizeStore
from altgen.settings import EMBEDDED, EngineAddress, Settings, is_remote

# Photos described elsewhere (a Ray deployment): built from the settings and the admission that keeps its room.
RemoteCaptioningFactory = Callable[[Settings, Admission], Captioning]
# The encoders that ship inside PyPI wheels, by the short names the `embedder` setting accepts.
PACKAGED_EMBEDDERS = ("use", "e5-small", "e5-small-c")
# What `embedded` means: chosen by benchmarks/eval_ranking.py (see docs/ranking.md's evaluation):
# e5-small with the glossary beat the use+e5-small ensemble on English and tied on Korean.
DEFAULT_EMBEDDERS = ("e5-small",)


def load_captioner(settings: Settings, device: str) -> Captioner:
    if settings.model == EMBEDDED:
        from altgen.model.classifier.faces import FaceCounter
        from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner

        reader = None
        if settings.read_text:
            from altgen.model.ocr.text_reader import TextReader

            reader = TextReader()
        return ImageNetCaptioner(device=device, torch_threads=settings.torch_threads, faces=FaceCounter(), text_reader=reader)
    if is_remote(settings.model):
        from altgen.engines.remote_captioner import RemoteCaptioner

        return RemoteCaptioner(
            EngineAddress.parse(settings.model, "model"),
            api_key=engine_key(settings),
            concurrency=settings.engine_concurrency,
            timeout_s=settings.request_timeout_s,
            **text_budgets(settings),
        )
    from altgen.model.vlm.transformers_captioner import TransformersCaptioner

    return TransformersCaptioner(
        settings.model,
        device,
        min_new_tokens=settings.min_new_tokens,
        kv_cache=settings.kv_cache,
        dtype=settings.dtype,
        max_batch_size=settings.max_batch_size,
        compiled_batch_sizes=settings.compiled_batch_size_list(),
        load_format=settings.load_format,
        **text_budgets(settings),
    )


def text_budgets(settings: Settings) -> dict[str, int]:
    """How long a vision-language model's alt text and long description may be, wherever it runs."""
    return {
        "max_new_tokens": settings.max_new_tokens,
        "max_chars": settings.alt_text_max_chars,
        "long_max_new_tokens": settings.long_max_new_tokens,
        "long_max_chars": settings.long_text_max_chars,
    }


def load_embedder(name: str, settings: Settings) -> Embedder:
    if name == "use":
        from altgen.model.encoders.use_embedder import UniversalSentenceEncoder

        return UniversalSentenceEncoder()
    if name == "e5-small":
        from altgen.model.encoders.e5.encoder import MultilingualE5Small

        return MultilingualE5Small()
    if name == "e5-small-c":
        from altgen.model.encoders.e5.c_engine import MultilingualE5SmallCEngine

        return MultilingualE5SmallCEngine()
    if is_remote(name):
        from altgen.engines.remote_embedder import RemoteEmbedder

        return RemoteEmbedder(EngineAddress.parse(name, "embedder"), api_key=engine_key(settings), timeout_s=settings.request_timeout_s)
    from altgen.model.encoders.sentence_transformer_embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(name, device=settings.embedder_device)


def engine_key(settings: Settings) -> str | None:
    return settings.engine_api_key.get_secret_value() if settings.engine_api_key else None


def embedding_store(settings: Settings) -> EmbeddingStore | None:
    path = settings.cache_file()
    return EmbeddingStore(path, settings.cache_max_entries) if path else None


def embedder_names(setting: str) -> list[str]:
    names = [n.strip() for n in setting.split(",") if n.strip()]
    return list(DEFAULT_EMBEDDERS) if names in ([], [EMBEDDED]) else names


def load_ranker(settings: Settings) -> Ranker:
    embedders = [load_embedder(name, settings) for name in embedder_names(settings.embedder)]
    glossary = Glossary.packaged() if settings.glossary else None
    return Ranker(
        embedders,
        background_descriptions(),
        glossary,
        broader_words=imagenet_broader_words(),
        store=embedding_store(settings),
        concepts=imagenet_class_concepts() if settings.class_scores else None,
        lexical_weight=settings.lexical_weight,
        match_threshold=settings.match_threshold,
        evidence_weight=settings.evidence_weight,
        evidence_for_match=settings.evidence_for_match,
        cache_bytes=settings.memory_cache_mb * 2**20,
    )


def background_descriptions() -> list[str]:
    """Generic one-object descriptions (every fifth ImageNet class) that calibrate ranking scores."""
    from altgen.model.classifier.vocabulary import load_class_words

    return [f"The image shows a {words.english}." for words in load_class_words()[::5]]


def imagenet_broader_words() -> BroaderWords:
    """What each ImageNet class (by any of its names, or its basic-level name) also is, from WordNet."""
    from altgen.model.classifier.vocabulary import CATEGORIES, class_synonyms, load_class_words

    entries = []
    for synonyms, words in zip(class_synonyms(), load_class_words()):
        broader = [words.basic[0], *(n for n in words.chain[1:] if n in EVERYDAY_NODES)]
        broader += [CATEGORIES[category][0] for category in words.categories]
        names = [name for name in {*synonyms, words.english} if len(name) >= 3]
        entries += [(names, broader), ([words.basic[0]], broader[1:])]
        # The broader words themselves: a car is a vehicle, a dog an animal.
        for position, node in enumerate(words.chain[1:], start=1):
            if node in EVERYDAY_NODES or node in CATEGORIES:
                above = [n for n in words.chain[position + 1 :] if n in EVERYDAY_NODES or n in CATEGORIES]
                everyday = [CATEGORIES[n][0] if n in CATEGORIES else n for n in above]
                entries.append(([node, CATEGORIES[node][0] if node in CATEGORIES else node], everyday))
    return BroaderWords.from_chains(entries)


# Everyday words for places that the classes' WordNet names lack: people say "lake", WordNet "lakeside"; a
# cathedral is a kind of church, a fortress a kind of castle's fortification (words for kinds of a class, which
# the hypernym chains cannot give).
EVERYDAY_PLACE_WORDS = {
    "lake": {"lakeside"}, "pond": {"lakeside"}, "beach": {"seashore", "sandbar"},
    "sea": {"seashore", "sandbar", "breakwater", "promontory"}, "ocean": {"seashore", "sandbar"},
    "coast": {"seashore", "promontory", "cliff"}, "canyon": {"valley", "cliff"}, "gorge": {"valley", "cliff"},
    "harbour": {"dock", "pier", "breakwater", "boathouse"}, "harbor": {"dock", "pier", "breakwater", "boathouse"},
    "port": {"dock", "pier", "breakwater", "container ship"}, "marina": {"dock", "pier", "boathouse"},
    "temple": {"stupa", "church", "mosque", "monastery", "bell cote"}, "cathedral": {"church", "bell cote"},
    "chapel": {"church", "bell cote"}, "basilica": {"church", "bell cote", "dome"}, "abbey": {"monastery", "church"},
    "convent": {"monastery"}, "fort": {"castle"}, "fortress": {"castle"}, "citadel": {"castle"},
    "gate": {"triumphal arch"}, "gateway": {"triumphal arch"}, "arch": {"triumphal arch"},
    "monument": {"obelisk", "triumphal arch", "megalith"}, "statue": {"pedestal"}, "farm": {"barn", "hay", "thresher"},
    "market": {"grocery store"}, "office": {"desk", "desktop computer", "file cabinet"},
    "living room": {"studio couch", "home theater", "entertainment center"}, "park": {"park bench"},
    "playground": {"swing"},
}


def imagenet_class_concepts() -> ClassConcepts:
    """Every English name of each ImageNet class, every node of its WordNet chain and its everyday categories,
    and the places of the embedded captioner's scenes, each with the classes it covers."""
    from altgen.model.classifier.scenes import PLACES, class_indices
    from altgen.model.classifier.vocabulary import CATEGORIES, class_synonyms, load_class_words

    classes = load_class_words()
    phrases: dict[str, set[int]] = {}
    for index, (synonyms, words) in enumerate(zip(class_synonyms(), classes)):
        names = {*synonyms, words.english, words.basic[0], *words.chain[1:], *(CATEGORIES[c][0] for c in words.categories)}
        for name in names:
            if len(name) >= 3:
                phrases.setdefault(name.lower(), set()).add(index)
    for place in PLACES:
        name = place.english.removeprefix("a ").removeprefix("an ")
        phrases.setdefault(name, set()).update(int(i) for i in class_indices(classes, place.members))
    for word, members in EVERYDAY_PLACE_WORDS.items():
        phrases.setdefault(word, set()).update(int(i) for i in class_indices(classes, frozenset(members)))
    return ClassConcepts(phrases, len(classes))


def image_thread_count() -> int:
    return min(8, max(2, os.cpu_count() or 1))


def image_threads() -> ThreadPoolExecutor:
    """The threads this process runs photos on: a few for decoding, resizing and the model's pre-processing,
    whatever the machine, with numpy's BLAS (OpenBLAS) kept to one thread. OpenBLAS's own workers, woken by
    the classifier's small matrix product, spin while they wait for more and took ~20 ms of CPU a photo on a
    2-core machine (a third of the service's throughput) against the threads that already run side by side."""
    threadpool_limits(limits=1, user_api="blas")
    return ThreadPoolExecutor(max_workers=image_thread_count(), thread_name_prefix="images")


def local_captioning(
    settings: Settings, captioner_factory: CaptionerFactory, metrics: Metrics, image_pool: ThreadPoolExecutor
) -> LocalCaptioning:
    """The models of this process behind one queue, whose room the admission keeps."""
    admission = Admission(settings.queue_capacity, metrics)
    return LocalCaptioning(settings, captioner_factory, metrics, image_pool, admission)


def build_service(
    settings: Settings,
    *,
    captioner_factory: CaptionerFactory | None = None,
    ranker_factory: RankerFactory | None = None,
    remote_captioning: RemoteCaptioningFactory | None = None,
    resize_store: ResizeStore | None = None,
) -> AltTextService:
    """The service on the configured models. ``remote_captioning``: a factory ``(settings, admission) ->
    Captioning`` for photos described elsewhere (a Ray deployment), which admits what its replicas can queue."""
    captioner_factory = captioner_factory or load_captioner  # looked up now, so a test can replace them
    ranker_factory = ranker_factory or load_ranker
    metrics = Metrics()
    image_pool = image_threads()
    if remote_captioning is None:
        captioning: Captioning = local_captioning(settings, captioner_factory, metrics, image_pool)
        admission = captioning.admission
    else:
        admission = Admission(settings.queue_capacity * settings.ray_captioner_max_replicas, metrics)
        captioning = remote_captioning(settings, admission)
    return AltTextService(
        settings,
        captioning,
        ranker_factory,
        metrics=metrics,
        admission=admission,
        image_pool=image_pool,
        decodes_per_request=image_thread_count(),
        resize_store=resize_store,
    )
