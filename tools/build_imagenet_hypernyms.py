"""Writes src/altgen/model/classifier/data/imagenet_hypernyms.tsv from the WordNet 3.0 database.

ImageNet's class ids are WordNet 3.0 noun offsets, so each class's chain of hypernyms ("tabby >
domestic cat > cat > feline > carnivore > ...") comes straight from WordNet. Run it once when the
class list changes (Debian: apt install wordnet-base):

    python tools/build_imagenet_hypernyms.py [/usr/share/wordnet/data.noun]
"""

from __future__ import annotations

import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "altgen" / "model" / "classifier" / "data"


def read_nouns(path: Path) -> dict[str, tuple[str, list[str]]]:
    """offset -> (first lemma, hypernym offsets)."""
    nouns = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue  # licence header
        fields = line.split(" | ")[0].split()
        offset, word_count = fields[0], int(fields[3], 16)
        lemma = fields[4].replace("_", " ")
        pointer_at = 4 + 2 * word_count
        pointer_count = int(fields[pointer_at])
        hypernyms = []
        for i in range(pointer_count):
            symbol, target, pos = fields[pointer_at + 1 + 4 * i : pointer_at + 4 + 4 * i]
            if symbol in ("@", "@i") and pos == "n":
                hypernyms.append(target)
        nouns[offset] = (lemma, hypernyms)
    return nouns


def chain(nouns: dict, offset: str) -> list[str]:
    """Lemmas from the class up to the root, following the first hypernym at each step."""
    names = []
    while offset in nouns:
        lemma, hypernyms = nouns[offset]
        names.append(lemma)
        if not hypernyms:
            break
        offset = hypernyms[0]
    return names


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet/data.noun")
    nouns = read_nouns(source)
    rows = []
    for line in (DATA / "imagenet_classes.tsv").read_text(encoding="utf-8").splitlines():
        index, synset, _lemmas = line.split("\t")
        rows.append(f"{index}\t{' > '.join(chain(nouns, synset[1:]))}")
    (DATA / "imagenet_hypernyms.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} chains")


if __name__ == "__main__":
    main()
