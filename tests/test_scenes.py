"""Where a photo was taken (indoors / outdoors, the kind of place, sky, night) and hedges that do not
mislead, on chosen class probabilities and synthetic photos."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from altgen.captioning.contract import CaptionRequest
from altgen.model.classifier.imagenet_captioner import ImageNetCaptioner
from altgen.model.classifier.scenes import INDOORS, OUTDOORS, SceneReader, kind_of, sky_and_night
from altgen.model.classifier.vocabulary import load_class_words

WORDS = load_class_words()
READER = SceneReader(WORDS)


def probs(**weights: float) -> np.ndarray:
    vector = np.full(1000, 1e-6, dtype=np.float32)
    for name, weight in weights.items():
        vector[next(i for i, w in enumerate(WORDS) if w.english == name.replace("_", " "))] = weight
    return vector


def place_of(vector: np.ndarray) -> str | None:
    place = READER.place(vector)
    return place.english if place else None


def test_objects_that_occur_together_make_a_place_and_one_alone_does_not():
    assert place_of(probs(dishwasher=0.3, microwave=0.2)) == "a kitchen"
    assert place_of(probs(teapot=0.9)) is None  # a teapot on a table is not a kitchen
    assert place_of(probs(ballplayer=0.3, scoreboard=0.2)) == "a ballpark"


def test_a_historic_building_is_said_when_its_classes_together_are_likely():
    # No single class is sure, but palace, monastery and mosque together are.
    assert place_of(probs(palace=0.26, monastery=0.26, mosque=0.14)) == "a historic building"
    assert place_of(probs(palace=0.2)) is None


def test_indoors_and_outdoors_come_from_classes_that_only_occur_on_one_side():
    assert READER.read(probs(alp=0.6, valley=0.2)).setting == OUTDOORS
    assert READER.read(probs(dining_table=0.5, china_cabinet=0.2)).setting == INDOORS
    assert READER.read(probs(espresso=0.9)).setting is None  # a cup says nothing about where it is


def test_under_water_stands_in_for_the_setting():
    scene = READER.read(probs(coral_reef=0.9))
    assert scene.sentence("en") == "Scene: under water."
    assert scene.sentence("ko") == "장면: 물속."


def test_sky_and_night_from_the_pixels():
    sky = Image.new("RGB", (200, 150), (110, 160, 230))
    ImageDraw.Draw(sky).rectangle((0, 60, 200, 150), fill=(90, 120, 60))  # a field under a blue sky
    share, night = sky_and_night(sky)
    assert share > 0.9 and not night
    dark = Image.new("RGB", (200, 150), (10, 10, 20))
    draw = ImageDraw.Draw(dark)
    for x in range(10, 200, 25):
        draw.rectangle((x, 90, x + 10, 100), fill=(255, 230, 150))  # lit windows
    assert sky_and_night(dark) == (0.0, True)
    rock = Image.new("RGB", (200, 150), (235, 230, 225))  # bright pale rock is not sky
    assert sky_and_night(rock)[0] == 0.0
    # Blue with texture (painted walls, water, roofs from the air) is not sky: stripes of two blues.
    wall = Image.new("RGB", (256, 150), (90, 130, 210))
    for x in range(0, 256, 8):
        ImageDraw.Draw(wall).rectangle((x, 0, x + 3, 150), fill=(60, 100, 200))
    assert sky_and_night(wall)[0] == 0.0
    soft = Image.new("RGB", (256, 150))
    soft.putdata([(100 + x // 16, 150 + x // 16, 230) for _y in range(150) for x in range(256)])  # a sky's gradient
    assert sky_and_night(soft)[0] > 0.9


def test_kinds_from_wordnet_chains():
    chains = {w.english: w.chain for w in WORDS}
    assert kind_of(chains["bannister"]) == "place"
    assert kind_of(chains["Great Dane"]) == "animal"
    assert kind_of(chains["golf ball"]) == "thing"
    assert kind_of(chains["alp"]) == "place"


def test_a_runner_up_of_another_kind_is_dropped_from_a_hedge(captioner):
    [claim] = captioner.claims(probs(bannister=0.4, Great_Dane=0.1, stone_wall=0.08))
    assert claim.hedged and claim.english == "bannister"
    assert [english for english, _korean in claim.others] == ["stone wall"]  # the dog is gone


def test_a_name_pooling_many_classes_is_news_only_well_above_its_background(captioner):
    # 118 breeds get 0.118 of a flat guess: 0.2 spread over them is not a dog worth naming ...
    breeds = {name: 0.2 / 4 for name in ("Great_Dane", "beagle", "Doberman", "boxer")}
    assert all(claim.english != "dog" for claim in captioner.claims(probs(**breeds)))
    # ... while one class at 0.2 is still a hedge, and a sure dog is still a dog.
    assert captioner.claims(probs(hourglass=0.2))[0].hedged
    assert [c.english for c in captioner.claims(probs(Great_Dane=0.5, beagle=0.4))] == ["dog"]


def test_a_photo_with_no_sure_object_still_says_where_it_was_taken(captioner):
    photo = Image.new("RGB", (300, 200), (110, 160, 230))
    ImageDraw.Draw(photo).rectangle((0, 120, 300, 200), fill=(90, 120, 60))
    request = captioner.preprocess(CaptionRequest(photo, "en"))
    vector = probs(alp=0.15, valley=0.15, cliff=0.12, promontory=0.1, lakeside=0.1)
    text = ImageNetCaptioner._describe(captioner, request, vector)
    assert text.startswith("Scene: outdoors, sky.")
    assert "no object recognised" not in text


def test_scenes_can_be_switched_off(captioner):
    plain = ImageNetCaptioner(scenes=False, background_lift=0.0)
    request = plain.preprocess(CaptionRequest(Image.new("RGB", (224, 224), (110, 160, 230)), "en"))
    text = ImageNetCaptioner._describe(plain, request, probs(castle=0.95))
    assert text == "Image may contain: a castle."
