"""Merging glossaries by priority and deriving what ASR and translation use from the result."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.glossary import Glossary, Term

NAME = "name"
TERM = "term"


@dataclass(frozen=True)
class Entry:
    term: Term
    kind: str  # "name" (kept as is) | "term"
    origin: str  # "job" | "tmdb" | "project:<file>"

    def as_dict(self) -> dict:
        return {"term": self.term.term, "translations": list(self.term.translations),
                "alternatives": list(self.term.alternatives), "context": self.term.context,
                "source": self.term.source, "kind": self.kind, "origin": self.origin}


def names_from_metadata(metadata: dict, *, cast_members: bool) -> Glossary:
    """Character names (and optionally actors) as names: the full name and each part of three
    letters or more ("Raj Malhotra" -> "Raj Malhotra", "Raj", "Malhotra")."""
    glossary = Glossary()
    people: list[tuple[str, str]] = []
    for member in metadata.get("cast", []):
        for character in re.split(r"\s*/\s*", member.get("character") or ""):
            character = re.sub(r"\(.*?\)", "", character).strip()
            if character:
                people.append((character, f"character played by {member.get('name', '?')}"))
        if cast_members and member.get("name"):
            people.append((member["name"], "cast"))
    for full, context in people:
        parts = [full] + ([p for p in full.split() if len(p) >= 3 and p[0].isupper()]
                          if " " in full else [])
        for name in parts:
            if name not in glossary.terms:
                glossary.terms[name] = Term(name, (name,), (), context, "tmdb")
    return glossary


def merge(layers: list[tuple[str, str, Glossary]]) -> tuple[dict[str, Entry], list[str]]:
    """``layers``: (origin, kind, glossary), highest priority FIRST. Returns the merged entries
    and a report line for every term a higher-priority source overrode."""
    merged: dict[str, Entry] = {}
    overridden: list[str] = []
    for origin, kind, glossary in layers:
        for duplicate in glossary.duplicates:
            overridden.append(f"{origin}: {duplicate}")
        for term in glossary.terms.values():
            if term.term in merged:
                winner = merged[term.term]
                if winner.term.translations != term.translations:
                    overridden.append(f"{term.term}: {winner.origin} "
                                      f"({winner.term.translation}) wins over {origin} "
                                      f"({term.translation})")
                continue
            merged[term.term] = Entry(term, kind, origin)
    return merged, overridden


def asr_words(entries: dict[str, Entry], max_chars: int) -> str:
    """Names first, then the job's own terms, comma-separated, cut at ``max_chars``."""
    ranked = sorted((e for e in entries.values() if e.kind == NAME or e.origin == "job"),
                    key=lambda e: (e.origin != "job", e.kind != NAME, -len(e.term.term)))
    words: list[str] = []
    size = 0
    for entry in ranked:
        word = entry.term.term
        if word in words:
            continue
        if size + len(word) + 2 > max_chars:
            break
        words.append(word)
        size += len(word) + 2
    return ", ".join(words)


def alternatives(entries: dict[str, Entry]) -> dict[str, str]:
    """Alternative spelling -> preferred translation, for rewriting translations. An
    alternative that is itself a term, or the preferred form of another, is left alone."""
    preferred = {e.term.translation for e in entries.values()}
    out: dict[str, str] = {}
    for entry in entries.values():
        for alt in entry.term.alternatives:
            if alt not in entries and alt not in preferred and alt not in out:
                out[alt] = entry.term.translation
    return out
