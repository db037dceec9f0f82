"""The language table (config/languages.toml): validate codes, map them to names and tags, and
say which translation engines handle a language."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from shared.config_files import load_toml, validate
from shared.errors import InputError
from shared.paths import CONFIG_DIR

LANGUAGES_FILE = CONFIG_DIR / "languages.toml"
AUTO = "auto"
ENGLISH = "en"


class Language(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = ""
    name: str
    iso639_2: str
    flores: str | None = None
    script: str | None = None
    whisper: bool = False
    indic: bool = False


class LanguageTable(BaseModel):
    languages: dict[str, Language]
    nllb: dict[str, str] = Field(default_factory=dict)  # FLORES-200 code -> display name

    def get(self, code: str) -> Language:
        """A language by ISO 639-1 key, ISO 639-2 code or FLORES-200 code ('hi', 'hin',
        'hin_Deva'); a FLORES code NLLB knows but the table does not list stands for itself."""
        text = code.strip()
        key = text.lower()
        if key in self.languages:
            return self.languages[key]
        for lang in self.languages.values():
            if key == lang.iso639_2 or text == lang.flores:
                return lang
        if text in self.nllb:
            # a script variant of a listed language (zho_Hant) keeps its container tag (chi)
            base = next((lang for lang in self.languages.values()
                         if lang.flores and lang.flores[:4] == text[:4]), None)
            return Language(code=text, name=self.nllb[text], flores=text, script=text[4:],
                            iso639_2=base.iso639_2 if base else text[:3])
        raise InputError(
            f"unknown language code '{code}'",
            fix="use an ISO 639-1 code such as hi, en, ta, te, bn, gu, mr, or a FLORES-200 "
            "code such as hin_Deva (list: config/languages.toml)",
        )

    def normalize(self, code: str) -> str:
        """The table's key for ``code`` (accepts ISO 639-1 or 639-2: 'hin' -> 'hi')."""
        return self.get(code).code

    # -- translation engines ----------------------------------------------------------------
    def indictrans2_supports(self, lang: Language) -> bool:
        """IndicTrans2: the 22 scheduled languages of India and English."""
        return lang.flores is not None and (lang.indic or lang.code == ENGLISH)

    def nllb_supports(self, lang: Language) -> bool:
        return lang.flores is not None and lang.flores in self.nllb

    def engines_for(self, source: Language, target: Language) -> list[str]:
        """The machine-translation engines that can translate source -> target (the LLM engine
        handles any pair and is not listed)."""
        engines = []
        if self.indictrans2_supports(source) and self.indictrans2_supports(target):
            engines.append("indictrans2")
        if self.nllb_supports(source) and self.nllb_supports(target):
            engines.append("nllb")
        return engines


@cache
def load_languages() -> LanguageTable:
    data = load_toml(LANGUAGES_FILE)
    for code, entry in data.get("languages", {}).items():
        if isinstance(entry, dict):
            entry["code"] = code
    return validate(LanguageTable, data, LANGUAGES_FILE)


def translation_route(source: str, target: str, engine: str = "auto") -> str:
    """The NMT engine for source -> target ("indictrans2" | "nllb"), or "none" for an LLM-only
    route no NMT engine covers. Raises InputError naming the engines that can, if ``engine``
    cannot translate the pair."""
    table = load_languages()
    src, tgt = table.get(source), table.get(target)
    engines = table.engines_for(src, tgt)
    if engine in ("indictrans2", "nllb"):
        if engine not in engines:
            able = [*engines, "llm"]
            raise InputError(f"{engine} cannot translate {src.name} ({src.code}) -> "
                             f"{tgt.name} ({tgt.code})",
                             fix=f"use --set translation.engine={' or '.join(able)}")
        return engine
    if engines:
        return engines[0]
    if engine == "llm":
        return "none"
    raise InputError(f"no machine-translation engine translates {src.name} ({src.code}) -> "
                     f"{tgt.name} ({tgt.code})",
                     fix="use --set translation.engine=llm (an LLM translates any pair)")
