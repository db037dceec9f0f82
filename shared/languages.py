"""The language table (config/languages.toml): validate codes, map them to names and tags."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict

from shared.config_files import load_toml, validate
from shared.errors import InputError
from shared.paths import CONFIG_DIR

LANGUAGES_FILE = CONFIG_DIR / "languages.toml"
AUTO = "auto"


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

    def get(self, code: str) -> Language:
        key = code.strip().lower()
        if key in self.languages:
            return self.languages[key]
        by_iso2 = {lang.iso639_2: lang for lang in self.languages.values()}
        if key in by_iso2:
            return by_iso2[key]
        raise InputError(
            f"unknown language code '{code}'",
            fix="use an ISO 639-1 code such as hi, en, ta, te, bn, gu, mr "
            "(list: config/languages.toml)",
        )

    def normalize(self, code: str) -> str:
        """The table's key for ``code`` (accepts ISO 639-1 or 639-2: 'hin' -> 'hi')."""
        return self.get(code).code


@cache
def load_languages() -> LanguageTable:
    data = load_toml(LANGUAGES_FILE)
    for code, entry in data.get("languages", {}).items():
        if isinstance(entry, dict):
            entry["code"] = code
    return validate(LanguageTable, data, LANGUAGES_FILE)
