"""Command-line options that more than one command takes, defined once, and the checks of
their values (a bad value is refused by the parser with one line, before anything runs)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from harness import benchmarks, precision, registry

DEVICES = ("auto", "cuda", "cpu")
# The seeds every row accepts: NumPy's legacy np.random.seed (Chainer, and Keras's
# set_random_seed through it) refuses 2**32 and above, where torch.manual_seed and JAX's keys
# would take more. A larger seed would fail in the child, after the run had started.
MAX_SEED = 2**32 - 1


def add_impl(parser: argparse.ArgumentParser, verb: str = "run") -> None:
    parser.add_argument("--impl", action="append", metavar="NAME[,NAME]",
                        help=f"implementations to {verb} (default: every one that is ready); "
                             f"see `python -m harness list`")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="auto: a GPU where the framework sees one")


def add_precision(parser: argparse.ArgumentParser) -> None:
    """`--precision P[,P...]`, checked by the command (harness.precision.parse) so that its
    message names the known precisions."""
    parser.add_argument("--precision", default=precision.DEFAULT, metavar="P[,P...]",
                        help=f"{', '.join(precision.PRECISIONS)}; a comma list runs each, and a "
                             "row without one is a skipped row with the reason "
                             "(docs/benchmarks.md §8; default: default)")


def add_seed(parser: argparse.ArgumentParser, help: str = "seed of weights and data order"
             ) -> None:
    parser.add_argument("--seed", type=seed, default=0, help=f"{help} (0 to {MAX_SEED})")


def add_timeout(parser: argparse.ArgumentParser, help: str, default: float | None = None
                ) -> None:
    parser.add_argument("--timeout", type=positive_seconds, default=default, metavar="SECONDS",
                        help=help)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="the data store (default: datasets/; env HARNESS_DATA_DIR)")


def add_benchmark_choice(parser: argparse.ArgumentParser, *flags: str, **extra) -> None:
    parser.add_argument(*flags, choices=benchmarks.names(), **extra)


def results_option(parser: argparse.ArgumentParser, default_help: str) -> None:
    parser.add_argument("--results", type=Path, default=None, metavar="PATH",
                        help=f"JSON-lines file records are appended to (default: {default_help})")


def implementation_names(values: list[str] | None) -> list[str]:
    """`--impl a,b --impl c` -> ["a", "b", "c"]; no --impl -> [] (every one). KeyError, with the
    known names, for an unknown or empty name (`--impl ''` is a mistake, not "all")."""
    names = [n.strip() for v in values or [] for n in v.split(",")]
    for name in names:
        if not name:
            known = ", ".join(row.name for row in registry.ROWS)
            raise KeyError(f"an empty name in --impl; known: {known} (leave --impl out for "
                           f"every one that is ready)")
        registry.by_name(name)
    return names


def positive_int(text: str) -> int:
    """At least 1 (`--repeat`, `--image-size`)."""
    value = _parse(int, text, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def non_negative_int(text: str) -> int:
    """0 or more (`--gpus`)."""
    value = _parse(int, text, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def seed(text: str) -> int:
    """0 to MAX_SEED: the range every framework's seeding accepts."""
    value = _parse(int, text, "a whole number")
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_SEED} (2**32 - 1, the seeds every "
                                         f"framework accepts), not {text}")
    return value


def positive_seconds(text: str) -> float:
    """A finite number of seconds above 0. `--timeout 0` is refused rather than read as "no
    limit" or "the default": leave the option out for the default."""
    value = _parse(float, text, "a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text} "
                                         f"(leave --timeout out for the default)")
    return value


def _parse(kind: type, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None
