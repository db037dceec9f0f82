"""Language codes as users type them -> the codes config/languages.toml knows.

prepare accepts ISO 639-1 (de), 639-2/B (ger), 639-2/T and 639-3 (deu), BCP-47 tags (hi-IN,
pt-BR, zh-Hant), FLORES-200 codes (hin_Deva) and language names (German, Deutsch), and records
the table's code in job.json, so every stage reads one canonical code. langcodes parses tags
and finds names (language-data holds them); the table keeps what no library knows (FLORES
codes, Whisper support, Indic scripts). Runs in the common venv only: stages read the canonical
codes through shared.languages, which needs no library.

A region (hi-IN, pt-BR) does not change the language: Whisper, the translation engines and
the subtitle tracks (.pt.srt, tagged por) know no regional variants, so it is dropped with a
log line. A script chooses the FLORES-200 variant of a target (zh-Hant -> zho_Hant); for a
source it is dropped (Whisper transcribes the language, zh-Hant -> zh).
"""

from __future__ import annotations

import difflib
import logging
from typing import Literal

import langcodes

from shared.errors import InputError
from shared.languages import Language, LanguageTable, load_languages

logger = logging.getLogger(__name__)

Role = Literal["source", "target"]
FORMS = ("use an ISO 639 code (hi, de, deu), a BCP-47 tag (pt-BR, zh-Hant), a FLORES-200 code "
         "(hin_Deva) or an English name (German); the list: config/languages.toml")


def parse_language(text: str, role: Role) -> str:
    """The table's code for what the user typed as -s (``role`` "source") or -t ("target")."""
    table = load_languages()
    typed = text.strip()
    try:
        return table.get(typed).code  # the table's own codes: hi, hin, hin_Deva, jw, tl
    except InputError:
        pass
    for lang in table.languages.values():
        if typed.casefold() == lang.name.casefold():
            return lang.code
    tag = _tag(typed)
    if tag is None:
        raise _unknown(table, typed)
    return _from_tag(table, tag, typed, role)


def _tag(typed: str) -> langcodes.Language | None:
    """The BCP-47 tag of a code or a name, or None when langcodes knows neither."""
    try:
        tag = langcodes.Language.get(typed.replace("_", "-"))
    except ValueError:  # LanguageTagError: not tag syntax ("Brazilian Portuguese")
        tag = None
    if tag is None or tag.language in (None, "und") or not tag.is_valid():
        try:
            tag = langcodes.find(typed)
        except LookupError:
            return None
    return tag


def _from_tag(table: LanguageTable, tag: langcodes.Language, typed: str, role: Role) -> str:
    lang = _table_entry(table, tag)
    flag = "-s" if role == "source" else "-t"
    if lang is None:
        return _nllb_only(table, tag, typed, flag)
    if tag.territory:
        logger.info("%s %s: %s (%s); the region %s is not used (no engine has regional "
                    "variants)", flag, typed, lang.name, lang.code, tag.territory)
    script = tag.script
    if not script or script == lang.script or not lang.flores:
        return lang.code
    if role == "source":
        logger.info("%s %s: Whisper transcribes %s (%s); the script %s is not used", flag,
                    typed, lang.name, lang.code, script)
        return lang.code
    variant = f"{lang.flores.split('_')[0]}_{script}"
    if variant not in table.nllb:
        usual = langcodes.Language.make(script=lang.script).script_name()
        raise InputError(f"{flag} {typed}: {lang.name} in {tag.script_name()} script is not in "
                         "the language table", fix=f"use {flag} {lang.code} ({lang.name} in "
                         f"{usual} script), or add its FLORES-200 code to config/languages.toml")
    return variant


def _table_entry(table: LanguageTable, tag: langcodes.Language) -> Language | None:
    """The table's line for the tag's language: by code (also the macrolanguage, cmn -> zh),
    then by ISO 639-2/B, 639-2/T or 639-3 code (nb -> nob -> the line whose FLORES is nob_Latn)."""
    for code in (tag.language, tag.prefer_macrolanguage().language):
        if code in table.languages:
            return table.languages[code]
    alpha3 = set()
    for variant in ("T", "B"):
        try:
            alpha3.add(tag.to_alpha3(variant=variant))
        except LookupError:
            pass
    for lang in table.languages.values():
        if lang.iso639_2 in alpha3 or (lang.flores and lang.flores.split("_")[0] in alpha3):
            return lang
    return None


def _nllb_only(table: LanguageTable, tag: langcodes.Language, typed: str, flag: str) -> str:
    """A language with no line in the table but FLORES-200 codes NLLB knows (ace -> ace_Latn)."""
    try:
        alpha3 = tag.to_alpha3()
    except LookupError:
        alpha3 = tag.language or ""
    codes = [c for c in table.nllb if c.split("_")[0] == alpha3
             and (not tag.script or c.endswith(f"_{tag.script}"))]
    if len(codes) == 1:
        return codes[0]
    name = tag.display_name()
    if codes:
        raise InputError(f"{flag} {typed}: {name} is written in several scripts",
                         fix=f"name one: {', '.join(f'{flag} {c}' for c in codes)}")
    raise InputError(f"{flag} {typed}: {name} ({tag.language}) is not a language this pipeline "
                     "knows", fix="add a line to config/languages.toml, or " + FORMS)


def _unknown(table: LanguageTable, typed: str) -> InputError:
    """The error for input that is no code or name, with the table's closest entries."""
    labels: dict[str, str] = {}
    for lang in table.languages.values():
        for key in (lang.code, lang.iso639_2, lang.name.casefold()):
            labels.setdefault(key, f"{lang.name} ({lang.code})")
    close = difflib.get_close_matches(typed.casefold(), list(labels), n=6, cutoff=0.75)
    suggestions = list(dict.fromkeys(labels[c] for c in close))
    hint = f"; close matches: {', '.join(suggestions)}" if suggestions else ""
    return InputError(f"unknown language code '{typed}'{hint}", fix=FORMS)
