"""`python -m harness COMMAND`: one module per command in this package, the options several
commands share in `options`.

This process never imports a framework: every run is a child process (harness.run).
"""

from __future__ import annotations

import argparse

from harness import benchmarks
from harness.commands import data, listing, report, run, setup, show, verify
from harness.plugins import load_plugins


def main(argv: list[str] | None = None) -> int:
    try:
        load_plugins()
    except Exception as error:  # noqa: BLE001 - a plugin's own error, said in one line
        print(f"HARNESS_PLUGINS: could not load a plugin: {type(error).__name__}: {error}")
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="The same CNN, GRU and ResNet-50 in every framework, timed fairly.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (*benchmarks.names(), "all"):
        run.register(sub, name)
    listing.register(sub)
    data.register(sub)
    verify.register(sub)
    report.register(sub)
    show.register(sub)
    setup.register(sub)
    return parser
