"""Reading `python -m harness list` output: one row's cells across the lines rich folds them into."""

from __future__ import annotations


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
