"""Command-line options that more than one command takes, defined once."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import benchmarks, registry

DEVICES = ("auto", "cuda", "cpu")


def add_impl(parser: argparse.ArgumentParser, verb: str = "run") -> None:
    parser.add_argument("--impl", action="append", metavar="NAME[,NAME]",
                        help=f"implementations to {verb} (default: every one that is ready); "
                             f"see `python -m harness list`")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="auto: a GPU where the framework sees one")


def add_seed(parser: argparse.ArgumentParser, help: str = "seed of weights and data order"
             ) -> None:
    parser.add_argument("--seed", type=int, default=0, help=help)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="the data store (default: datasets/; env HARNESS_DATA_DIR)")


def add_benchmark_choice(parser: argparse.ArgumentParser, *flags: str, **extra) -> None:
    parser.add_argument(*flags, choices=benchmarks.names(), **extra)


def results_option(parser: argparse.ArgumentParser, default_help: str) -> None:
    parser.add_argument("--results", type=Path, default=None, metavar="PATH",
                        help=f"JSON-lines file records are appended to (default: {default_help})")


def implementation_names(values: list[str] | None) -> list[str]:
    """`--impl a,b --impl c` -> ["a", "b", "c"]; KeyError (with the known names) for an
    unknown one."""
    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    for name in names:
        registry.by_name(name)
    return names
