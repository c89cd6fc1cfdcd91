"""`python -m harness setup mxnet|chainer|julia|all`: the isolated Python environments
(harness.run.envs) and the Julia environments (harness.julia.setup)."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Mapping


from rich.markup import escape

from harness.commands.terminal import console
from harness.julia import setup as julia_setup
from harness.julia.readiness import FLAVORS
from harness.run import envs

Handler = Callable[[argparse.Namespace], int]


def setup_targets() -> dict[str, tuple[str, Any]]:
    """`setup NAME` for each isolated Python environment, and `setup all`."""
    targets: dict[str, tuple[str, Any]] = {
        name: (f"create the isolated `{name}` environment (its own venv under envs/)",
               lambda args, n=name: envs.setup_environment(n, console, force=args.force))
        for name in envs.ENVIRONMENTS}

    def setup_all(args: argparse.Namespace) -> int:
        codes = [envs.setup_environment(n, console, force=args.force) for n in envs.ENVIRONMENTS]
        from harness.julia.readiness import find_julia

        # skipped only without any julia: an environment not yet set up is what this is for
        found = [find_julia(flavor) for flavor in FLAVORS.values()]
        if all(path is None for path, _ in found):
            console.print("[yellow]julia: skipped[/] - " + escape(found[-1][1]))
        else:
            args.target = "julia"
            codes.append(args.func(args))
        return max(codes, default=0)

    targets["all"] = (f"every environment ({', '.join(envs.ENVIRONMENTS)}), then julia where "
                      "Julia is installed", setup_all)
    return targets


def cmd_setup(args: argparse.Namespace, targets: Mapping[str, tuple[str, Handler]]) -> int:
    if args.target == "julia":
        flavors = list(FLAVORS) if args.flavor == "all" else [args.flavor]
        return julia_setup.setup_julia(flavors, dry_run=args.dry_run, force=args.force,
                                       test=args.test)
    return targets[args.target][1](args)


def register(subparsers: argparse._SubParsersAction,
             targets: Mapping[str, tuple[str, Handler]] | None = None) -> argparse.ArgumentParser:
    """Add `setup TARGET`: `julia` plus `targets` ({name: (help, handler)}; each handler gets
    the parsed arguments and returns the exit code)."""
    others = dict(setup_targets() if targets is None else targets)
    helps = {"julia": "instantiate and precompile the Julia environments (Knet, Flux)",
             **{name: text for name, (text, _) in others.items()}}
    parser = subparsers.add_parser(
        "setup", help="prepare what a row needs beyond pip: " + ", ".join(sorted(helps)),
        description="\n".join(f"{name}: {text}" for name, text in sorted(helps.items())),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=sorted(helps))
    parser.add_argument("--flavor", choices=("all", *FLAVORS), default="all",
                        help="julia: which environment (default: every one whose Julia is "
                             "found)")
    parser.add_argument("--dry-run", action="store_true",
                        help="julia: say what would run, run nothing")
    parser.add_argument("--test", action="store_true",
                        help="julia: then run julia_impls/test/runtests.jl in every flavor set up")
    parser.add_argument("--force", action="store_true",
                        help="rebuild from scratch where the target supports it")
    parser.set_defaults(func=lambda args: cmd_setup(args, others))
    return parser
