"""The prompt for one block of lines: instructions (system), then the film's context, the
glossary terms the block uses, the neighbouring lines, and the lines to translate as JSON
({"lines": [{"id", "source", "draft"?, "song"?}]}). The same inputs always give the same
text, so the response cache can key on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

MAX_SYNOPSIS = 1200
MAX_NAMES = 40
MAX_GLOSSARY = 60

REPLY_SCHEMA = {
    "type": "object",
    "properties": {"lines": {"type": "array", "items": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
        "required": ["id", "text"], "additionalProperties": False}}},
    "required": ["lines"], "additionalProperties": False,
}


@dataclass
class Film:
    title: str
    year: int | None = None
    synopsis: str | None = None
    characters: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)

    @classmethod
    def from_metadata(cls, title: str, year: int | None, metadata: dict | None) -> Film:
        """The film's context from the job and (when the job has one) metadata.json; any
        field the metadata lacks or gives in another shape is left out."""
        film = cls(title=title, year=year)
        if isinstance(metadata, dict) and isinstance(metadata.get("film"), dict):
            metadata = {**metadata, **metadata["film"]}
        if not isinstance(metadata, dict) or metadata.get("found") is False:
            return film
        film.title = str(metadata.get("title") or title)
        year_value = metadata.get("year")
        film.year = year_value if isinstance(year_value, int) else year
        for name in ("synopsis", "overview", "plot"):
            if isinstance(metadata.get(name), str) and metadata[name].strip():
                film.synopsis = metadata[name].strip()[:MAX_SYNOPSIS]
                break
        for name in ("characters", "cast"):
            for item in metadata.get(name) or []:
                if isinstance(item, str):
                    film.characters.append(item)
                elif isinstance(item, dict):
                    # TMDB's cast: name = the actor, character = the role
                    who = item.get("character") or item.get("name")
                    actor = item.get("actor") or (item.get("name") if item.get("character")
                                                  else None)
                    if who:
                        film.characters.append(f"{who} ({actor})" if actor else str(who))
        film.characters = list(dict.fromkeys(film.characters))[:MAX_NAMES]
        film.genres = [str(g.get("name") if isinstance(g, dict) else g)
                       for g in metadata.get("genres") or []][:10]
        return film


@dataclass(frozen=True)
class Line:
    id: int
    source: str
    draft: str | None = None  # the NMT translation, when there is one
    song: bool = False


@dataclass(frozen=True)
class Languages:
    source: str  # display names ("Hindi")
    target: str


def system_prompt(languages: Languages, with_drafts: bool) -> str:
    draft_rule = (
        "- Each line may carry a machine-translation draft. Use it where it is right; rewrite "
        "it where it is wrong, stilted, literal or untranslated.\n" if with_drafts else "")
    return (
        f"You translate film subtitles from {languages.source} to {languages.target}.\n"
        "Rules:\n"
        "- Translate every line you are asked to. Give exactly one translation per line, with "
        "the line's id. Never merge, split, drop or reorder lines: the timing of each "
        "subtitle depends on it.\n"
        f"{draft_rule}"
        "- Write natural, spoken, concise subtitle language; keep the tone and register.\n"
        "- Translate idioms and proverbs by meaning, not word for word.\n"
        "- Lines marked \"song\": true are song lyrics: translate the meaning, keep it "
        "short and lyrical.\n"
        "- Keep names of people and places as they are; keep honorifics and kinship terms "
        "(ji, sahib, bhai, didi) unless the glossary says otherwise.\n"
        "- Use the glossary's translations for its terms.\n"
        "- Lines listed as context are for understanding only: do not translate them.\n"
        "Reply with JSON only, no commentary: "
        "{\"lines\": [{\"id\": <id>, \"text\": \"<translation>\"}, ...]}"
    )


def user_prompt(lines: list[Line], *, film: Film, glossary: list[dict],
                context: list[Line]) -> str:
    """``context``: the neighbouring lines (before, between and after ``lines``), in order."""
    parts = [_film_section(film)]
    terms = _glossary_section(glossary, lines)
    if terms:
        parts.append(terms)
    if context:
        parts.append("Neighbouring lines (context only, do not translate):\n"
                     + _context(context))
    items = ",\n".join(json.dumps(_line_json(line), ensure_ascii=False) for line in lines)
    parts.append(f"Translate these {len(lines)} line(s):\n" + '{"lines": [\n' + items + "\n]}")
    return "\n\n".join(parts)


def _film_section(film: Film) -> str:
    title = f"{film.title} ({film.year})" if film.year else film.title
    out = [f"Film: {title}"]
    if film.genres:
        out.append("Genres: " + ", ".join(film.genres))
    if film.synopsis:
        out.append("Synopsis: " + film.synopsis)
    if film.characters:
        out.append("Characters: " + "; ".join(film.characters))
    return "\n".join(out)


def _glossary_section(glossary: list[dict], lines: list[Line]) -> str:
    """The glossary terms that occur in the block's lines (all of a short glossary)."""
    text = "\n".join(line.source for line in lines).casefold()
    entries = [g for g in glossary if isinstance(g, dict) and g.get("term")]
    if len(entries) > 15:
        entries = [g for g in entries
                   if any(str(form).casefold() in text
                          for form in [g["term"], *(g.get("alternatives") or [])])]
    entries = entries[:MAX_GLOSSARY]
    if not entries:
        return ""
    rows = []
    for g in entries:
        spellings = "/".join([g["term"], *(g.get("alternatives") or [])])
        note = f" ({g['context']})" if g.get("context") else ""
        rows.append(f"- {spellings} => {g.get('translation') or g['term']}{note}")
    return "Glossary (use these translations):\n" + "\n".join(rows)


def _context(lines: list[Line]) -> str:
    rows = []
    for line in lines:
        if not line.source:
            continue
        row = f"[{line.id}] {line.source}"
        if line.draft:
            row += f"  =>  {line.draft}"
        rows.append(row)
    return "\n".join(rows)


def _line_json(line: Line) -> dict:
    item: dict = {"id": line.id, "source": line.source}
    if line.draft:
        item["draft"] = line.draft
    if line.song:
        item["song"] = True
    return item


def repair_note(problem: str, ids: list[int]) -> str:
    """Appended to the user prompt when a reply was rejected."""
    return (f"\n\nYour previous reply was rejected: {problem}. Reply again with exactly "
            f"{len(ids)} line(s), ids {', '.join(map(str, ids))}, one translation each, "
            "as JSON only.")
