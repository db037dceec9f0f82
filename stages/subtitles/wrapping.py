"""Line breaking inside one cue: the fewest lines that fit, breaking after punctuation and
before conjunctions, never inside a name, two lines balanced as a bottom-heavy pyramid."""

from __future__ import annotations

import math

from shared.subtitle_text import graphemes
from stages.subtitles.text import break_cost, joins_previous

NAME_BREAK = 1000.0


def _shape_cost(top: int, bottom: int) -> float:
    """Balanced lines cost little; a top line longer than the one below it costs more."""
    return 0.5 * abs(top - bottom) + 1.0 * max(0, top - bottom)


def _layout(words: list[str], max_chars: int, lines: int, allow_name_breaks: bool
            ) -> list[str] | None:
    n = len(words)
    prefix = [0]
    for word in words:
        prefix.append(prefix[-1] + graphemes(word))

    def width(i: int, j: int) -> int:
        return prefix[j] - prefix[i] + (j - i - 1)

    costs = [break_cost(words[k - 1], words[k]) for k in range(1, n)]  # break before k
    inf = math.inf
    # best[l][j]: (cost, previous break, width of the last line) for words[:j] in l lines
    best: list[list[tuple[float, int, int]]] = [[(inf, -1, 0)] * (n + 1)
                                                for _ in range(lines + 1)]
    best[0][0] = (0.0, -1, 0)
    for count in range(1, lines + 1):
        for j in range(1, n + 1):
            for i in range(j - 1, -1, -1):
                w = width(i, j)
                if w > max_chars and j - i > 1:
                    break
                prev_cost, _, prev_width = best[count - 1][i]
                if prev_cost == inf:
                    continue
                cost = prev_cost
                if i > 0:
                    brk = costs[i - 1]
                    if brk >= NAME_BREAK and not allow_name_breaks:
                        continue
                    cost += brk + _shape_cost(prev_width, w)
                if w > max_chars:
                    cost += 10_000.0  # a single word wider than a line
                if cost < best[count][j][0]:
                    best[count][j] = (cost, i, w)
        if best[count][n][0] < inf:
            result, j = [], n
            for level in range(count, 0, -1):
                i = best[level][j][1]
                result.append(" ".join(words[i:j]))
                j = i
            return result[::-1]
    return None


def wrap(text: str | list[str], max_chars: int, max_lines: int) -> list[str]:
    """Lines for ``text`` (or its words). More than ``max_lines`` lines, or a line longer than
    ``max_chars``, only when the text cannot fit; the caller splits such a cue."""
    words = text.split() if isinstance(text, str) else [w for w in text if w]
    if not words:
        return []
    for allow in (False, True):
        lines = _layout(words, max_chars, max_lines, allow)
        if lines is not None:
            return lines
    return greedy(words, max_chars)


def name_units(words: list[str]) -> list[list[str]]:
    """Words grouped so that a name's parts stay together."""
    units: list[list[str]] = []
    for word in words:
        if units and joins_previous(units[-1][-1], word):
            units[-1].append(word)
        else:
            units.append([word])
    return units


def greedy(words: list[str], max_chars: int) -> list[str]:
    """Lines filled one after the other, names kept whole where they fit on a line: the
    fewest lines any layout can have."""
    lines: list[str] = []
    current = ""
    for unit in name_units(words):
        parts = [" ".join(unit)] if graphemes(" ".join(unit)) <= max_chars else unit
        for part in parts:
            candidate = f"{current} {part}" if current else part
            if current and graphemes(candidate) > max_chars:
                lines.append(current)
                current = part
            else:
                current = candidate
    return lines + [current] if current else lines


def fits(lines: list[str], max_chars: int, max_lines: int) -> bool:
    return len(lines) <= max_lines and all(graphemes(line) <= max_chars for line in lines)
