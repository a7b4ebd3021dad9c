"""Everyday words for ImageNet classes, from WordNet's hypernym chains.

Each class speaks under a basic-level name, the word people use for it (GROUPS, the nearest on its
chain: "tabby > domestic cat > ..." is a cat; else a name of its own), and belongs to the general
categories on its chain (CATEGORIES: "an animal", "a vehicle"), which a hedged or unsure
description falls back on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

# General categories (WordNet hypernym -> English, Korean), specific before general within each group.
ANIMALS: dict[str, tuple[str, str]] = {
    "domestic cat": ("cat", "고양이"),
    "big cat": ("big cat", "맹수"),
    "dog": ("dog", "개"),
    "wolf": ("wolf", "늑대"),
    "fox": ("fox", "여우"),
    "bear": ("bear", "곰"),
    "bird": ("bird", "새"),
    "shark": ("shark", "상어"),
    "fish": ("fish", "물고기"),
    "snake": ("snake", "뱀"),
    "lizard": ("lizard", "도마뱀"),
    "turtle": ("turtle", "거북"),
    "frog": ("frog", "개구리"),
    "salamander": ("salamander", "도롱뇽"),
    "butterfly": ("butterfly", "나비"),
    "beetle": ("beetle", "딱정벌레"),
    "insect": ("insect", "곤충"),
    "spider": ("spider", "거미"),
    "crab": ("crab", "게"),
    "crustacean": ("crustacean", "갑각류"),
    "monkey": ("monkey", "원숭이"),
    "ape": ("ape", "유인원"),
    "leporid": ("rabbit", "토끼"),
    "swine": ("pig", "돼지"),
    "aquatic mammal": ("sea mammal", "바다 포유류"),
    "mammal": ("animal", "동물"),
    "animal": ("animal", "동물"),
}
THINGS: dict[str, tuple[str, str]] = {
    "car": ("car", "자동차"),
    "truck": ("truck", "트럭"),
    "bus": ("bus", "버스"),
    "motorcycle": ("motorbike", "오토바이"),
    "motor scooter": ("motor scooter", "스쿠터"),
    "bicycle": ("bicycle", "자전거"),
    "train": ("train", "기차"),
    "locomotive": ("train", "기차"),
    "sailing vessel": ("sailboat", "돛단배"),
    "boat": ("boat", "배"),
    "ship": ("ship", "배"),
    "aircraft": ("aircraft", "항공기"),
    "vehicle": ("vehicle", "탈것"),
    # food
    "edible fruit": ("fruit", "과일"),
    "vegetable": ("vegetable", "채소"),
    "coffee": ("coffee", "커피"),
    "beverage": ("drink", "음료"),
    "dish": ("dish of food", "요리"),
    "baked goods": ("baked good", "빵"),
    "fungus": ("mushroom", "버섯"),
    "food": ("food item", "음식"),
    # things and places
    "flower": ("flower", "꽃"),
    "musical instrument": ("musical instrument", "악기"),
    "seat": ("seat", "의자"),
    "table": ("table", "탁자"),
    "furniture": ("piece of furniture", "가구"),
    "footwear": ("shoes", "신발"),
    "headdress": ("hat", "모자"),
    "clothing": ("piece of clothing", "옷"),
    "computer": ("computer", "컴퓨터"),
    "telephone": ("phone", "전화기"),
    "timepiece": ("clock", "시계"),
    "lamp": ("lamp", "램프"),
    "ball": ("ball", "공"),
    "bottle": ("bottle", "병"),
    "bag": ("bag", "가방"),
    "weapon": ("weapon", "무기"),
    "tool": ("tool", "도구"),
    "home appliance": ("appliance", "가전제품"),
    "kitchen utensil": ("kitchen utensil", "주방용품"),
    "place of worship": ("place of worship", "예배당"),
    "shop": ("shop", "가게"),
    "dwelling": ("building", "건물"),
    "bridge": ("bridge", "다리"),
    "fence": ("fence", "울타리"),
    "building": ("building", "건물"),
    "mountain": ("mountain", "산"),
    "shore": ("shore", "물가"),
}
CATEGORIES = {**ANIMALS, **THINGS}

# Basic-level names: the words people use for a thing ("a camel", not "an Arabian camel" or "an
# animal"). A class takes the nearest of these on its WordNet chain (itself first), else its own
# name; probabilities are pooled over each name's classes, so 118 dog breeds speak as one "dog".
GROUPS: dict[str, tuple[str, str]] = {
    "dog": ("dog", "개"), "wolf": ("wolf", "늑대"), "fox": ("fox", "여우"), "domestic cat": ("cat", "고양이"),
    "bear": ("bear", "곰"), "monkey": ("monkey", "원숭이"), "lemur": ("lemur", "여우원숭이"),
    "elephant": ("elephant", "코끼리"), "horse": ("horse", "말"), "camel": ("camel", "낙타"),
    "cattle": ("cow", "소"), "sheep": ("sheep", "양"), "goat": ("goat", "염소"), "antelope": ("antelope", "영양"),
    "squirrel": ("squirrel", "다람쥐"), "leporid": ("rabbit", "토끼"), "kangaroo": ("kangaroo", "캥거루"),
    "whale": ("whale", "고래"), "shark": ("shark", "상어"), "ray": ("ray", "가오리"), "spider": ("spider", "거미"),
    "beetle": ("beetle", "딱정벌레"), "butterfly": ("butterfly", "나비"), "snake": ("snake", "뱀"),
    "lizard": ("lizard", "도마뱀"), "turtle": ("turtle", "거북"), "frog": ("frog", "개구리"),
    "salamander": ("salamander", "도롱뇽"), "crab": ("crab", "게"), "lobster": ("lobster", "바닷가재"),
    "parrot": ("parrot", "앵무새"), "eagle": ("eagle", "독수리"), "owl": ("owl", "올빼미"), "duck": ("duck", "오리"),
    "penguin": ("penguin", "펭귄"), "grouse": ("grouse", "뇌조"), "heron": ("heron", "왜가리"),
    "stork": ("stork", "황새"), "shorebird": ("shorebird", "도요새"), "passerine": ("bird", "새"),
    "swan": ("swan", "백조"), "crocodilian reptile": ("crocodile", "악어"), "fungus": ("mushroom", "버섯"),
    "apple": ("apple", "사과"),
}
# Single classes whose own name is not what people say (or whose chain skips the everyday word).
CLASS_GROUPS: dict[int, tuple[str, str]] = {
    7: ("chicken", "닭"), 8: ("chicken", "닭"), 21: ("bird of prey", "맹금류"), 91: ("bird", "새"),
    92: ("bird", "새"), 95: ("bird", "새"), 135: ("bird", "새"), 136: ("bird", "새"), 137: ("bird", "새"),
    0: ("fish", "물고기"), 389: ("fish", "물고기"), 391: ("fish", "물고기"), 392: ("fish", "물고기"),
    395: ("fish", "물고기"), 101: ("elephant", "코끼리"), 341: ("pig", "돼지"),
    342: ("wild boar", "멧돼지"), 343: ("warthog", "혹멧돼지"), 346: ("water buffalo", "물소"), 349: ("sheep", "양"),
    359: ("ferret", "페럿"), 358: ("weasel", "족제비"), 364: ("sloth", "나무늘보"), 387: ("red panda", "레서판다"),
    388: ("panda", "판다"), 39: ("iguana", "이구아나"), 47: ("chameleon", "카멜레온"), 48: ("Komodo dragon", "코모도왕도마뱀"),
    29: ("axolotl", "우파루파"), 69: ("trilobite", "삼엽충"), 70: ("harvestman", "장님거미"), 301: ("ladybug", "무당벌레"),
    305: ("dung beetle", "쇠똥구리"), 104: ("kangaroo", "캥거루"), 145: ("penguin", "펭귄"),
    296: ("polar bear", "북극곰"), 23: ("vulture", "대머리수리"), 369: ("gibbon", "긴팔원숭이"),
    987: ("corn", "옥수수"), 998: ("corn", "옥수수"),
}
# Classes whose first WordNet lemma hides the everyday name people search for.
LABEL_OVERRIDES = {334: "porcupine or hedgehog", 393: "clownfish", 39: "iguana"}
# Classes whose category would mislead (ImageNet's class 334 joins a rodent and a hedgehog).
NO_CATEGORY = frozenset({334})


@dataclass(frozen=True)
class ClassWords:
    english: str
    korean: str
    categories: tuple[str, ...]  # the CATEGORIES keys on its hypernym chain, nearest first
    basic: tuple[str, str]  # the basic-level name (English, Korean) its probability is pooled under
    chain: tuple[str, ...] = ()  # its WordNet hypernym chain, itself first


def _read(name: str) -> list[list[str]]:
    text = resources.files("altgen.model.classifier").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines()]


@cache
def class_synonyms() -> tuple[tuple[str, ...], ...]:
    """Every English name WordNet gives each class ("ladybug, ladybeetle, lady beetle, ladybird, ..."); read once
    (the scenes and the search's class names look classes up by name dozens of times at start-up)."""
    return tuple(
        tuple(name.strip() for name in row[2].split(",") if name.strip()) for row in _read("imagenet_classes.tsv")
    )


def load_class_words() -> list[ClassWords]:
    lemmas = [row[2].split(",")[0].strip() for row in _read("imagenet_classes.tsv")]
    korean = [row[1].strip() for row in _read("imagenet_ko.tsv")]
    chains = [row[1].split(" > ") for row in _read("imagenet_hypernyms.tsv")]
    words = []
    for index, (lemma, ko, chain) in enumerate(zip(lemmas, korean, chains, strict=True)):
        categories = () if index in NO_CATEGORY else tuple(h for h in chain if h in CATEGORIES)
        english = LABEL_OVERRIDES.get(index, lemma)
        basic = CLASS_GROUPS.get(index) or next((GROUPS[node] for node in chain if node in GROUPS), (english, ko))
        words.append(ClassWords(english, ko, categories, basic, tuple(chain)))
    return words
