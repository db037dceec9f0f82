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
Pydantic only (every venv has it). A 2-hour film (2,000 segments, 20,000 words, 3.7 MB) loads
in 0.21 s and saves in 0.13 s on the loaded 2-core test machine (bench/transcript_io.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared import atomic
from shared.errors import InputError

__all__ = ["SCHEMA_VERSION", "Char", "Line", "Segment", "Transcript", "Translation", "Word",
           "load_any", "load_transcript", "load_translation", "save"]

# 1: the files before this module (no schema_version); 2: validated, version written first
SCHEMA_VERSION = 2
# the stages that write these files, longest first (a folder is NN_<stage>[_<lang>])
WRITERS = ("translation_llm", "translation", "alignment", "songs", "asr")
# where a translated line's text came from: the NMT engine, the source as it is (already in
# the target language, or nothing to translate), no translation (shown as the source), the LLM
Origin = Literal["nmt", "passthrough", "empty", "untranslated", "llm"]


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
    origin: Origin = "nmt"
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
    language_candidates: dict[str, float] | None = None
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


def _refuse_version(path: Path, version: Any) -> InputError:
    age = "an older" if isinstance(version, int) and version < SCHEMA_VERSION else "another"
    return _refuse(path, f"was written by {age} version of the pipeline (schema {version!r}; "
                         f"this version reads {SCHEMA_VERSION})")


def _explain(path: Path, raw: bytes, errors: dict[type[BaseModel], ValidationError]
             ) -> InputError:
    """Why a file that did not validate is refused: not JSON, another schema version (an old
    file is told to re-run its stage, not listed field by field), or its first problems."""
    try:
        data = json.loads(raw)
    except ValueError as e:
        return _refuse(path, f"cannot be read ({e})")
    if not isinstance(data, dict):
        return _refuse(path, "is not a JSON object")
    if data.get("schema_version", 1) != SCHEMA_VERSION:
        return _refuse_version(path, data.get("schema_version", 1))
    model = Translation if "engine" in data else Transcript
    model = model if model in errors else next(iter(errors))
    error = errors[model]
    problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                         for err in error.errors()[:3])
    more = f" (and {error.error_count() - 3} more)" if error.error_count() > 3 else ""
    return _refuse(path, f"is not a valid {model.__name__.lower()}: {problems}{more}")


def _load(path: Path, models: tuple[type[T], ...]) -> T:
    """The file validated straight from its bytes (pydantic's JSON parser: as fast as
    json.loads alone) as the first of ``models`` that accepts it."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise _refuse(path, f"cannot be read ({e.strerror})") from e
    errors: dict[type[BaseModel], ValidationError] = {}
    for model in models:
        try:
            document = model.model_validate_json(raw)
        except ValidationError as e:
            errors[model] = e
            continue
        if "schema_version" not in document.model_fields_set \
                or document.schema_version != SCHEMA_VERSION:
            raise _refuse_version(path, document.schema_version
                                  if "schema_version" in document.model_fields_set else 1)
        return document
    raise _explain(path, raw, errors) from None


def load_transcript(path: Path) -> Transcript:
    """asr's segments.json, aligned.json or songs' segments.json, validated."""
    return _load(path, (Transcript,))


def load_translation(path: Path) -> Translation:
    """translation's or translation_llm's segments.json, validated."""
    return _load(path, (Translation,))


def load_any(path: Path) -> Transcript | Translation:
    """Either kind (the subtitles stage reads both): a translation names its ``engine``,
    which a transcript does not have."""
    return _load(path, (Translation, Transcript))


def save(path: Path, document: Transcript | Translation) -> None:
    """Write ``document`` atomically, schema version first, with the fields that were set
    (pydantic's serializer: ~4x faster than json.dumps with an indent)."""
    versioned = document.model_copy(update={"schema_version": SCHEMA_VERSION})
    atomic.write_text(Path(path), versioned.model_dump_json(indent=2, exclude_unset=True) + "\n")
