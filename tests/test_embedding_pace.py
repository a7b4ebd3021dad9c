"""Turns of embedding are sized by time, so a large ranking request yields to others as often with a
slow encoder as with a fast one."""

from altgen.ranking.pace import FIRST_TURN, MOST_PER_TURN, EmbeddingPace


def test_the_first_turn_has_a_fixed_size_then_turns_take_about_the_target_time():
    pace = EmbeddingPace(turn_s=0.25)
    assert pace.turn_size() == FIRST_TURN
    pace.record(16, 0.8)  # 50 ms a text
    assert pace.turn_size() == 5
    fast = EmbeddingPace(turn_s=0.25)
    fast.record(16, 0.05)  # 320 texts a second
    assert fast.turn_size() == 80


def test_recent_turns_count_most_and_sizes_stay_within_bounds():
    pace = EmbeddingPace(turn_s=0.25)
    pace.record(100, 0.25)  # 400/s
    pace.record(100, 1.0)  # the machine got busy: 100/s
    assert pace.turn_size() == round(250 * 0.25)
    pace.record(1, 60.0)
    pace.record(1, 60.0)
    assert pace.turn_size() >= 1
    pace.record(10**6, 0.001)
    assert pace.turn_size() == MOST_PER_TURN
    pace.record(0, 0.0)  # nothing timed: no change
    assert pace.turn_size() == MOST_PER_TURN
