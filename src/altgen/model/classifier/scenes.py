"""Where a photo was taken, as far as an ImageNet classifier can tell: indoors or outdoors, the kind
of place, and plain visual facts.

ImageNet has few place classes (seashore, alp, palace, library, ...) but many classes that only
occur in certain places: a dishwasher beside a microwave is a kitchen, palaces, monasteries and
mosques together are a historic building even when the classifier cannot say which. A place is
said when the probability of its classes together is high; one made of objects needs two of them
(a teapot alone is not a kitchen). Indoors / outdoors is the probability of classes that only
occur on one side. The bands are chosen on the places evaluation's dev half (docs/places.md).

Kinds (animal, plant, place, thing) let a hedge drop a runner-up of another kind than its leader:
"possibly a bannister or a dog" names a dog no one sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from altgen.model.classifier.vocabulary import ClassWords, class_synonyms

OUTDOOR_NODES = frozenset({"geological formation", "building", "bridge", "fence", "tower", "column", "memorial", "arch",
                           "dwelling", "fortification", "landing", "shed", "breakwater", "dam"})
# Buildings ImageNet mostly shows from inside (or either way): no evidence of outdoors.
NOT_OUTDOOR = frozenset({"library", "restaurant", "cinema", "home theater", "planetarium", "greenhouse", "prison",
                         "barbershop", "bookshop", "butcher shop", "confectionery", "shoe shop", "tobacco shop",
                         "toyshop", "grocery store", "altar", "bannister", "sliding door", "grille"})
OUTDOOR_CLASSES = frozenset({
    "fountain", "street sign", "traffic light", "parking meter", "streetcar", "trolleybus", "park bench", "mailbox",
    "manhole cover", "sundial", "flagpole", "maze", "swing", "lawn mower", "snowplow", "ski", "dogsled", "bobsled",
    "snowmobile", "liner", "container ship", "fireboat", "speedboat", "canoe", "gondola", "paddlewheel", "catamaran",
    "trimaran", "schooner", "yawl", "lifeboat", "airliner", "airship", "balloon", "parachute", "kite", "scoreboard",
    "thatch", "tile roof", "patio", "yurt", "mountain tent", "totem pole", "obelisk", "megalith", "water tower",
    "beacon", "worm fence", "picket fence", "stone wall", "chainlink fence", "cliff dwelling", "stupa", "mosque",
    "church", "monastery", "palace", "castle", "bell cote", "dome", "triumphal arch", "boathouse", "dock",
    "breakwater", "pier", "seashore", "lakeside", "sandbar", "promontory", "valley", "alp", "cliff", "volcano",
    "geyser", "dam", "viaduct", "steel arch bridge", "suspension bridge", "barn", "apiary", "lumbermill",
    "pedestal", "vault", "hay", "rapeseed",
})
INDOOR_CLASSES = frozenset({
    "dining table", "four-poster", "studio couch", "wardrobe", "bookcase", "chiffonier", "china cabinet", "desk",
    "cradle", "crib", "rocking chair", "folding chair", "barber chair", "dishwasher", "microwave", "refrigerator",
    "stove", "washer", "vacuum", "iron", "tub", "bathtub", "toilet seat", "washbasin", "shower curtain",
    "theater curtain", "stage", "altar", "organ", "home theater", "library", "restaurant", "window shade", "quilt",
    "pillow", "lampshade", "table lamp", "window screen", "prayer rug", "radiator", "entertainment center",
    "television", "monitor", "desktop computer", "file cabinet", "medicine chest", "plate rack", "barbershop",
    "bookshop", "butcher shop", "confectionery", "shoe shop", "tobacco shop", "toyshop", "grocery store",
    "spotlight", "grand piano", "upright", "pool table", "shoji", "bannister", "sliding door", "photocopier",
})


@dataclass(frozen=True)
class Place:
    english: str
    korean: str
    members: frozenset[str]  # ImageNet class names (any WordNet synonym)
    least_mass: float  # their pooled probability needed to say it
    least_members: int = 1  # distinct members at 0.05 or more (objects that occur together)


PLACES: tuple[Place, ...] = (
    Place("a kitchen", "주방", frozenset({"dishwasher", "microwave", "refrigerator", "stove", "toaster", "espresso maker",
                                          "Dutch oven", "frying pan", "wok", "caldron", "plate rack", "coffeepot",
                                          "teapot", "Crock Pot", "rotisserie", "waffle iron"}), 0.3, 2),
    Place("a bathroom", "욕실", frozenset({"tub", "bathtub", "toilet seat", "washbasin", "shower curtain", "medicine chest",
                                           "soap dispenser", "toilet tissue"}), 0.3, 2),
    Place("a bedroom", "침실", frozenset({"four-poster", "quilt", "pillow", "crib", "cradle", "wardrobe", "studio couch"}), 0.3, 2),
    Place("a ballpark", "야구장", frozenset({"ballplayer", "scoreboard", "baseball"}), 0.3, 2),
    Place("a sports ground", "운동장", frozenset({"soccer ball", "rugby ball", "football helmet", "basketball",
                                                  "volleyball", "scoreboard", "ballplayer", "croquet ball",
                                                  "horizontal bar", "parallel bars", "balance beam"}), 0.5),
    Place("a stage", "무대", frozenset({"stage", "theater curtain", "spotlight"}), 0.3),
    Place("a shop", "가게", frozenset({"barbershop", "bookshop", "butcher shop", "confectionery", "shoe shop",
                                       "tobacco shop", "toyshop", "grocery store"}), 0.5),
    Place("a street", "거리", frozenset({"street sign", "traffic light", "parking meter", "streetcar", "trolleybus",
                                         "cab", "police van", "mailbox", "manhole cover", "park bench"}), 0.4, 2),
    Place("a historic building", "역사적 건물", frozenset({
        "castle", "palace", "monastery", "mosque", "church", "bell cote", "stupa", "dome", "triumphal arch",
        "cliff dwelling", "obelisk", "megalith", "vault", "pedestal", "planetarium", "prison", "altar"}), 0.5),
    Place("mountains", "산", frozenset({"alp", "valley", "cliff", "promontory", "volcano"}), 0.6),
    Place("a shore", "물가", frozenset({"seashore", "lakeside", "sandbar", "breakwater", "dock", "boathouse", "pier"}), 0.4),
    Place("under water", "물속", frozenset({"coral reef", "scuba diver", "brain coral", "sea anemone", "sea urchin",
                                             "sea cucumber", "starfish", "jellyfish", "snorkel"}), 0.4),
)
OUTDOORS = ("outdoors", "실외")
INDOORS = ("indoors", "실내")
SKY = ("sky", "하늘")
NIGHT = ("night", "밤")
UNDER_WATER = "under water"
SMOOTH_STEP = 0.02  # the largest step (0..1) to the next pixel that still reads as smooth sky
# Roofs and bell cotes are parts of buildings, though WordNet files them under coverings.
KINDS = (("animal", "animal"), ("plant", "plant"), ("plant", "fungus"), ("plant", "food"), ("place", "structure"),
         ("place", "geological formation"), ("place", "roof"), ("place", "bell cote"))


def kind_of(chain: Sequence[str]) -> str:
    """animal, plant (and food), place (structures and land forms) or thing, from a WordNet chain."""
    return next((kind for kind, node in KINDS if node in chain), "thing")


@dataclass(frozen=True)
class Scene:
    setting: tuple[str, str] | None = None  # outdoors / indoors
    place: Place | None = None
    facts: tuple[tuple[str, str], ...] = ()  # sky, night

    def phrases(self, language: str) -> list[str]:
        words = [self.setting] if self.setting else []
        if self.place and self.place.english != UNDER_WATER:
            words.append((self.place.english, self.place.korean))
        elif self.place:  # "under water" stands in for the setting
            words = [(self.place.english, self.place.korean)]
        words.extend(self.facts)
        return [korean if language == "ko" else english for english, korean in words]

    def sentence(self, language: str) -> str | None:
        phrases = self.phrases(language)
        if not phrases:
            return None
        return ("장면: " if language == "ko" else "Scene: ") + ", ".join(phrases) + "."


def class_indices(classes: Sequence[ClassWords], names: frozenset[str]) -> np.ndarray:
    """The classes any of whose WordNet names (or basic-level name) is in ``names``."""
    synonyms = class_synonyms()
    found = [i for i, words in enumerate(classes) if names & {*synonyms[i], words.english}]
    known = {name for i in found for name in (*synonyms[i], classes[i].english)}
    missing = names - known
    if missing:
        raise ValueError(f"not ImageNet classes: {sorted(missing)}")
    return np.array(found, dtype=np.int64)


class SceneReader:
    """Reads the scene from the classifier's probabilities and the photo's pixels."""

    def __init__(self, classes: Sequence[ClassWords], *, setting_mass: float = 0.5, sky_share: float = 0.4):
        self.setting_mass = setting_mass
        self.sky_share = sky_share
        outdoor_by_chain = {i for i, words in enumerate(classes)
                            if OUTDOOR_NODES & set(words.chain) and words.english not in NOT_OUTDOOR}
        self._outdoor = np.array(sorted(outdoor_by_chain | set(class_indices(classes, OUTDOOR_CLASSES))), dtype=np.int64)
        self._indoor = class_indices(classes, INDOOR_CLASSES)
        self._places = [(place, class_indices(classes, place.members)) for place in PLACES]

    def outdoor_mass(self, probs: np.ndarray) -> float:
        return float(probs[self._outdoor].sum())

    def indoor_mass(self, probs: np.ndarray) -> float:
        return float(probs[self._indoor].sum())

    def place(self, probs: np.ndarray) -> Place | None:
        """The first place (PLACES runs specific to general: a ballpark before a sports ground) whose
        classes together are probable enough, with enough of them present for one made of objects."""
        for place, members in self._places:
            present = int((probs[members] >= 0.05).sum())
            if float(probs[members].sum()) >= place.least_mass and present >= place.least_members:
                return place
        return None

    def read(self, probs: np.ndarray, image: Image.Image | None = None) -> Scene:
        outdoor, indoor = self.outdoor_mass(probs), self.indoor_mass(probs)
        setting = OUTDOORS if outdoor >= self.setting_mass else INDOORS if indoor >= self.setting_mass else None
        place = self.place(probs)
        if place and place.english == UNDER_WATER:
            setting = None
        facts = []
        if setting == OUTDOORS and image is not None:
            sky, night = sky_and_night(image)
            if night:
                facts.append(NIGHT)
            elif sky >= self.sky_share:
                facts.append(SKY)
        return Scene(setting, place, tuple(facts))


def sky_and_night(image: Image.Image) -> tuple[float, bool]:
    """The share of the photo's top fifth that is smooth blue sky, and whether the photo is a night shot
    (dark, with some bright lights). Pale sky is left out (bright rock and haze look the same), and so is
    blue with texture: blue walls, water and roofs seen from the air change from pixel to pixel, a sky
    (clear or with soft cloud) hardly does."""
    small = np.asarray(image.convert("RGB").resize((64, 64)), dtype=np.float32) / 255.0
    brightness = small.mean(axis=2)
    night = brightness.mean() < 0.22 and (brightness > 0.7).mean() > 0.01
    top = small[:13]
    red, green, blue = top[..., 0], top[..., 1], top[..., 2]
    blue_sky = (blue > red + 0.08) & (blue >= green) & (top.mean(axis=2) > 0.35)
    # A pixel is smooth when it differs from its right-hand neighbour by under 0.02 on average over the channels.
    smooth = np.abs(np.diff(top, axis=1)).mean(axis=2) < SMOOTH_STEP
    return float((blue_sky[:, :-1] & smooth).mean()), bool(night)
