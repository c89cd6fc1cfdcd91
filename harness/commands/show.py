"""`python -m harness show BENCHMARK IMPL [IMPL...]`: the Rosetta Stone itself - the
framework-specific code of implementations side by side, aligned section by section (which part
of a file is which section: harness.sections)."""

from __future__ import annotations

import argparse
from typing import Any

from rich import box
from rich.console import Console, Group as RenderGroup
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from harness import benchmarks
from harness.commands import terminal
from harness.sections import ROOT, Extract, ShowError, extract, section_names, source_for


def _code(extract_: Extract, name: str, line_numbers: bool) -> Any:
    section = extract_.sections.get(name)
    if section is None:
        return Text(f"(no `# == {name} ==` section)", style="dim italic")
    blocks: list[Any] = []
    for part in section.parts:
        label = " - ".join(filter(None, (f"from class {part.origin}" if part.origin else "",
                                         part.note)))
        if label:
            blocks.append(Text(label, style="dim"))
        blocks.append(Syntax(part.code or " ", extract_.source.language, theme="ansi_dark",
                             line_numbers=line_numbers, start_line=part.first_line,
                             word_wrap=True, background_color="default"))
    return blocks[0] if len(blocks) == 1 else RenderGroup(*blocks)


def _header(extract_: Extract) -> Text:
    path = extract_.source.path
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    text = Text(extract_.source.label, style="bold cyan")
    text.append(f"\n{shown}, {extract_.region}" if extract_.source.label.partition(":")[0]
                not in (str(path), str(shown)) else f"\n{extract_.region}", style="dim")
    return text


def side_by_side(extracts: list[Extract], names: list[str], line_numbers: bool = True
                 ) -> list[Table]:
    """One table a section, its name as the title; equal column ratios keep the
    implementations' columns aligned from one section to the next."""
    tables = []
    for index, name in enumerate(names):
        table = Table(box=box.SIMPLE_HEAD, expand=True, padding=(0, 1), show_header=index == 0,
                      title=f"[bold magenta]== {name} ==[/]", title_justify="left")
        for extract_ in extracts:
            table.add_column(_header(extract_), ratio=1)
        table.add_row(*(_code(e, name, line_numbers) for e in extracts))
        tables.append(table)
    return tables


def stacked(extracts: list[Extract], names: list[str], line_numbers: bool = True) -> list[Any]:
    parts: list[Any] = []
    for name in names:
        parts.append(Rule(f"[bold magenta]{name}[/]"))
        for extract_ in extracts:
            parts += [_header(extract_), _code(extract_, name, line_numbers), Text()]
    return parts


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "show", help="the code of implementations side by side, section by section",
        description="The framework-specific code of two or more implementations side by side "
                    "(data, model, loss and optimizer, training epoch, prediction; inference: "
                    "data, model, features), for reading one framework next to another.")
    parser.add_argument("benchmark", choices=benchmarks.names(), metavar="BENCHMARK",
                        help=f"one of {', '.join(benchmarks.names())}")
    parser.add_argument("impls", nargs="+", metavar="IMPL",
                        help="implementation names (python -m harness list), or source files "
                             "as path/to/file.py:Class or path/to/file.jl")
    parser.add_argument("--section", action="append", metavar="NAME",
                        help="only this section (repeatable), e.g. --section model")
    parser.add_argument("--all", action="store_true",
                        help="also sections outside the common set (e.g. verification)")
    parser.add_argument("--stacked", action="store_true",
                        help="one implementation under the other (default when the terminal "
                             "is too narrow for side by side)")
    parser.add_argument("--no-helpers", action="store_true",
                        help="leave out the module-level functions and classes a section uses")
    parser.add_argument("--no-line-numbers", action="store_true")
    parser.set_defaults(func=cmd_show)


def cmd_show(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or terminal.console
    try:
        extracts = [extract(source_for(name, args.benchmark), args.benchmark,
                            helpers=not args.no_helpers) for name in args.impls]
    except (ShowError, OSError) as error:
        console.print(f"[red]{error}[/]")
        return 2
    names = section_names(args.benchmark, extracts, args.all)
    if args.section:
        unknown = [s for s in args.section if s not in names]
        if unknown:
            console.print(f"[red]no section {', '.join(unknown)}; sections: "
                          f"{', '.join(names)}[/]")
            return 2
        names = [n for n in names if n in args.section]
    for extract_ in extracts:
        if not extract_.sections:
            console.print(f"[yellow]{extract_.source.label}: no `# == section ==` markers in "
                          f"{extract_.source.path} ({extract_.region})[/]")
    line_numbers = not args.no_line_numbers
    if args.stacked or console.width < 45 * len(extracts):
        for part in stacked(extracts, names, line_numbers):
            console.print(part)
    else:
        for table in side_by_side(extracts, names, line_numbers):
            console.print(table)
    return 0
