"""songs: mark the ASR segments that are song lyrics, in the whisperx venv.

Writes ``segments.json`` (the input segments, each with ``lyrics`` and ``song_score`` added,
everything else unchanged: translation and subtitles read it in preference to aligned.json)
and ``songs.json`` (the song regions, every segment's evidence and the thresholds used).

Evidence per segment, each mapped onto 0..1 by a linear ramp between two documented values:

* audio (``features.py``), read per segment range, never the whole file:
  with source separation: the accompaniment's energy relative to the vocals (a music bed),
  sustained pitched vocals (voiced-frame ratio, share of the voiced time in stable notes, from
  a YIN f0 track on the vocals) and the accompaniment's onset regularity (a beat);
  without: the same pitch measures on the mixture, its spectral flatness (tonal music is not
  flat), harmonicity (1 - YIN aperiodicity) and onset regularity;
* singing: the voice measures alone (sustained, voiced, tonality: the vocals' spectral
  flatness with separation, the mixture's without), weighted by ``singing_weights``. A
  segment is lyrics only when this reaches ``singing_threshold``: a music bed, a beat or
  refrains without singing are no song;
* text (``text.py``): repetition (word n-grams that recur in nearby segments or within the
  line: refrains) and short lines; text only raises the audio score, never lowers it
  (verses need not repeat), and only as far as there is singing (a film's recurring
  dialogue is no refrain);
* soundtrack (``decide.py``), when the metadata stage found one: a contiguous run of likely
  lyrics about as long as a track supports itself, and a region is matched to a track.

Then the flags are smoothed: a majority vote over neighbouring segments removes isolated
flips, a song takes in neighbours that score at least ``run_threshold`` (hysteresis), and
regions shorter than ``min_song_s`` are dropped; neither the vote nor the growing makes an
unsung segment lyrics (a spoken line inside a song keeps the song whole but is no lyrics).
The contract is here; the work is in run.py (`python -m shared.stage_main stages.songs --job DIR`).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from shared.stage import ResolveContext, StageParams, StageSpec

ANALYSIS_RATE = 16000

SEPARATED_WEIGHTS = {"bed": 0.35, "sustained": 0.35, "voiced": 0.1, "rhythm": 0.2,
                     "tonality": 0.0}
MIXTURE_WEIGHTS = {"sustained": 0.3, "voiced": 0.05, "tonality": 0.15, "continuity": 0.2,
                   "harmonicity": 0.0, "rhythm": 0.3}
SINGING_WEIGHTS = {"sustained": 0.3, "voiced": 0.1, "tonality": 0.6}


class SongsParams(StageParams):
    """Defaults set on generated songs and speech (tests/integration/test_songs.py) and the
    usual ranges of the measures: speech has short voiced stretches with gliding pitch and no
    beat; singing holds notes for a quarter second and more over a rhythmic, tonal bed."""

    threshold: float = Field(
        0.45, ge=0.0, le=1.0, description="a segment whose combined score reaches this is "
        "lyrics (before smoothing); on the test clips speech scored <= 0.22, songs >= 0.40 "
        "(speech over a bed, mixture only) and >= 0.6 with separation, before text")
    text_weight: float = Field(
        0.35, ge=0.0, le=1.0, description="how far text evidence raises the audio score: "
        "score = audio + text_weight x text x singing x (1 - audio); 0 = audio only")
    singing_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="a segment is lyrics only when its singing "
        "evidence reaches this, before smoothing and after it; on the labelled set "
        "(bench/songs_detection.py) dialogue scored <= 0.4, sung lines >= 0.58 (mixture) "
        "and >= 0.96 (separated)")
    singing_weights: dict[str, float] = Field(
        default_factory=lambda: dict(SINGING_WEIGHTS), description="the singing evidence: "
        "these audio measures (sustained, voiced, tonality: the vocals' with separation, "
        "the mixture's without) and their weights")
    separated_weights: dict[str, float] = Field(
        default_factory=lambda: dict(SEPARATED_WEIGHTS), description="audio measures and "
        "their weights with source separation (bed, sustained, voiced, rhythm; tonality "
        "of the vocals, weight 0: it counts as singing evidence)")
    mixture_weights: dict[str, float] = Field(
        default_factory=lambda: dict(MIXTURE_WEIGHTS), description="audio measures and "
        "their weights without it (sustained, voiced, tonality, continuity, harmonicity, "
        "rhythm)")
    # the ramps: a measure at the first value counts 0, at the second 1, linear between
    bed_db: tuple[float, float] = Field(
        (-30.0, -12.0), description="accompaniment energy relative to the vocals, dB: "
        "separated dialogue leaves little (< -30 dB); a music bed is within ~10 dB")
    voiced_ratio: tuple[float, float] = Field(
        (0.65, 0.9), description="voiced frames / non-silent frames: speech ~0.4-0.75 "
        "(consonants, short pauses), singing ~0.9+")
    sustained_ratio: tuple[float, float] = Field(
        (0.1, 0.4), description="share of the voiced time inside notes: at least "
        "note_min_s with the pitch within note_range_semitones")
    flatness_db: tuple[float, float] = Field(
        (-20.0, -40.0), description="median spectral flatness (100-5000 Hz) of non-silent "
        "frames, dB, reversed: speech -5 to -23 dB (espeak-ng's clean voice is the most "
        "tonal), chords and held notes -40 to -50 dB")
    floor_db: tuple[float, float] = Field(
        (-25.0, -10.0), description="level floor: the 10th percentile of the 10 ms frame "
        "levels relative to the 90th, dB; pauses between words are deep in dialogue (-20 to "
        "-60 dB), a music bed fills them (-5 to -10 dB)")
    harmonicity: tuple[float, float] = Field(
        (0.6, 0.85), description="mean 1 - YIN aperiodicity of non-silent frames (weight 0 "
        "by default: a polyphonic bed lowers it as much as noisy speech does)")
    rhythm: tuple[float, float] = Field(
        (0.2, 0.5), description="onset regularity: the highest normalised autocorrelation of "
        "the onset envelope at a beat period between min_beat_s and max_beat_s")
    repetition: tuple[float, float] = Field(
        (0.0, 0.6), description="share of the line's word n-grams that recur (nearby or in "
        "the line)")
    short_line_words: tuple[float, float] = Field(
        (12.0, 4.0), description="words in the line, reversed: lyric lines are short")
    repetition_weight: float = Field(
        0.75, ge=0.0, le=1.0, description="text score = this x repetition + the rest x short")
    ngram: int = Field(3, ge=1, description="words per n-gram for repetition (shorter lines "
                       "count as one n-gram)")
    repeat_window_s: float = Field(
        90.0, gt=0, description="seconds either side in which a repeated n-gram counts")
    # smoothing and regions
    neighbours: int = Field(
        2, ge=0, description="segments either side in the majority vote that smooths the "
        "flags (0 = no vote)")
    max_gap_s: float = Field(
        8.0, ge=0, description="a longer pause between segments ends a song (and the vote)")
    min_song_s: float = Field(
        20.0, ge=0, description="shorter regions of lyrics are dropped (a hummed line)")
    min_song_segments: int = Field(2, ge=1, description="fewer segments are no song")
    # soundtrack
    run_threshold: float = Field(
        0.35, ge=0.0, le=1.0, description="likely lyrics: a song run takes in neighbouring "
        "segments scoring at least this (hysteresis), and runs of them as long as a "
        "soundtrack track get soundtrack_bonus")
    soundtrack_bonus: float = Field(
        0.15, ge=0.0, le=1.0, description="added to the segments of a run of likely lyrics "
        "as long as a soundtrack track")
    track_length_ratio: tuple[float, float] = Field(
        (0.4, 1.25), description="a run or song matches a track whose length x these bounds "
        "holds the run's duration (films often cut songs short)")
    # analysis
    f0_min: float = Field(70.0, gt=20, description="lowest pitch tracked, Hz")
    f0_max: float = Field(900.0, gt=50, description="highest pitch tracked, Hz")
    yin_threshold: float = Field(
        0.15, gt=0, lt=1, description="YIN: the first dip below this is the period")
    voicing_threshold: float = Field(
        0.3, gt=0, lt=1, description="a frame is voiced when its YIN aperiodicity is below")
    note_min_s: float = Field(0.25, gt=0, description="shortest held note, seconds")
    note_range_semitones: float = Field(
        1.0, gt=0, description="pitch range allowed inside a note (vibrato fits)")
    silence_dbfs: float = Field(
        -50.0, le=0, description="frames quieter than this (RMS) are silence, not counted")
    rhythm_context_s: float = Field(
        8.0, ge=2.0, description="onset regularity looks at least this much audio around "
        "the segment's centre (a beat needs a few periods)")
    min_beat_s: float = Field(0.3, gt=0, description="shortest beat period (200 bpm)")
    max_beat_s: float = Field(1.5, gt=0, description="longest beat period (40 bpm)")
    cpu_threads: int = Field(0, ge=0, description="segments measured at once (numpy's FFTs "
                             "free the GIL); 0 = the machine default")

    @model_validator(mode="after")
    def _consistent(self) -> SongsParams:
        if self.f0_min >= self.f0_max:
            raise ValueError(f"f0_min ({self.f0_min}) must be below f0_max ({self.f0_max})")
        if self.min_beat_s >= self.max_beat_s:
            raise ValueError("min_beat_s must be below max_beat_s")
        for name, allowed in (("separated_weights", SEPARATED_WEIGHTS),
                              ("mixture_weights", MIXTURE_WEIGHTS),
                              ("singing_weights", SINGING_WEIGHTS)):
            weights = getattr(self, name)
            unknown = sorted(set(weights) - set(allowed))
            if unknown:
                raise ValueError(f"{name}: unknown measure(s) {unknown}; expected some of "
                                 f"{sorted(allowed)}")
            if any(w < 0 for w in weights.values()) or not sum(weights.values()) > 0:
                raise ValueError(f"{name}: weights must be >= 0 and not all 0")
        return self


def resolve(params: SongsParams, ctx: ResolveContext) -> SongsParams:
    """The machine's threads, where the job sets none (not fingerprinted: the measures do
    not depend on them)."""
    return params.model_copy(update={
        "cpu_threads": params.cpu_threads or ctx.hardware.defaults.cpu_threads})


SPEC = StageSpec(
    name="songs",
    version=2,
    params=SongsParams,
    inputs={"segments": ("alignment:aligned.json", "asr:segments.json"),
            "audio": "demux:audio_16k.wav",
            "vocals": "source_separation:vocals.wav?",
            "accompaniment": "source_separation:accompaniment.wav?",
            "metadata": "metadata:metadata.json?"},
    outputs=("segments.json", "songs.json"),
    description="mark the segments that are song lyrics (audio, repetition, soundtrack)",
    environments=("whisperx",),
    process="stages.songs.run:process",
    setup="stages.songs.run:setup",
    resolve=resolve,
)
