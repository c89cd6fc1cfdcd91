"""The matrix `python -m harness list` prints by default: one line per row, one column per
benchmark, each cell ✓ (ready), - (the row has no entry point for it) or a footnote mark; below
it each distinct reason or caveat once, numbered in order of first appearance, with its fix, and
which rows run each precision beyond the default."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from harness import benchmarks, registry, versions

HEADER_WIDTH = 6  # a longer benchmark name is cut to fit ("transformer" -> "trans.")


def interpreter_label(impl: registry.Row) -> str:
    """Which Python starts this row's child processes."""
    if impl.environment:
        return f"envs/{impl.environment} venv"
    if impl.language == "julia":
        return "this Python + juliacall"
    return "this Python"


def caveats(ready: registry.Readiness, found: versions.RowVersions) -> list[tuple[str, str]]:
    """(caveat, fix) for each thing a ready row's user should know: it runs on the CPU although
    the machine has a GPU, the row's own notice, versions outside the supported or tested set."""
    marks = [(f"runs on the CPU although this machine has a GPU: {found.on_cpu}", found.cpu_fix)
             ] if found.on_cpu else []
    if ready.note:
        marks.append((ready.note, ""))
    return marks + [(note, "") for note in found.notes]


@dataclass
class Footnote:
    number: int
    text: str
    problem: bool  # why a cell is not ready (red), else a ready row's caveat (yellow)
    # fix -> the rows it is for: rows can share a reason and not its fix ("torch is not
    # installed" is `.[torch]` for pytorch, `.[keras]` for keras-torch).
    fixes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def style(self) -> str:
        return "red" if self.problem else "yellow"


class Footnotes:
    """The distinct reasons and caveats of a matrix, each numbered once."""

    def __init__(self) -> None:
        self.by_text: dict[str, Footnote] = {}

    def mark(self, text: str, fix: str, row: str, problem: bool) -> int:
        note = self.by_text.setdefault(text, Footnote(len(self.by_text) + 1, text, problem))
        if fix and row not in note.fixes.setdefault(fix, []):
            note.fixes[fix].append(row)
        return note.number

    def render(self) -> Table:
        """One line (wrapped at word boundaries) per footnote, its text indented past the mark."""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(overflow="fold")  # folds only a word longer than a whole line
        for note in self.by_text.values():
            text = Text(note.text)
            if len(note.fixes) == 1:
                text.append(" - fix: ", style="bold").append(next(iter(note.fixes)))
            elif note.fixes:
                text.append(" - fix: ", style="bold").append("; ".join(
                    f"{fix} ({', '.join(rows)})" for fix, rows in note.fixes.items()))
            grid.add_row(Text(f"[{note.number}]", style=note.style), text)
        return grid


def header(benchmark: str) -> str:
    return benchmark if len(benchmark) <= HEADER_WIDTH else benchmark[:HEADER_WIDTH - 1] + "."


def cell(row: registry.Row, benchmark: str, gpu: bool, found: versions.RowVersions,
         notes: Footnotes) -> Text:
    if benchmark not in row.entry_points:
        return Text("-", style="dim")
    ready = registry.readiness(row, benchmark, gpu=gpu)
    if not ready.ready:
        return Text(f"[{notes.mark(ready.reason, ready.fix, row.name, problem=True)}]",
                    style="red")
    numbers = [notes.mark(text, fix, row.name, problem=False)
               for text, fix in caveats(ready, found)]
    if not numbers:
        return Text("✓", style="green")
    return Text(f"✓[{','.join(map(str, numbers))}]", style="yellow")


def short_version(found: versions.RowVersions) -> str:
    """The first requirement's version (the framework's own); `list --verbose` has them all."""
    return found.installed.split(", ")[0]


def matrix(rows: list[registry.Row], gpu: bool, found: dict[str, versions.RowVersions]
           ) -> list[RenderableType]:
    """The table and its footnotes; readiness is asked once per (row, benchmark)."""
    names = benchmarks.names()
    table = Table(header_style="bold", caption_justify="left", caption=Text(
        "✓ ready · - not implemented · [n] see note n below · every detail: list --verbose, "
        "or list ROW", style="dim"))
    for column in ("implementation", "framework", "runs in", "version"):
        table.add_column(column)
    for benchmark in names:
        table.add_column(header(benchmark), justify="center", no_wrap=True)
    notes = Footnotes()
    for row in rows:
        table.add_row(row.name, row.framework, interpreter_label(row),
                      short_version(found[row.name]),
                      *(cell(row, benchmark, gpu, found[row.name], notes) for benchmark in names))
    return [table, *([notes.render()] if notes.by_text else []), *precision_lines(rows)]


def precision_lines(rows: list[registry.Row]) -> list[Text]:
    """One line per precision beyond the default: the rows that have it (`Row.precisions`)."""
    having: dict[str, list[str]] = {}
    for row in rows:
        for precision in row.precisions:
            having.setdefault(precision, []).append(row.name)
    return [Text.assemble((f"--precision {precision}", "bold"), f": {', '.join(names)} "
                          "(the other rows run their default only; docs/benchmarks.md §8)")
            for precision, names in having.items()]
