"""Isolated environments for frameworks whose pins conflict with the main one.

MXNet 1.9.1 and Chainer 7.8.1 are retired upstream and need numpy < 2, which the current
TensorFlow/JAX/PyTorch stack does not accept. Each gets its own virtual environment under
`<repo>/envs/<name>` (or `$HARNESS_ENVS_DIR/<name>`), made by `setup_environment`: the framework
with its pins, plus this project installed editable (no extras), so that `harness.run.worker` runs
there. The runner starts that framework's child processes with the environment's interpreter
(`interpreter(name)`); the parent process never imports the framework, and the main environment
works whether or not these exist.

An environment counts as ready only when its set-up finished: the record file written last
(`harness-environment.json`, what was installed) is present and matches the current spec, and
its interpreter runs.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.project import REPO_ROOT
from harness.trust import other_owner, path_to, write_access_problem, write_access_problems

ENVS_DIR_VARIABLE = "HARNESS_ENVS_DIR"
RECORD_NAME = "harness-environment.json"
LOG_NAME = "setup.log"
# The exact versions CI tests in these environments, passed to every pip install (-c) where the
# checkout has the file; each spec's own pins (numpy) are not in it.
CONSTRAINTS = REPO_ROOT / "constraints" / "envs-cpu.txt"


@dataclass(frozen=True)
class EnvironmentSpec:
    """What one isolated environment holds and how it is made."""

    name: str
    framework: str
    # pip install argument lists, run in order; `pins` are added to each so no step moves them.
    steps: tuple[tuple[str, ...], ...]
    pins: tuple[str, ...]
    # Run in the finished environment: must exit 0 (imports the framework, prints its version).
    check: str
    notes: str = ""


ENVIRONMENTS: dict[str, EnvironmentSpec] = {
    "mxnet": EnvironmentSpec(
        name="mxnet",
        framework="MXNet",
        # numpy 1.23.5 still has the `np.bool` alias MXNet 1.9.1 uses at import (removed in
        # numpy 1.24: "module 'numpy' has no attribute 'bool'"). CPU build (GPU: mxnet-cu112).
        steps=(("mxnet==1.9.1",),),
        pins=("numpy==1.23.5",),
        check="import mxnet; print(mxnet.__version__)",
        notes="MXNet 1.9.1 (Apache Attic since 2023), CPU wheel, numpy 1.23.5",
    ),
    "chainer": EnvironmentSpec(
        name="chainer",
        framework="Chainer",
        # Chainer 7.8.1 is an sdist whose setup.py imports pkg_resources: it builds only with
        # --no-build-isolation against a setuptools that still ships pkg_resources. numpy < 2:
        # Chainer uses `np.sctypes`, removed in numpy 2. SciPy: Chainer's `F.erf` (the
        # Transformer's exact GELU) calls scipy.special.erf on the CPU, and without it Python's
        # math.erf element by element, 4x slower a training step.
        steps=(("setuptools<81", "wheel"), ("--no-build-isolation", "chainer==7.8.1", "scipy")),
        pins=("numpy<2",),
        check="import chainer, scipy.special; print(chainer.__version__)",
        notes="Chainer 7.8.1 (maintenance only since 2019), SciPy, CPU (GPU needs CuPy)",
    ),
}


def envs_dir() -> Path:
    """Where the environments live: `$HARNESS_ENVS_DIR`, else `<repo>/envs` (gitignored)."""
    return Path(os.environ.get(ENVS_DIR_VARIABLE) or REPO_ROOT / "envs")


def envs_dir_problem() -> str | None:
    """None when `$HARNESS_ENVS_DIR` is unset, does not exist yet (nothing there to run;
    `setup` makes it) or names a directory only you (or root) can change; else the one line to
    print. The interpreters under it are executed (by `list`'s readiness check and by every run
    of their rows), so no one else may be able to plant one."""
    value = os.environ.get(ENVS_DIR_VARIABLE)
    if not value or not os.path.lexists(value):
        return None
    if not Path(value).is_dir():
        return (f"{ENVS_DIR_VARIABLE}={value} is not a directory: name a directory of yours "
                f"or unset {ENVS_DIR_VARIABLE}")
    problem = write_access_problem(Path(value))
    if not problem:
        return None
    # chmod cannot take a folder back from another user: only one of your own will do.
    fix = ("set it to a directory you own" if other_owner(Path(value)) is not None
           else f"use a directory of yours (chmod go-w {value})")
    return (f"{ENVS_DIR_VARIABLE}={value} {problem}: another user could plant its "
            f"interpreters; {fix} or unset {ENVS_DIR_VARIABLE}")


def interpreter_problem(name: str) -> str | None:
    """None when only you (or root) can change what runs as environment `name`'s interpreter:
    each folder from the environments' folder down to it, the interpreter, and where its link
    leads; else the line to print, naming every path at fault and the fix. Checked before the
    interpreter first runs (`list`, and the readiness check of every run)."""
    top, where = envs_dir(), environment_dir(name)
    found = write_access_problems(path_to(top, interpreter(name)))
    if not found:
        return None
    faults = "; ".join(f"{path} {problem}" for path, problem in found)
    return (f"environment `{name}` is not trusted: {faults}, so another user could change the "
            f"interpreter it runs; fix: {interpreter_fix(name, top, where, found)}")


def interpreter_fix(name: str, top: Path, where: Path, found: list[tuple[Path, str]]) -> str:
    """The change that makes the paths in `found` yours alone. A path another user owns cannot
    be made safe by chmod, and it may hold what they planted: the environment is made again."""
    foreign = [path for path, _ in found if other_owner(path) is not None]
    if top in foreign:
        return f"set {ENVS_DIR_VARIABLE} to a directory you own"
    if any(path == where or where in path.parents for path in foreign):
        return (f"remove {where} (as root if its files are not yours) and make it again: "
                f"{setup_command(name)}")
    if foreign:  # the interpreter's link leads to a Python someone else can change
        return (f"remove {where} and make it again from a Python only you or root can "
                f"change (`python -m harness setup {name}` run by that Python)")
    return "chmod go-w " + " ".join(str(path) for path, _ in found)


def environment_dir(name: str) -> Path:
    return envs_dir() / name


def interpreter(name: str) -> Path:
    """The Python interpreter of environment `name` (whether or not it exists yet)."""
    scripts = "Scripts" if os.name == "nt" else "bin"
    return environment_dir(name) / scripts / ("python.exe" if os.name == "nt" else "python")


def setup_command(name: str) -> str:
    return f"python -m harness setup {name}"


def environment_problem(name: str) -> str | None:
    """None when environment `name` exists, its set-up completed and its interpreter runs;
    else the exact reason (the fix is always `setup_command(name)`)."""
    if name not in ENVIRONMENTS:
        return f"unknown environment `{name}` (known: {', '.join(ENVIRONMENTS)})"
    unsafe = envs_dir_problem()
    if unsafe:
        return unsafe
    where = environment_dir(name)
    if not where.exists():
        return f"environment `{name}` not set up ({where} does not exist)"
    record = read_record(name)
    if record is None:
        return f"environment `{name}` is broken: its set-up did not complete (no {RECORD_NAME})"
    if record.get("spec") != spec_as_recorded(ENVIRONMENTS[name]):
        return f"environment `{name}` is out of date: it was made for a different spec"
    python = interpreter(name)
    if not python.exists():
        return f"environment `{name}` is broken: its interpreter {python} is missing"
    unsafe = interpreter_problem(name)
    if unsafe:
        return unsafe
    try:
        done = subprocess.run([str(python), "-c", "import sys"], capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"environment `{name}` is broken: its interpreter does not run ({error})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return (f"environment `{name}` is broken: its interpreter exits with code "
                f"{done.returncode} ({last})")
    return None


def private_umask() -> int:
    """Your umask with group and others' write bits masked too: an environment set-up makes
    under a umask of 002 (common where each user has a group of their own) would otherwise be
    refused by `interpreter_problem`."""
    current = os.umask(0o022)
    os.umask(current)
    return current | 0o022


def spec_as_recorded(spec: EnvironmentSpec) -> dict[str, Any]:
    """The spec as the record stores it (JSON: tuples become lists)."""
    return json.loads(json.dumps(asdict(spec)))


def read_record(name: str) -> dict[str, Any] | None:
    """What set-up recorded for environment `name`; None if it never completed."""
    try:
        return json.loads((environment_dir(name) / RECORD_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def setup_environment(name: str, console, force: bool = False) -> int:
    """Create environment `name` (a venv), install its framework and this project, then record
    it. Returns a process exit status. An environment already ready is kept unless `force`;
    one whose set-up never completed is made again from scratch."""
    if name not in ENVIRONMENTS:
        console.print(f"[red]unknown environment {name!r}[/]; known: {', '.join(ENVIRONMENTS)}")
        return 2
    unsafe = envs_dir_problem()
    if unsafe:
        console.print(unsafe, markup=False, highlight=False, soft_wrap=True)
        return 1
    spec = ENVIRONMENTS[name]
    where = environment_dir(name)
    if not force and environment_problem(name) is None:
        console.print(f"environment `{name}` is ready ({where}); `--force` makes it again")
        return 0
    if where.exists():
        if not (where / "pyvenv.cfg").exists() and any(where.iterdir()):
            console.print(f"[red]{where} exists and is not a virtual environment[/]; move it "
                          f"away or set {ENVS_DIR_VARIABLE} to another folder")
            return 1
        console.print(f"removing the previous environment {where}")
        shutil.rmtree(where)
    mask = private_umask()
    where.parent.mkdir(mode=0o777 & ~mask, parents=True, exist_ok=True)
    log_path = where.parent / f"{name}-{LOG_NAME}"
    python = interpreter(name)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if CONSTRAINTS.exists():
        pip += ["-c", str(CONSTRAINTS)]
    commands = [[sys.executable, "-m", "venv", str(where)]]
    commands += [pip + list(step) + list(spec.pins) for step in spec.steps]
    # The project itself, no extras: harness.run.worker and its dependencies (numpy, h5py, rich).
    commands.append(pip + ["-e", str(REPO_ROOT)] + list(spec.pins))
    commands.append([str(python), "-c", spec.check])
    started = time.perf_counter()
    with open(log_path, "w") as log:
        for command in commands:
            console.print(f"$ {' '.join(command)}", style="dim", markup=False, soft_wrap=True)
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                  umask=mask)
            if done.returncode != 0:
                log.flush()
                tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
                console.print("\n".join(tail), markup=False, highlight=False)
                console.print(f"[red]set-up of environment `{name}` failed[/] (exit code "
                              f"{done.returncode}); full log: {log_path}")
                return 1
    version = subprocess.run(commands[-1], capture_output=True, text=True).stdout.strip()
    frozen = subprocess.run([str(python), "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True).stdout.split()
    seconds = time.perf_counter() - started
    record = {
        "spec": asdict(spec), "framework_version": version, "packages": frozen,
        "python": platform.python_version(), "created": datetime.now(timezone.utc)
        .isoformat(timespec="seconds"), "setup_s": round(seconds, 1), "log": str(log_path),
    }
    # Written last: its presence means every step above succeeded.
    (where / RECORD_NAME).write_text(json.dumps(record, indent=1))
    console.print(f"[green]environment `{name}` ready[/]: {spec.framework} {version} in "
                  f"{where} ({seconds:.0f} s)")
    return 0
