"""What each Slurm job asks for: partitions, account, time limit, GPUs, CPUs, memory, extra
`sbatch` arguments - from the command line, else from a cluster file a team commits once
(`slurm.toml` at the project's root, or the file named by --slurm-config / HARNESS_SLURM_CONFIG):

    partition = ["h100", "a100"]   # each run goes to each partition: one table per GPU type
    account = "my-project"
    time = 90                      # minutes per job (default: the run's --timeout + 10)
    gpus = 1                       # per job (default: 1 on a partition with GPUs unless --device cpu)
    cpus = 16
    mem = "64G"
    sbatch = ["--qos=benchmark", "--constraint=ib"]

Timing stays honest: a job on a GPU asks for its GPU (`--gres=gpu:N`: Slurm gives each GPU
to one job at a time); a CPU job asks for a whole node (`--exclusive`) unless --share-node says
otherwise, and the record says which (`slurm.exclusive`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.project import REPO_ROOT

DEFAULT_CONFIG = REPO_ROOT / "slurm.toml"
KEYS = ("partition", "account", "time", "gpus", "cpus", "mem", "sbatch", "share_node")


class SlurmConfigError(Exception):
    """A cluster file or option that cannot be used; the message says what to change."""


@dataclass
class SlurmSettings:
    partitions: list[str] = field(default_factory=list)  # empty: the cluster's default
    account: str | None = None
    time_min: int | None = None  # None: the run's timeout in minutes + 10
    gpus: int | None = None  # None: 1 where the partition has GPUs and --device is not cpu
    cpus: int | None = None
    mem: str | None = None
    sbatch: list[str] = field(default_factory=list)
    share_node: bool = False  # CPU jobs share their node (timings then depend on neighbours)
    poll_s: float = 2.0
    source: str = "command line"  # where the settings came from, for messages

    def time_limit(self, timeout_s: float) -> int:
        """Minutes a benchmark job may run: the worker's own timeout ends a hung run first, so
        a job reaches Slurm's limit only when the node itself stalls."""
        return self.time_min or math.ceil(timeout_s / 60) + 10

    def extra_parameters(self) -> dict[str, Any]:
        """`--sbatch` arguments as submitit's additional_parameters: --qos=x -> {"qos": "x"},
        --requeue -> {"requeue": True}."""
        extra: dict[str, Any] = {}
        for argument in self.sbatch:
            if not argument.startswith("--") or len(argument) < 3:
                raise SlurmConfigError(
                    f"sbatch argument {argument!r} ({self.source}) is not a long option: write "
                    f"each as --name=value or --flag, e.g. --qos=high")
            name, has_value, value = argument[2:].partition("=")
            extra[name.replace("-", "_")] = value if has_value else True
        return extra


def config_path(named: str | None) -> Path | None:
    """The cluster file to read: the one named, HARNESS_SLURM_CONFIG, or slurm.toml at the
    project's root where it exists."""
    chosen = named or os.environ.get("HARNESS_SLURM_CONFIG")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise SlurmConfigError(f"no Slurm cluster file at {path}: create it (keys: "
                                   f"{', '.join(KEYS)}) or leave --slurm-config out")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def read_config(path: Path) -> dict[str, Any]:
    """The cluster file's settings, checked: unknown keys and wrong types are errors. Its
    `sbatch` list reaches every job (`--export=LD_PRELOAD=...` would run code in them), so a
    file others can change is refused, as HARNESS_PLUGINS files are (harness.trust)."""
    from harness.trust import write_access_problem

    problem = write_access_problem(path)
    if problem:
        raise SlurmConfigError(f"the Slurm cluster file {path} {problem}: its sbatch options "
                               f"reach every job, so only you or root may be able to change it "
                               f"(chmod go-w {path})")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise SlurmConfigError(f"reading {path} needs Python 3.11 (tomllib); give the settings "
                               f"as options instead (--partition, --account, ...)") from None
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SlurmConfigError(f"cannot read the Slurm cluster file {path}: {error}") from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise SlurmConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; the keys are "
                               f"{', '.join(KEYS)}")
    expected = {"partition": (str, list), "account": (str,), "time": (int,), "gpus": (int,),
                "cpus": (int,), "mem": (str, int), "sbatch": (list,), "share_node": (bool,)}
    for key, value in data.items():
        if not isinstance(value, expected[key]) or (isinstance(value, bool) and key != "share_node"):
            kinds = " or ".join("a list" if t is list else t.__name__ for t in expected[key])
            raise SlurmConfigError(f"{path}: {key} must be {kinds}, not {value!r}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise SlurmConfigError(f"{path}: {key} must be a list of strings, not {value!r}")
    return data


def settings_from(options: dict[str, Any], config: str | None) -> SlurmSettings:
    """The command line's Slurm options over the cluster file's. `options` holds the parsed
    values (None where not given): partition (list), account, time, gpus, cpus, mem, sbatch,
    share_node."""
    path = config_path(config)
    merged: dict[str, Any] = read_config(path) if path else {}
    given = {key: value for key, value in options.items()  # `--gpus 0` is given; 0 == False
             if value is not None and value is not False and value != []}
    merged.update(given)
    partition = merged.get("partition") or []
    partitions = [p.strip() for item in ([partition] if isinstance(partition, str) else partition)
                  for p in str(item).split(",")]
    if any(not p for p in partitions):
        raise SlurmConfigError("an empty partition name: give --partition NAME[,NAME] or leave "
                               "it out for the cluster's default partition")
    for key in ("time", "cpus"):
        if merged.get(key) is not None and merged[key] < 1:
            raise SlurmConfigError(f"{key} must be at least 1, not {merged[key]}")
    if merged.get("gpus") is not None and merged["gpus"] < 0:
        raise SlurmConfigError(f"gpus must be 0 or more, not {merged['gpus']}")
    settings = SlurmSettings(
        partitions=list(dict.fromkeys(partitions)), account=merged.get("account"),
        time_min=merged.get("time"), gpus=merged.get("gpus"), cpus=merged.get("cpus"),
        mem=str(merged["mem"]) if merged.get("mem") is not None else None,
        sbatch=list(merged.get("sbatch") or []), share_node=bool(merged.get("share_node")),
        source=(f"{path} and the command line" if path and given else
                str(path) if path else "command line"))
    settings.extra_parameters()  # refuses a malformed --sbatch now, before any job
    return settings

