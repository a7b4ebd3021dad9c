"""Ranks candidate photo descriptions against a request: the encoders' likeness of meaning, the words they
share (``words.py``), the request's words in text read in a photo, and for descriptions the service wrote, what
the classifier saw behind them; and says whether the best is a match.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from altgen.ranking.broader_words import BroaderWords
from altgen.ranking.byte_lru import memoised, size_of_text, size_of_words
from altgen.ranking.class_concepts import ClassConcepts
from altgen.ranking.contract import Embedder
from altgen.ranking.embedding_cache import CachedPassages, vector_entry_bytes
from altgen.ranking.embedding_store import EmbeddingStore
from altgen.ranking.glossary import Glossary
from altgen.ranking.words import (
    corrected_typos,
    description_core,
    encoder_text,
    english_words,
    lexical_scores,
    quoted_scores,
    quoted_text,
    request_core,
    text_request_tokens,
)
from altgen.ranking.written_scores import WrittenScores
from altgen.types import ClassScores


@dataclass(frozen=True)
class Ranked:
    index: int
    score: float  # what orders the candidates
    relevance: float  # the encoders' part of the score: how far above a generic description it stands
    shared_words: float = 0.0  # IDF weight of the words it shares with the request (broader words count half)
    in_text: float = 0.0  # IDF weight of the request's words found in the text read in the photo
    # How strongly the classifier's scores behind the description show what the request names; None when the
    # service did not write the description (or no longer remembers its scores).
    evidence: float | None = None
    # It says the thing asked for, a kind of it or a broader word for it (an owl: "a bird of prey"), not merely
    # something of the same broader kind (a sports car and "a motorbike" are both vehicles).
    names_it: bool = False
    specific: bool = False  # the request names a thing of a few classifier classes (a sports car, not a vehicle)


# How far above match_threshold the encoders' relevance must be to match with no word in common.
SURE_WITHOUT_SHARED_WORDS = 3.0
# The same for a description the service wrote, whose classifier scores say more than its words (chosen on the
# dev halves; on them, every answerable request these flag more than the text rule was answered wrongly):
SURE_WITHOUT_SHARED_WORDS_WRITTEN = 3.5  # the request names nothing the classifier knows ("sushi", "a tennis court")
SURE_AGAINST_THE_CLASSIFIER = 5.0  # it names a specific thing of which the classifier saw nothing


def _standardise(scores: np.ndarray) -> np.ndarray:
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 1e-6 else scores - scores.mean()


class Ranker:
    """Ranks descriptions for a request.

    Each encoder compares each phrasing of the request (the request itself, and its Korean words
    put into English by the glossary) with every description. Encoders score on different scales,
    so each cosine is expressed in standard deviations above the same request's cosines with a
    fixed bank of generic photo descriptions; those relevances are averaged. That makes the score
    absolute (the same whatever the other candidates are), so one threshold says "no good match".
    A word-overlap signal (IDF over the candidates) is added with ``lexical_weight``.
    """

    def __init__(
        self,
        embedders: Sequence[Embedder],
        background: Sequence[str],
        glossary: Glossary | None = None,
        *,
        broader_words: BroaderWords | None = None,
        store: EmbeddingStore | None = None,
        concepts: ClassConcepts | None = None,
        lexical_weight: float = 0.0,
        text_weight: float = 3.0,
        match_threshold: float = float("-inf"),
        evidence_weight: float = 0.0,
        evidence_for_match: float = float("inf"),
        cache_bytes: int = 256 * 2**20,
    ):
        if not embedders or len(background) < 2:
            raise ValueError("a ranker needs at least one embedder and a background of several descriptions")
        self.embedders = list(embedders)
        self.glossary = glossary
        self.broader_words = broader_words
        # English words the ranker knows as words (never "corrected" as typos).
        self._known_words = set().union(
            *(english_words(text) for text in (glossary.entries.values() if glossary else ())),
            broader_words.words() if broader_words else set(),
        )
        self.lexical_weight = lexical_weight
        self.text_weight = text_weight
        self.match_threshold = match_threshold
        self.concepts = concepts
        self.evidence_weight = evidence_weight
        self.evidence_for_match = evidence_for_match
        # The in-memory caches share cache_bytes: three quarters for the encoders' vectors (a sixteenth of the
        # whole for requests', a sixteenth for the class scores of written descriptions, the rest for
        # descriptions' vectors), a quarter for text work.
        request_share = scores_share = cache_bytes // 16
        vector_share = (cache_bytes * 3 // 4 - request_share - scores_share) // len(self.embedders)
        self.written_scores = WrittenScores(scores_share, store)
        self.caches = [CachedPassages(e, vector_share, store) for e in self.embedders]
        # The encoders run side by side: their engines (numpy, C) release the GIL.
        self._pool = ThreadPoolExecutor(max_workers=len(self.embedders), thread_name_prefix="encoder")
        self._background = [e.embed([description_core(b) for b in background], "passage") for e in self.embedders]
        # Per-description text work is cached like the embeddings, so re-sent candidates cost lookups only.
        text_share = cache_bytes // 12
        size_of_pair = lambda k, v: size_of_text(k) + size_of_text(v)  # noqa: E731
        self._description_core = memoised(description_core, text_share, size_of_pair)
        self._encoder_text = memoised(encoder_text, text_share, size_of_pair)
        self._description_words = memoised(self._words_and_broader, text_share, lambda k, v: size_of_text(k) + size_of_words(v))
        # A request asked again (the same search, a page retried) costs no encoding: under load, encoding
        # requests took a sixth of the CPU that describing photos needed.
        self._request_vectors = memoised(
            self._encode_request, request_share, lambda k, v: vector_entry_bytes(" ".join(k[1]), v)
        )

    @property
    def name(self) -> str:
        return "+".join(e.name for e in self.embedders) + ("+glossary" if self.glossary else "")

    def uncached(self, descriptions: Sequence[str]) -> list[str]:
        """The descriptions' texts (as ranking prepares them) that some encoder has not embedded yet."""
        passages = dict.fromkeys(self._description_core(d) for d in descriptions)
        return [p for p in passages if any(self._encoder_text(p) not in cache for cache in self.caches)]

    def embed_passages(self, passages: Sequence[str]) -> int:
        """Embeds prepared description texts into every encoder's cache, and finds their words (one turn of a
        large request, or descriptions the service just wrote): the request's own turn then only looks them up.
        Returns the cost of what an encoder really had to embed (texts another request or the cache file
        already had cost nothing), so that the pace is measured on real work."""
        texts = list(dict.fromkeys(self._encoder_text(p) for p in passages))
        before = [cache.encoded_units for cache in self.caches]
        for cache in self.caches:
            cache.embed(texts)
        for passage in passages:
            self._description_words(passage)
        return max(cache.encoded_units - units for cache, units in zip(self.caches, before))

    def remember_scores(self, description: str, scores: ClassScores) -> None:
        """Keeps the class scores behind a description the service wrote, for searches that send it back
        (keyed by the whole text; on disk too once ``save_scores`` runs, with a cache file)."""
        if self.concepts is not None:
            self.written_scores.remember(description, scores)

    @property
    def scores_to_save(self) -> bool:
        """Whether class scores remembered since the last ``save_scores`` wait to be stored."""
        return self.written_scores.unsaved

    def save_scores(self) -> None:
        """Stores the class scores remembered since the last call in the cache file (blocking: the ranking thread)."""
        self.written_scores.save()

    def _class_evidence(self, query: str, descriptions: Sequence[str], *, reads_text: bool) -> tuple[np.ndarray, bool]:
        """What the classifier saw behind descriptions the service wrote ("a kitchen" finds "possibly a
        dishwasher"): for each one it still remembers, how strongly its class scores show what the request names
        (0 when it names nothing the classifier knows), NaN for the others; and whether the request names a
        specific thing. Nothing when a photo's own text holds the request's words (``reads_text``): those words
        are text to find, not things to see (리베이스, "rebase", holds 베이스, "bass guitar")."""
        evidence = np.full(len(descriptions), np.nan, dtype=np.float32)
        if self.concepts is None or reads_text:
            return evidence, False
        concepts = self.concepts.named_in(self._concept_text(query))
        for i, scores in enumerate(self.written_scores.lookup(descriptions)):
            if scores is not None:
                evidence[i] = ClassConcepts.evidence(concepts, scores)
        return evidence, any(concept.specific for concept in concepts)

    def _broader_phrases(self, text: str) -> set[str]:
        return self.broader_words.of(text) if self.broader_words else set()

    def _words_and_broader(self, text: str, broader_phrases: set[str] | None = None) -> tuple[set[str], set[str]]:
        """The text's own words, and those with the broader words of what it names (a daisy: flower, plant);
        ``broader_phrases`` where the caller already found them."""
        words = english_words(text)
        if broader_phrases is None:
            broader_phrases = self._broader_phrases(text)
        return words, words | english_words(" ".join(broader_phrases))

    def _shared_words(self, phrasings: list[str], passages: list[str]) -> tuple[np.ndarray, list[bool]]:
        """Words a candidate shares with the request, IDF-weighted over the candidates; a match through a
        broader word (request "flower", description "a daisy"; or request "owl", description "a bird of
        prey") counts half of a match on the word itself. And whether each candidate names the thing asked for
        (see ``Ranked.names_it``)."""
        request = " ".join(phrasings)
        broader_phrases = self._broader_phrases(request)
        query, query_broad = self._words_and_broader(request, broader_phrases)
        described = [self._description_words(p) for p in passages]
        unknown = {word for word in query - self._known_words if len(word) >= 5}
        if unknown:  # only then gather the candidates' vocabulary (10,000 sets is not free)
            typos = corrected_typos(unknown, set().union(*(words for words, _ in described)))
            query, query_broad = query | typos, query_broad | typos
        # A description naming a specific broader word of the request ("a bird of prey" for "owl") names it; one
        # naming only a general category ("an animal, possibly a fox" for "a cat") does not.
        specific_broader = [english_words(phrase) for phrase in broader_phrases
                            if self.concepts is None or self.concepts.is_specific(phrase)]
        names_it = [bool(query & broad) or any(phrase <= words for phrase in specific_broader) for words, broad in described]
        exact = lexical_scores(query, [words for words, _ in described])
        if not self.broader_words:
            return exact, names_it
        return exact + 0.5 * lexical_scores(query_broad, [broad for _, broad in described]), names_it

    def phrasings(self, query: str) -> list[str]:
        request = request_core(query)
        english = self.glossary.english_terms(request) if self.glossary else []
        return [request, " ".join(english)] if english else [request]

    def _concept_text(self, query: str) -> str:
        """The request and its Korean words in English, without words the glossary only guessed as typos: the
        classifier's scores would make a guess ("whale" for 고대, "ancient") count for much."""
        request = request_core(query)
        sure = self.glossary.english_terms(request, typos=False) if self.glossary else []
        return " ".join([request, *sure])

    def _embed_request(self, index: int, phrasings: list[str]) -> np.ndarray:
        return self._request_vectors((index, tuple(phrasings)))

    def _encode_request(self, key: tuple[int, tuple[str, ...]]) -> np.ndarray:
        index, phrasings = key
        embedder = self.embedders[index]
        if embedder.english_phrasing_only:
            phrasings = phrasings[-1:]
        return embedder.embed(list(phrasings), "query")

    def _relevance(self, index: int, queries: np.ndarray, passages: list[str]) -> np.ndarray:
        """One encoder's cosines, in standard deviations above its cosines with generic descriptions."""
        generic = self._background[index] @ queries.T  # (bank, phrasings)
        cosines = self.caches[index].embed([self._encoder_text(p) for p in passages]) @ queries.T  # (candidates, phrasings)
        return (cosines - generic.mean(axis=0)) / np.maximum(generic.std(axis=0), 1e-6)

    def rank(self, query: str, descriptions: Sequence[str]) -> list[Ranked]:
        """All candidates, best first; ties keep input order."""
        phrasings = self.phrasings(query)
        # The request is embedded (the slow part) while the descriptions are prepared.
        requests = [self._pool.submit(self._embed_request, i, phrasings) for i in range(len(self.embedders))]
        passages = [self._description_core(d) for d in descriptions]
        rows = [self._relevance(i, future.result(), passages) for i, future in enumerate(requests)]
        relevance = np.concatenate(rows, axis=1).mean(axis=1)
        shared, names_it = self._shared_words(phrasings, passages)
        score = relevance
        if self.lexical_weight and len(descriptions) > 1 and shared.any():
            score = relevance + self.lexical_weight * _standardise(shared)
        # Words of the request read in a photo: a match on a photo's own text outweighs likeness of meaning.
        in_text = quoted_scores(text_request_tokens(phrasings[0]), [quoted_text(d) for d in descriptions])
        if in_text.any():
            score = score + self.text_weight * in_text
        evidence, specific = self._class_evidence(query, descriptions, reads_text=bool(in_text.any()))
        score = score + self.evidence_weight * np.nan_to_num(evidence)
        order = np.argsort(-score, kind="stable")
        return [
            Ranked(int(i), float(score[i]), float(relevance[i]), float(shared[i]), float(in_text[i]),
                   None if np.isnan(evidence[i]) else float(evidence[i]), names_it[i], specific)
            for i in order
        ]

    def is_match(self, ranked: Ranked) -> bool:
        """Relevant enough, and sharing at least one word (or a broader word) with the request, unless
        the encoders alone are sure: a request for a piano shares no word with photos of animals,
        however close e5 puts "piano" and "a cup". For a description the service wrote, its class scores
        count too, and judge a request that names a specific thing the classifier knows."""
        if ranked.in_text > 0:
            return True  # the photo's own text has the request's words
        if ranked.evidence is not None and ranked.specific:
            # A description the service wrote, for a request naming a specific thing the classifier knows: the
            # classifier is the judge. A broader word in common (a vehicle: the motorbike for "a sports car") or
            # the encoders' likeness is not enough when it saw nothing of the thing.
            if ranked.evidence >= self.evidence_for_match:
                return True
            if ranked.relevance >= self.match_threshold + SURE_AGAINST_THE_CLASSIFIER:
                return True
            return ranked.relevance >= self.match_threshold and ranked.names_it
        written = ranked.evidence is not None
        if ranked.relevance >= self.match_threshold + (SURE_WITHOUT_SHARED_WORDS_WRITTEN if written else SURE_WITHOUT_SHARED_WORDS):
            return True  # the encoders are sure
        if written and ranked.evidence >= self.evidence_for_match:
            return True  # the classifier saw what the request names
        return ranked.relevance >= self.match_threshold and ranked.shared_words > 0
