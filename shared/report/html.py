"""Rendering the review report and the library index with jinja2 (autoescape on: every
string from media, titles, transcripts and glossaries is text). The page's data goes in a
<script type="application/json"> with <, > and & escaped as \\u003c..., so a transcript
holding "</script>" cannot end the block; CSS and JS are the project's files, inlined."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared import atomic

TEMPLATES = Path(__file__).parent / "templates"
REPORT_FILE = "report.html"


@lru_cache(maxsize=1)
def environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no "<", ">" or "&", no line separators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def asset(name: str):
    """A project CSS/JS file, trusted and inlined as is (it holds no job data)."""
    from markupsafe import Markup

    return Markup((TEMPLATES / name).read_text("utf-8"))


def render_report(collected: dict[str, Any]) -> str:
    from markupsafe import Markup

    template = environment().get_template("report.html.j2")
    return template.render(css=asset("report.css"), js=asset("report.js"),
                           data_json=Markup(script_json(collected["data"])), **{
                               k: v for k, v in collected.items() if k != "data"})


def render_index(rows: list[dict], root: str, updated: str) -> str:
    template = environment().get_template("index.html.j2")
    return template.render(css=asset("report.css"), js=asset("index.js"), jobs=rows, root=root,
                           updated=updated)


def write_report(job_dir: Path) -> Path:
    """Collect and write <job>/report.html (atomically); returns its path."""
    from shared.report.data import collect

    path = job_dir / REPORT_FILE
    atomic.write_text(path, render_report(collect(job_dir)))
    return path
