"""Reading `python -m harness list` output: one row's cells across the lines rich folds them into
(`--verbose` tables and the matrix alike), the matrix's cells by row and column, its footnotes."""

from __future__ import annotations

import re

FOOTNOTE = re.compile(r"^\s*\[(\d+)\] (.*)$")


def words(text: str) -> str:
    return " ".join(text.split())


def row_text(output: str, name: str) -> str:
    """The cells of row `name` (its first line and the continuation lines below it, whose first
    cell is empty), each cell's words joined by single spaces, cells by " | "."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"│ {name} "))
    rows = [lines[start].split("│")[1:-1]]
    for line in lines[start + 1:]:
        cells = line.split("│")[1:-1]
        if not line.startswith("│ ") or cells[0].strip():
            break
        rows.append(cells)
    columns = zip(*rows)
    return " | ".join(" ".join(" ".join(column).split()) for column in columns)


def matrix(output: str) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """The matrix's column headers, and (row name, {header: cell}) for each of its rows in
    order (a name listed twice stays twice)."""
    lines = output.splitlines()
    headers = [words(cell) for cell in next(line for line in lines if line.startswith("┃"))
               .split("┃")[1:-1]]
    rows = []
    for line in lines:
        if line.startswith("│ ") and line.split("│")[1].strip():
            name = line.split("│")[1].strip()
            cells = row_text(output[output.index(line):], name).split(" | ")
            rows.append((name, dict(zip(headers, cells))))
    return headers, rows


def footnotes(output: str) -> dict[int, str]:
    """Number -> the footnote's text (its words joined by single spaces) below the matrix: a
    line `[n] text`, and the indented lines under it."""
    notes: dict[int, list[str]] = {}
    current = None
    for line in output.splitlines():
        found = FOOTNOTE.match(line)
        if found:
            current = int(found.group(1))
            notes[current] = [found.group(2)]
        elif current is not None and line.startswith(" ") and line.strip():
            notes[current].append(line)
        else:
            current = None
    return {number: words(" ".join(text)) for number, text in notes.items()}
