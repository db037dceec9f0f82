"""translation's blocks over shared.checkpoint, without a model: an engine that upper-cases
and records what it was asked, failing on a chosen call as a crash would."""

from __future__ import annotations

import pytest

from shared.stage import StageRequest
from stages.translation import resume
from stages.translation.engine import LanguagePair, Translation

PAIR = LanguagePair("hi", "en", "hin_Deva", "eng_Latn")
TEXTS = [f"line {i}" for i in range(7)]  # blocks of 3: [0-2], [3-5], [6]


class Engine:
    def __init__(self, fail_on_call: int | None = None) -> None:
        self.asked: list[list[str]] = []
        self.generate_calls = 0
        self.fail_on_call = fail_on_call

    def translate(self, texts: list[str], pair: LanguagePair) -> list[Translation]:
        if len(self.asked) + 1 == self.fail_on_call:
            raise RuntimeError("killed")
        self.asked.append(list(texts))
        self.generate_calls += 2  # two batches a block
        return [Translation(t.upper(), -0.25 * len(t)) for t in texts]


def request(tmp_path, fingerprint: str | None = "run-1") -> StageRequest:
    return StageRequest(job_id="j", job_dir=tmp_path, stage="translation", key="translation:en",
                        lang="en", stage_dir=tmp_path, deliverables_dir=tmp_path, title="T",
                        media=tmp_path / "m.wav", params={}, inputs={},
                        fingerprint=fingerprint)


def test_a_rerun_translates_only_the_blocks_after_the_last_finished_one(tmp_path):
    with pytest.raises(RuntimeError):
        resume.translate(Engine(fail_on_call=3), TEXTS, PAIR, request(tmp_path), 3)
    engine = Engine()
    outputs, calls, info = resume.translate(engine, TEXTS, PAIR, request(tmp_path), 3)
    assert engine.asked == [["line 6"]]
    assert outputs == [Translation(t.upper(), -0.25 * len(t)) for t in TEXTS]
    assert calls == 6  # the whole run's: two blocks before the crash, one after
    assert info == {"blocks": 3, "resumed_after_block": 2, "blocks_translated": 1}
    resume.finish(request(tmp_path))
    assert not (tmp_path / "checkpoint.json").exists()
    assert not (tmp_path / resume.RECORDS).exists()


def test_another_fingerprint_or_none_starts_from_the_first_block(tmp_path):
    with pytest.raises(RuntimeError):
        resume.translate(Engine(fail_on_call=2), TEXTS, PAIR, request(tmp_path), 3)
    engine = Engine()
    outputs, _, info = resume.translate(engine, TEXTS, PAIR, request(tmp_path, "run-2"), 3)
    assert engine.asked == [TEXTS[0:3], TEXTS[3:6], TEXTS[6:]]
    assert info["resumed_after_block"] == 0 and len(outputs) == 7
    resume.finish(request(tmp_path))
    with pytest.raises(RuntimeError):
        resume.translate(Engine(fail_on_call=2), TEXTS, PAIR, request(tmp_path, None), 3)
    assert not (tmp_path / "checkpoint.json").exists()  # a run by hand keeps nothing
