"""Glossary files: TSV with the columns term, translation(s), alternatives, context, source.

    # comment lines and blank lines are ignored; a first line starting with "term" is a header
    Shree<TAB>Shree<TAB>Sri|Shri<TAB>name of the lead<TAB>tmdb

Several preferred translations or alternatives are separated by "|". A term listed twice keeps
its later entry (reported). A line with a missing term or translation is an error that names
its line number."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import InputError

COLUMNS = ("term", "translation", "alternatives", "context", "source")


@dataclass(frozen=True)
class Term:
    term: str
    translations: tuple[str, ...]
    alternatives: tuple[str, ...] = ()
    context: str = ""
    source: str = ""

    @property
    def translation(self) -> str:
        return self.translations[0]


@dataclass
class Glossary:
    terms: dict[str, Term] = field(default_factory=dict)  # by term
    duplicates: list[str] = field(default_factory=list)  # "term (line N replaces line M)"

    def __len__(self) -> int:
        return len(self.terms)


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split("|") if part.strip())


def parse(text: str, origin: str = "glossary") -> Glossary:
    glossary = Glossary()
    seen_at: dict[str, int] = {}
    first = True  # the header, if any, is the first line that is no comment
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        header, first = first and cells[0].lower() == "term", False
        if header:
            continue
        if len(cells) > len(COLUMNS):
            raise InputError(f"{origin} line {number}: {len(cells)} columns, at most "
                             f"{len(COLUMNS)} ({', '.join(COLUMNS)})",
                             fix="separate the columns with one tab each")
        cells += [""] * (len(COLUMNS) - len(cells))
        term, translations = cells[0], _split(cells[1])
        if not term or not translations:
            what = "term" if not term else "translation"
            raise InputError(f"{origin} line {number}: no {what} in {line!r}",
                             fix="write: term<TAB>translation[<TAB>alternatives<TAB>context"
                             "<TAB>source], columns separated by tabs")
        if term in seen_at:
            glossary.duplicates.append(f"{term} (line {number} replaces line {seen_at[term]})")
        seen_at[term] = number
        glossary.terms[term] = Term(term, translations, _split(cells[2]), cells[3], cells[4])
    return glossary


def load(path: Path) -> Glossary:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError(f"glossary {path} does not exist",
                         fix="check the --glossary path") from None
    except UnicodeDecodeError:
        raise InputError(f"glossary {path} is not UTF-8 text",
                         fix="save it as UTF-8 (tab-separated values)") from None
    return parse(text, origin=str(path))
