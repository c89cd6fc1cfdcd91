"""The run commands' executor options: `--executor local|slurm` and what each Slurm job asks
for (harness.run.slurm.settings holds their meaning and the cluster file they can come from)."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from harness.commands import options
from harness.run.runner import RunSettings
from harness.run.slurm.settings import SlurmConfigError, settings_from

# Option dest -> cluster-file key.
SLURM_OPTIONS = {"partition": "partition", "account": "account", "time_limit": "time",
                 "gpus": "gpus", "cpus": "cpus", "mem": "mem", "sbatch": "sbatch",
                 "share_node": "share_node"}


class OptionProblem(Exception):
    """Executor options that cannot be used; the message says what to change."""


def add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=("local", "slurm"), default="local",
                        help="local: every run here, one after another (default); slurm: one "
                             "Slurm job per run, submitted from here (README: Clusters)")
    group = parser.add_argument_group(
        "Slurm (with --executor slurm; defaults from slurm.toml or --slurm-config)")
    group.add_argument("--partition", action="append", metavar="NAME[,NAME]",
                       help="partitions to run on; every run goes to each (default: the "
                            "cluster's default partition)")
    group.add_argument("--account", metavar="NAME", help="the account jobs are charged to")
    group.add_argument("--time-limit", type=options.positive_int, metavar="MINUTES",
                       help="each job's Slurm time limit (default: --timeout in minutes + 10)")
    group.add_argument("--gpus", type=options.non_negative_int, metavar="N",
                       help="GPUs per job, each the job's alone (default: 1 on a partition with "
                            "GPUs unless --device cpu)")
    group.add_argument("--cpus", type=options.positive_int, metavar="N", help="CPUs per job")
    group.add_argument("--mem", metavar="SIZE", help="memory per job, e.g. 64G")
    group.add_argument("--sbatch", action="append", metavar="--NAME=VALUE",
                       help="an extra sbatch option, e.g. --sbatch=--qos=high (repeatable)")
    group.add_argument("--share-node", action="store_true", default=None,
                       help="let CPU jobs share a node (default: each has the node to itself, "
                            "so that neighbours cannot disturb its timings)")
    group.add_argument("--slurm-config", metavar="FILE",
                       help="the cluster file (default: slurm.toml in the project, or "
                            "HARNESS_SLURM_CONFIG)")


def executor_for(args: argparse.Namespace, settings: RunSettings,
                 say: Callable[[str], None]) -> Any:
    """The Slurm executor the options ask for, or None for the local one. OptionProblem when a
    Slurm option comes without --executor slurm, or when the cluster or its settings are not
    usable."""
    given = {key: getattr(args, dest) for dest, key in SLURM_OPTIONS.items()}
    if args.executor == "local":
        named = [f"--{dest.replace('_', '-')}" for dest, key in SLURM_OPTIONS.items()
                 if given[key] not in (None, [])]
        if args.slurm_config:
            named.append("--slurm-config")
        if named:
            raise OptionProblem(f"{', '.join(named)} only apply with --executor slurm")
        return None
    from harness.run.slurm.executor import SlurmExecutor
    from harness.run.slurm.queue import SlurmUnavailable

    try:
        return SlurmExecutor(settings_from(given, args.slurm_config), settings, say=say)
    except (SlurmConfigError, SlurmUnavailable) as error:
        raise OptionProblem(str(error)) from None
