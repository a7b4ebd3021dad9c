"""What a named thing also is, so that a request and a description can meet on a broader word:
a daisy is a flower, a camel an animal, a ladybug a beetle and an insect, an owl a bird of prey.

Built from WordNet's hypernym chains of the ImageNet classes (the same data the embedded captioner
names things from), so it covers the everyday objects and animals that photos show, whoever wrote
the description (the default captioner or a vision-language model).
"""

from __future__ import annotations

import re
from typing import Iterable

# Chain nodes too abstract to help a search ("whole", "artifact", "organism", ...): only names
# from this set, the basic-level names and the everyday categories are used as broader words.
EVERYDAY_NODES = frozenset({
    "animal", "mammal", "bird", "fish", "insect", "reptile", "amphibian", "invertebrate", "crustacean", "mollusk",
    "spider", "beetle", "butterfly", "snake", "lizard", "turtle", "frog", "dog", "cat", "wolf", "fox", "bear",
    "monkey", "ape", "primate", "rodent", "squirrel", "rabbit", "horse", "cattle", "sheep", "goat", "antelope",
    "deer", "camel", "elephant", "whale", "shark", "ray", "eagle", "owl", "duck", "goose", "swan", "parrot",
    "penguin", "heron", "stork", "chicken", "bird of prey", "big cat", "marsupial", "flower", "plant", "tree",
    "fruit", "edible fruit", "vegetable", "fungus", "food", "dish", "beverage", "vehicle", "car", "truck", "bus",
    "boat", "ship", "aircraft", "bicycle", "motorcycle", "train", "musical instrument", "furniture", "seat",
    "table", "clothing", "footwear", "tool", "weapon", "container", "bottle", "ball", "toy", "building", "house",
    "shop", "bridge", "fence", "mountain", "shore",
})


def phrase_pattern(names: Iterable[str]) -> str:
    """One regular expression for all the names, nested by shared beginnings ("bell pepper|bell" becomes
    "bell(?: pepper)?"), so a position of the text is tried against the few names that start like it, not
    thousands; a longer name is tried before a shorter one it begins with, as "bell pepper" before "bell"."""
    trie: dict = {}
    for name in names:
        node = trie
        for character in name:
            node = node.setdefault(character, {})
        node[""] = {}  # a name ends here

    def pattern(node: dict) -> str:
        longer = [re.escape(character) + pattern(child) for character, child in sorted(node.items()) if character]
        if not longer:
            return ""
        inner = longer[0] if len(longer) == 1 else "(?:" + "|".join(longer) + ")"
        return f"(?:{inner})?" if "" in node else inner

    return pattern(trie)


class BroaderWords:
    """Names (a phrase each) with the broader words they imply."""

    def __init__(self, broader: dict[str, set[str]]):
        self._broader = {name.lower(): frozenset(w.lower() for w in words) for name, words in broader.items() if words}
        self._pattern = re.compile(r"\b(" + phrase_pattern(self._broader) + r")s?\b") if self._broader else None

    @classmethod
    def from_chains(cls, entries: Iterable[tuple[Iterable[str], Iterable[str]]]) -> "BroaderWords":
        """``entries``: (names of one thing, its broader words nearest first), e.g. (["ladybug",
        "ladybird"], ["beetle", "insect", "animal"]). A name that several things share gets the broader
        words of all of them."""
        broader: dict[str, set[str]] = {}
        for names, words in entries:
            words = [w for w in words if w]
            for name in names:
                broader.setdefault(name, set()).update(w for w in words if w.lower() != name.lower())
        return cls(broader)

    def words(self) -> set[str]:
        """Every single word of every name and broader word."""
        return {word for name, broader in self._broader.items() for phrase in (name, *broader) for word in phrase.split()}

    def of(self, text: str) -> set[str]:
        """The broader words implied by the things named in ``text`` (lower-case phrases)."""
        if self._pattern is None:
            return set()
        found: set[str] = set()
        for match in self._pattern.finditer(text.lower()):
            found.update(self._broader[match.group(1)])
        return found
