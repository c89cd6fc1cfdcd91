"""`python -m harness COMMAND`: one module per command in this package, the options several
commands share in `options`.

This process never imports a framework: every run is a child process (harness.run).
"""

from __future__ import annotations

import argparse
import sys

from harness import benchmarks
from harness.commands import collect, data, listing, report, run, setup, show, verify
from harness.plugins import PluginError, load_plugins

# Commands that only read (stored results, readiness, sources, data) go on without a plugin that
# failed to load, after a warning: a broken HARNESS_PLUGINS must not keep anyone from their
# results or from `list`, which shows what is ready. Every other command (a run, `verify`, a
# plugin's own benchmark) would run without what was asked for, and its children load the
# plugins too: it stops. `collect` runs nothing: a job's ticket holds what its record needs.
WITHOUT_PLUGINS = {"report", "list", "show", "data", "setup", "collect"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        load_plugins()
    except PluginError as error:
        command = next((a for a in argv if not a.startswith("-")), None)
        if command is not None and command not in WITHOUT_PLUGINS:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"warning: {error}; going on without it", file=sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="The same CNN, GRU, Transformer and ResNet-50 in every framework, timed fairly.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (*benchmarks.names(), "all"):
        run.register(sub, name)
    listing.register(sub)
    data.register(sub)
    verify.register(sub)
    report.register(sub)
    show.register(sub)
    setup.register(sub)
    collect.register(sub)
    return parser
