"""The language recheck judges each segment by its own words, not by faster-whisper's
avg_logprob, which is the whole 30-s window's (shared by a made-up line and its neighbours)."""

from __future__ import annotations

import math
from types import SimpleNamespace as Seg

from stages.asr.recheck import doubtful_regions, mean_logprob, segment_logprob


def words(*probabilities: float) -> list:
    return [Seg(probability=p) for p in probabilities]


def test_a_segment_is_judged_by_its_own_words_not_its_window():
    good = Seg(start=0.0, end=2.0, avg_logprob=-0.25, words=words(0.98, 0.95, 0.9))
    made_up = Seg(start=2.0, end=4.0, avg_logprob=-0.25, words=words(0.9, 0.3, 0.28, 0.6))
    spanish = Seg(start=4.0, end=9.0, avg_logprob=-0.69, words=words(0.8, 0.03, 0.5, 0.6))
    assert segment_logprob(good) > -0.1
    assert segment_logprob(made_up) == sum(map(math.log, (0.9, 0.3, 0.28, 0.6))) / 4
    # the window's figure would call the tail region fine: (-0.25 - 0.69) / 2 = -0.47
    assert doubtful_regions([(2.0, 9.0)], [made_up, spanish], -0.5, 2.0) == [(2.0, 9.0)]
    assert doubtful_regions([(0.0, 2.0)], [good], -0.5, 2.0) == []
    no_words = Seg(start=0.0, end=3.0, avg_logprob=-0.3, words=None)
    assert segment_logprob(no_words) == -0.3  # no word times: the window's, as before
    assert mean_logprob([]) == float("-inf")
