"""The transcript files stages pass along, typed: asr's segments.json, alignment's aligned.json,
songs' segments.json (``Transcript`` of ``Segment``s of ``Word``s) and the translation stages'
segments.json (``Translation`` of ``Line``s).

``load_transcript`` / ``load_translation`` validate a file once, at the edge, so a stage reads
attributes instead of ``.get`` with defaults; ``save`` writes atomically with the schema version
first. A file keeps the shape it was written with: only the fields a stage set are written
(``exclude_unset``), so an asr segment has no ``lyrics`` until songs adds it.

Unknown fields are refused (``extra="forbid"``), as an old or a newer schema is: a stage that
adds a field adds it here and raises ``SCHEMA_VERSION``. Every refusal is an ``InputError``
naming the stage that wrote the file and ``./run-pipeline.sh -j ID --force STAGE``.
Pydantic only (every venv has it); 2,000 segments and 20,000 words load in ~0.1 s."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared import atomic
from shared.errors import InputError

__all__ = ["SCHEMA_VERSION", "Char", "Line", "Segment", "Transcript", "Translation", "Word",
           "load_any", "load_transcript", "load_translation", "save"]

# 1: the files before this module (no schema_version); 2: validated, version written first
SCHEMA_VERSION = 2
# the stages that write these files, longest first (a folder is NN_<stage>[_<lang>])
WRITERS = ("translation_llm", "translation", "alignment", "songs", "asr")


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> dict[str, Any]:
        """The fields that were set, as plain JSON data (the file's shape)."""
        return self.model_dump(mode="json", exclude_unset=True)


class Char(Record):
    """One character's time from forced alignment (``return_char_alignments``)."""

    char: str
    start: float | None = None
    end: float | None = None
    score: float | None = None


class Word(Record):
    """A word with Whisper's convention of a leading space (" word"); times in seconds, None
    where no time is known (alignment fills them in, ``interpolated`` marks those)."""

    word: str
    start: float | None = None
    end: float | None = None
    probability: float = 0.0
    interpolated: bool | None = None
    chars: list[Char] | None = None


class Segment(Record):
    """One source-language segment: asr's decoding fields, alignment's ``method`` and
    ``source_id`` (the asr segment it was cut from), songs' ``lyrics`` and ``song_score``."""

    id: int | None = None
    start: float
    end: float
    text: str = ""
    language: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    temperature: float | None = None
    words: list[Word] = []
    method: str | None = None
    source_id: int | None = None
    lyrics: bool | None = None
    song_score: float | None = None

    # what a subtitle cue reads from a translated Line; a source segment has none of it
    origin: ClassVar[None] = None
    source_text: ClassVar[None] = None


class Line(Record):
    """One translated line: the target ``text``, the ``source_text`` it translates, where it
    came from (``origin``: nmt, passthrough, empty, untranslated, llm) and, for an LLM line,
    the NMT ``draft`` it replaced."""

    id: int
    start: float
    end: float
    text: str
    source_text: str = ""
    confidence: float | None = None
    lyrics: bool = False
    origin: str = "nmt"
    source_language: str | None = None
    untranslated_reason: str | None = None
    draft: str | None = None

    # a translated line has no word times and takes the track's language
    words: ClassVar[tuple[Word, ...]] = ()
    language: ClassVar[None] = None


class Transcript(Record):
    """asr's segments.json, alignment's aligned.json and songs' segments.json: the segments
    and what asr decided about the audio (alignment adds how it timed the words)."""

    schema_version: int = SCHEMA_VERSION
    language: str | None = None
    language_probability: float | None = None
    duration: float | None = None
    model: str | None = None
    decode_passes: int | None = None
    speech_chunks: int | None = None
    speech_decoded_s: float | None = None
    language_detection: dict[str, Any] | None = None
    multilingual: dict[str, Any] | None = None
    speech_regions: list[tuple[float, float]] | None = None
    language_shares: dict[str, float] | None = None
    languages: list[str] | None = None
    method: str | None = None
    methods: dict[str, int] | None = None
    aligners: dict[str, str] | None = None
    segments: list[Segment] = []


class Translation(Record):
    """translation's and translation_llm's segments.json: the lines in the target language;
    translation_llm adds the provider and the draft it started from."""

    schema_version: int = SCHEMA_VERSION
    language: str
    source_language: str | None = None
    engine: str
    model: str | None = None
    provider: str | None = None
    draft_engine: str | None = None
    draft_model: str | None = None
    segments: list[Line] = []
    glossary: list[dict[str, Any]] = []
    units: int | None = None
    generate_calls: int | None = None
    allow_untranslated: bool = False

T = TypeVar("T", Transcript, Translation)


def writer_of(path: Path) -> tuple[str, str]:
    """(stage, job id) that wrote ``path`` (``<job>/stages/NN_<stage>[_<lang>]/<file>``);
    placeholders when the file lies elsewhere."""
    path = Path(path).absolute()
    folder = re.sub(r"^\d+_", "", path.parent.name)
    stage = next((s for s in WRITERS if folder == s or folder.startswith(s + "_")), "STAGE")
    job_dir = path.parent.parent.parent
    job_id = job_dir.name if (job_dir / "job.json").is_file() else "JOB_ID"
    return stage, job_id


def _refuse(path: Path, why: str) -> InputError:
    stage, job_id = writer_of(path)
    rerun = f"stage {stage}" if stage != "STAGE" else "the stage that wrote it"
    return InputError(f"{path} {why}: re-run {rerun}",
                      fix=f"./run-pipeline.sh -j {job_id} --force {stage}")


def _read(path: Path) -> dict[str, Any]:
    """The file's JSON object, refused unless it is of this schema version."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise _refuse(path, f"cannot be read ({e})") from e
    if not isinstance(data, dict):
        raise _refuse(path, "is not a JSON object")
    version = data.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        age = "an older" if isinstance(version, int) and version < SCHEMA_VERSION else "another"
        raise _refuse(path, f"was written by {age} version of the pipeline (schema "
                            f"{version!r}; this version reads {SCHEMA_VERSION})")
    return data


def _validate(path: Path, data: dict[str, Any], model: type[T]) -> T:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                             for err in e.errors()[:3])
        more = f" (and {e.error_count() - 3} more)" if e.error_count() > 3 else ""
        raise _refuse(path, f"is not a valid {model.__name__.lower()}: {problems}{more}") \
            from None


def load_transcript(path: Path) -> Transcript:
    """asr's segments.json, aligned.json or songs' segments.json, validated."""
    return _validate(path, _read(path), Transcript)


def load_translation(path: Path) -> Translation:
    """translation's or translation_llm's segments.json, validated."""
    return _validate(path, _read(path), Translation)


def load_any(path: Path) -> Transcript | Translation:
    """Either kind (the subtitles stage reads both): a translation names its ``engine``."""
    data = _read(path)
    return _validate(path, data, Translation if "engine" in data else Transcript)


def save(path: Path, document: Transcript | Translation) -> None:
    """Write ``document`` atomically, schema version first, with the fields that were set."""
    data = document.to_json()
    data.pop("schema_version", None)
    atomic.write_json(Path(path), {"schema_version": SCHEMA_VERSION, **data})
