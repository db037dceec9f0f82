"""glossary: the names and terms of this film, merged for ASR and translation (common venv).

Sources, highest priority first: the job's glossary (prepare-job.sh --glossary FILE.tsv), the
film's names from the metadata stage (TMDB characters and cast: kept as names, never
translated), the project glossaries in config/glossary/*.tsv. A term in several sources keeps
the entry of the highest priority (reported). glossary.json holds the merged terms, what ASR
gets (names and job terms as hotwords / initial prompt, within Whisper's prompt budget), what
translation protects (term -> preferred translation) and the alternative spellings it rewrites
into the preferred one ("Sri" -> "Shree")."""

from __future__ import annotations

from pydantic import Field

from shared.paths import CONFIG_DIR
from shared.stage import ResolveContext, StageParams, StageSpec

PROJECT_GLOSSARY_DIR = CONFIG_DIR / "glossary"


class GlossaryParams(StageParams):
    project_glossaries: list[str] | None = Field(
        None, description="file names in config/glossary/ to use; None = every *.tsv there")
    names_from_metadata: bool = Field(True, description="add the film's character and cast "
                                      "names from the metadata stage (TMDB)")
    cast_members: bool = Field(False, description="also the actors' names (characters are "
                               "what is spoken; actors rarely are)")
    prompt_max_chars: int = Field(200, ge=0, description="Whisper's prompt holds 224 tokens: the "
                                  "hotwords / initial prompt stop at this many characters")
    # Filled by resolve: the project files' sha256, so editing one re-runs the stage.
    project_hashes: dict[str, str] = Field(default_factory=dict)


def resolve(params: GlossaryParams, ctx: ResolveContext) -> GlossaryParams:
    """Record which project glossaries are used and their hashes, so a changed line re-runs
    the stage (and, through glossary.json, ASR and translation)."""
    from shared.errors import InputError
    from shared.file_hashes import sha256_file

    names = params.project_glossaries
    if names is None:
        names = sorted(p.name for p in PROJECT_GLOSSARY_DIR.glob("*.tsv"))
    hashes = {}
    for name in names:
        path = PROJECT_GLOSSARY_DIR / name
        if not path.is_file():
            raise InputError(f"project glossary {name} is not in {PROJECT_GLOSSARY_DIR}",
                             fix="name a .tsv file there, e.g. --set "
                             "'glossary.project_glossaries=[\"hinglish.tsv\"]'")
        hashes[name] = sha256_file(path)
    return params.model_copy(update={"project_glossaries": names, "project_hashes": hashes})


SPEC = StageSpec(
    name="glossary",
    version=1,
    params=GlossaryParams,
    inputs={"metadata": "metadata:metadata.json?", "job_glossary": "job:glossary?"},
    outputs=("glossary.json",),
    description="merge the job glossary, the film's names and the project glossaries",
    environments=("common",),
    resolve=resolve,
    process="stages.glossary.run:process",
)
