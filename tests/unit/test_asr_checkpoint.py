"""asr's checkpoint inside the stage: what a re-run continues from, and what it refuses."""

from __future__ import annotations

import json

from stages.asr import checkpoint

CHUNKS = [[[[0.0, 10.5]], "en"], [[[11.5, 22.0]], "en"], [[[23.0, 33.5]], "es"]]


def _record(i: int) -> dict:
    return {"id": i, "start": i * 11.5, "end": i * 11.5 + 10.0, "text": f"sentence {i}"}


def _run_two_chunks(tmp_path, fingerprint="abc"):
    """A run killed while decoding its third chunk: two chunks checkpointed, and one line of
    the third already streamed to segments.jsonl."""
    jsonl = tmp_path / "segments.jsonl"
    saved = checkpoint.Checkpoint(tmp_path / checkpoint.FILE, fingerprint, chunks=CHUNKS)
    result = {"segments": [], "language": "en", "language_probability": 0.97,
              "decode_passes": 0, "duration": 40.0}
    with open(jsonl, "wb") as stream:
        saved.save(stream, result)
        for n in range(2):
            record = _record(n)
            result["segments"].append(record)
            result["decode_passes"] += 1
            stream.write((json.dumps(record) + "\n").encode())
            saved.done, saved.speech_done_s = n + 1, saved.speech_done_s + 10.5
            saved.save(stream, result)
        stream.write((json.dumps(_record(2)) + "\n").encode())
    return jsonl


def test_a_rerun_continues_after_the_last_finished_chunk_and_drops_the_cut_one(tmp_path):
    jsonl = _run_two_chunks(tmp_path)
    saved, records = checkpoint.load(tmp_path / checkpoint.FILE, "abc", jsonl)
    assert (saved.done, saved.chunks, saved.speech_done_s) == (2, CHUNKS, 21.0)
    assert records == [_record(0), _record(1)]  # the third chunk's line is decoded again
    assert saved.decided == {"language": "en", "language_probability": 0.97,
                             "decode_passes": 2}
    assert saved.jsonl_bytes == len(b"".join((json.dumps(r) + "\n").encode() for r in records))


def test_a_checkpoint_of_another_run_or_a_shortened_jsonl_starts_over(tmp_path):
    jsonl = _run_two_chunks(tmp_path)
    other, records = checkpoint.load(tmp_path / checkpoint.FILE, "changed-params", jsonl)
    assert (other.chunks, other.done, records) == ([], 0, [])
    jsonl.write_bytes(jsonl.read_bytes()[:20])
    shortened, records = checkpoint.load(tmp_path / checkpoint.FILE, "abc", jsonl)
    assert (shortened.chunks, shortened.done, records) == ([], 0, [])


def test_without_a_fingerprint_nothing_is_kept(tmp_path):
    jsonl = _run_two_chunks(tmp_path, fingerprint=None)
    assert not (tmp_path / checkpoint.FILE).exists()
    saved, records = checkpoint.load(tmp_path / checkpoint.FILE, None, jsonl)
    assert (saved.done, records) == (0, [])
