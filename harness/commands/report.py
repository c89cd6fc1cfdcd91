"""`python -m harness report`: rebuild the comparison from stored results, without rerunning
(loading, grouping and comparing: harness.report.groups; how it looks: harness.report.render)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.commands import terminal
from harness.report import render
from harness.report.groups import build_sections, compare, compare_variants, load_results
from harness.report.overlap import overlap_warning, overlapping_runs
from harness.run.results import default_results_path


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="rebuild the comparison tables (and exports, plots) from stored results",
        description="Rebuild the comparison from stored results without rerunning anything: "
                    "repeats grouped (median, min-max, count), one table per benchmark and "
                    "device, the original project's K80/P100 figures beside the rows that "
                    "correspond (full profile only).")
    parser.add_argument("results", nargs="*", type=Path, metavar="RESULTS",
                        help=f"results files or folders (default: {default_results_path()})")
    parser.add_argument("--compare", type=Path, metavar="OTHER", action="append",
                        help="a baseline result set (file or folder; repeatable): per-row "
                             "ratios RESULTS / OTHER, changes within the repeat spread marked "
                             "as noise")
    parser.add_argument("--vs-default", action="store_true",
                        help="each variant row (a --precision run, `pytorch (bf16-mixed)`) "
                             "against the same row's default run in the same results: ratio "
                             "and whether the change is beyond the repeat spread")
    parser.add_argument("--format", choices=("table", "markdown", "csv", "json"),
                        default="table", help="table: rich tables in the terminal; the others "
                        "go to stdout, or to DIR/report.* with --out")
    parser.add_argument("--plots", action="store_true",
                        help="write PNG plots: time per implementation with spread, and "
                             "accuracy versus training time")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for exports and plots (plots default: a `report` folder "
                             "beside the first results file)")
    parser.add_argument("--html", type=Path, metavar="DIR",
                        help="write a static site to DIR (index.html, one code page per "
                             "benchmark, assets/): opens from disk, fetches nothing; with "
                             "--compare each row shows its change against OTHER")
    parser.add_argument("--no-reference", action="store_true",
                        help="leave out the original project's K80/P100 columns")
    parser.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    out, err = terminal.console, terminal.errors
    try:
        loaded = load_results(args.results or _default_results())
        baseline = load_results(args.compare) if args.compare else None
    except (FileNotFoundError, OSError) as error:
        err.print(f"[red]{render.escape(str(error))}[/]")
        return 2
    for warning in loaded.warnings + (baseline.warnings if baseline else []):
        err.print(f"[yellow]warning:[/] {render.escape(warning)}")
    if not loaded.records:
        err.print(f"[red]no usable results in "
                  f"{render.escape(', '.join(map(str, loaded.sources)))}[/]")
        return 1
    code = _report(args, loaded, baseline, out, err)
    for result_set in filter(None, (loaded, baseline)):  # after the tables, where it is seen
        warning = overlap_warning(overlapping_runs(result_set.records))
        if warning:
            err.print(f"[yellow]warning:[/] {render.escape(warning)}")
    return code


def _report(args: argparse.Namespace, loaded: Any, baseline: Any, out: Console,
            err: Console) -> int:
    if args.vs_default and (baseline is not None or args.html):
        err.print("[red]--vs-default compares rows inside one result set: leave out "
                  "--compare and --html[/]")
        return 2
    if args.html:
        return _site(args, loaded, baseline, out, err)
    if baseline is not None or args.vs_default:
        if args.vs_default:
            rows = compare_variants(loaded.records)
            names = ("the row's variant", "its default run")
            if not rows:
                err.print("[yellow]no variant rows in these results: run with --precision "
                          "default,bf16-mixed to have both[/]")
                return 1
        else:
            rows = compare(loaded.records, baseline.records)
            names = (_set_name(loaded.sources), _set_name(baseline.sources))
        if args.format == "table":
            for table in render.comparison_tables(rows, *names):
                out.print(table)
            out.print(render.COMPARE_NOTE)
        else:
            text = render.export_comparison(rows, args.format, *names)
            _emit(text, args.format, args.out, "comparison", out, err)
        if args.plots:
            err.print("[yellow]--plots draws one result set: run `report` without --compare "
                      "for its plots.[/]")
        return 0

    sections = build_sections(loaded.records, with_reference=not args.no_reference,
                              verified=loaded.verified)
    if args.format == "table":
        for table in render.rich_tables(sections):
            out.print(table)
        out.print(render.table_footnote(sections))
    else:
        _emit(render.export(sections, args.format), args.format, args.out, "report", out, err)
    if args.plots:
        from harness.report import plots  # matplotlib: only when plots are asked for

        folder = args.out or loaded.sources[0].parent / "report"
        written = plots.write_plots(sections, folder)
        console = err if args.format != "table" and args.out is None else out
        console.print(f"Plots written to [bold]{render.escape(str(folder))}[/]:")
        for path in written:
            console.print(f"  {render.escape(str(path))}")
    return 0


def _site(args: argparse.Namespace, loaded: Any, baseline: Any, out: Console,
          err: Console) -> int:
    from harness.report.site import write_site

    sections = build_sections(loaded.records, with_reference=not args.no_reference,
                              verified=loaded.verified)
    warnings = loaded.warnings + (baseline.warnings if baseline else [])
    overlap = overlap_warning(overlapping_runs(loaded.records))
    try:
        written = write_site(args.html, loaded, sections,
                             comparisons=compare(loaded.records, baseline.records)
                             if baseline else None,
                             baseline_name=_set_name(baseline.sources) if baseline else "",
                             warnings=warnings + ([overlap] if overlap else []))
    except OSError as error:
        err.print(f"[red]cannot write the site to {render.escape(str(args.html))}: "
                  f"{render.escape(str(error))}[/]")
        return 2
    size = sum(path.stat().st_size for path in written)
    out.print(f"Site written to [bold]{render.escape(str(written[0]))}[/] ({len(written)} files, "
              f"{size / 2**20:.1f} MiB): open it in a browser, or publish the folder as it is.")
    if args.plots or args.format != "table":
        err.print("[yellow]--html writes the site only: run `report` again for --plots or "
                  "--format.[/]")
    return 0


def _set_name(sources: list[Path]) -> str:
    return sources[0].name if len(sources) == 1 else f"{sources[0].parent.name}/ ({len(sources)})"


def _default_results() -> list[Path]:
    """results.jsonl and, where `verify` wrote one beside it, verify.jsonl."""
    from harness.verify.runner import default_verify_results

    verified = default_verify_results()
    return [default_results_path()] + ([verified] if verified.is_file() else [])


SUFFIX = {"markdown": "md", "csv": "csv", "json": "json"}


def _emit(text: str, fmt: str, folder: Path | None, stem: str, out: Any, err: Any) -> None:
    if folder is None:
        sys.stdout.write(text)
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.{SUFFIX[fmt]}"
    path.write_text(text, encoding="utf-8")
    out.print(f"{fmt} written to [bold]{render.escape(str(path))}[/]")
