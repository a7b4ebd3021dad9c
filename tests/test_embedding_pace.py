"""Turns of embedding are sized by time, so a large ranking request yields to others as often with a
slow encoder or long texts as with a fast encoder and short ones."""

from altgen.ranking.pace import FIRST_TURN_UNITS, MOST_UNITS_PER_TURN, TEXT_OVERHEAD, EmbeddingPace, cost


def test_the_first_turn_has_a_fixed_cost_then_turns_take_about_the_target_time():
    pace = EmbeddingPace(turn_s=0.25)
    short = ["x" * (100 - TEXT_OVERHEAD)] * 100  # 100 units each
    assert pace.turn_units() == FIRST_TURN_UNITS and pace.turn_size(short) == FIRST_TURN_UNITS // 100
    pace.record(2_000, 1.0)  # 2,000 characters a second
    assert pace.turn_units() == 500 and pace.turn_size(short) == 5
    assert pace.turn_size(["y" * 4000] * 3) == 1  # a turn holds at least one text, however long
    assert pace.seconds_for(cost(short)) == 5.0


def test_recent_turns_count_most_and_sizes_stay_within_bounds():
    pace = EmbeddingPace(turn_s=0.25)
    assert pace.seconds_for(1000) is None  # nothing measured yet
    pace.record(400, 1.0)
    pace.record(100, 1.0)  # the machine got busy
    assert pace.turn_units() == round(250 * 0.25)
    pace.record(1, 60.0)
    pace.record(1, 60.0)
    assert pace.turn_units() >= 1
    pace.record(10**9, 0.001)
    assert pace.turn_units() == MOST_UNITS_PER_TURN
    pace.record(0, 0.0)  # nothing timed: no change
    assert pace.turn_units() == MOST_UNITS_PER_TURN
