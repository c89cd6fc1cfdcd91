"""Framework versions and builds: what is installed against the range each row supports
(`registry.Requirement`) and the exact set CI tests (constraints/), and whether a row would run
on the CPU while the machine has a GPU. `list` shows it per row; the report's footnotes say it of
stored results. Read from package metadata and files only: no framework is imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from harness import registry
from harness.registry import Requirement, Row, version_tuple
from harness.run import envs
from harness.project import REPO_ROOT

CI_CONSTRAINTS = REPO_ROOT / "constraints" / "ci-cpu.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def normalize(distribution: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def read_pins(lines: Iterable[str]) -> dict[str, str]:
    """`name==version` lines (requirements, constraints or `pip freeze` output)."""
    return {normalize(m.group(1)): m.group(2) for m in map(_PIN.match, lines) if m}


@lru_cache(maxsize=None)
def tested_versions(environment: str | None = None) -> dict[str, str]:
    """Distribution -> the version CI tests, in the main environment (constraints/ci-cpu.txt)
    or in isolated environment `environment` (constraints/envs-cpu.txt and its spec's own pins).
    Empty where the checkout has no constraints/ (nothing is then called untested)."""
    path = envs.CONSTRAINTS if environment else CI_CONSTRAINTS
    try:
        tested = read_pins(path.read_text().splitlines())
    except OSError:
        return {}
    spec = envs.ENVIRONMENTS.get(environment or "")
    if spec:
        tested.update(read_pins([*spec.pins, *(arg for step in spec.steps for arg in step)]))
    return tested


def tested_version(requirement: Requirement, environment: str | None = None) -> str | None:
    tested = tested_versions(environment)
    for name in (requirement.distribution, *requirement.alternatives):
        if normalize(name) in tested:
            return tested[normalize(name)]
    return None


def version_notes(requirement: Requirement, distribution: str, version: str,
                  environment: str | None = None) -> list[str]:
    """Why `version` deserves a mark: past the supported range, or not the version CI tests."""
    notes = []
    if requirement.below and version_tuple(version) >= version_tuple(requirement.below):
        notes.append(f"{distribution} {version} is newer than the supported range "
                     f"{requirement.supported}")
    tested = tested_version(requirement, environment)
    if tested and version.split("+")[0] != tested.split("+")[0]:
        notes.append(f"{distribution} {version} is outside the tested set (CI tests {tested})")
    return notes


# ---------------------------------------------------------------- CPU-only builds

def _package_file(module: str, relative: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return ""
    try:
        return (Path(list(spec.submodule_search_locations)[0]) / relative).read_text()
    except OSError:
        return ""


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _torch_cpu(distribution: str, version: str) -> tuple[str, str] | None:
    # torch/version.py, written by its build: `cuda = None` in a CPU-only build.
    cuda = re.search(r"^cuda\s*(?::[^=]*)?=\s*(\S+)", _package_file("torch", "version.py"), re.M)
    if cuda is None or cuda.group(1) != "None":
        return None
    return (f"torch {version} is a CPU-only build",
            f'pip uninstall -y torch && pip install "torch=={version.split("+")[0]}" '
            "--index-url https://download.pytorch.org/whl/cu128 (or the cu1xx your driver "
            "supports)")


def _jax_cpu(distribution: str, version: str) -> tuple[str, str] | None:
    plugins = ("jax-cuda12-plugin", "jax-cuda13-plugin")
    if any(_installed(p) for p in plugins) or "cuda" in (_installed("jaxlib") or ""):
        return None
    return (f"jax {version} has no CUDA plugin ({' or '.join(plugins)})",
            f'pip install "jax[cuda12]=={version}" (or jax[cuda13])')


def _tensorflow_cpu(distribution: str, version: str) -> tuple[str, str] | None:
    # tensorflow/python/platform/build_info.py, written by its build, says is_cuda_build.
    info = _package_file("tensorflow", "python/platform/build_info.py")
    if distribution != "tensorflow-cpu" and "'is_cuda_build', False" not in info:
        return None
    return (f"{distribution} {version} is a CPU-only build",
            f'pip uninstall -y {distribution} && pip install "tensorflow[and-cuda]=={version}"')


CPU_BUILD_CHECKS: dict[str, Callable[[str, str], tuple[str, str] | None]] = {
    "torch": _torch_cpu, "jax": _jax_cpu, "tensorflow": _tensorflow_cpu,
}
# An isolated environment holds a GPU build only when one of these distributions is in it.
ENV_GPU_DISTRIBUTIONS = {"mxnet": "mxnet-cu", "chainer": "cupy"}


# ---------------------------------------------------------------- per row (for `list`)

@dataclass
class RowVersions:
    installed: str = "-"  # "torch 2.13.0+cpu"; "-" when nothing is found
    supported: str = "-"  # "torch >=2.0,<3"
    notes: list[str] = field(default_factory=list)  # outside the range or the tested set
    on_cpu: str | None = None  # why the row runs on the CPU although a GPU is present
    cpu_fix: str = ""


def row_versions(row: Row, gpu: bool) -> RowVersions:
    """The installed versions of `row`'s requirements, their ranges, and what to mark."""
    found: dict[str, tuple[str, str]] = {}
    record_packages: dict[str, str] = {}
    if row.environment:  # installed there, as its set-up recorded
        record_packages = read_pins((envs.read_record(row.environment) or {}).get("packages", []))
    for requirement in row.requires:
        names = (requirement.distribution, *requirement.alternatives)
        if row.environment:
            hit = next(((n, record_packages[normalize(n)]) for n in names
                        if normalize(n) in record_packages), None)
        else:
            hit = requirement.installed()
        if hit:
            found[requirement.distribution] = hit
    result = RowVersions()
    if row.requires:
        result.installed = ", ".join(f"{d} {v}" for d, v in found.values()) or "-"
        result.supported = ", ".join(f"{r.distribution} {r.supported}" for r in row.requires)
    for requirement in row.requires:
        if requirement.distribution in found:
            result.notes += version_notes(requirement, *found[requirement.distribution],
                                          environment=row.environment)
    if gpu:
        result.on_cpu, result.cpu_fix = _cpu_build(row, found, record_packages) or (None, "")
    return result


def _cpu_build(row: Row, found: dict[str, tuple[str, str]], record_packages: dict[str, str]
               ) -> tuple[str, str] | None:
    if row.environment in ENV_GPU_DISTRIBUTIONS:
        marker = ENV_GPU_DISTRIBUTIONS[row.environment]
        if record_packages and not any(name.startswith(marker) for name in record_packages):
            return (f"the {row.environment} environment holds a CPU build (no {marker}*; "
                    f"its set-up installs that one)", "")
        return None
    for requirement in row.requires:
        check = CPU_BUILD_CHECKS.get(requirement.module)
        if check and requirement.distribution in found:
            cpu = check(*found[requirement.distribution])
            if cpu:
                return cpu
    return None


# ---------------------------------------------------------------- stored results (the report)

def record_versions(record: dict[str, Any], row: Row) -> list[tuple[Requirement, str, str]]:
    """(requirement, distribution, version) of what a result of `row` ran with, from its
    `framework_version`: "2.13.0+cpu" (the row's first requirement) or "jax 0.10.2, flax ..."."""
    text = str(record.get("framework_version") or "")
    requires = row.requires
    named = dict(re.findall(r"([A-Za-z][\w.-]*) (\d[^\s,]*)", text))
    if named:
        return [(r, r.distribution, named[r.distribution]) for r in requires
                if r.distribution in named]
    if requires and re.match(r"\d", text):
        return [(requires[0], requires[0].distribution, text)]
    return []


def result_notes(records: Iterable[dict[str, Any]]) -> list[str]:
    """Footnotes for a table of stored results: rows measured with a version outside the
    tested set (or the supported range), and rows that ran on the CPU of a machine with a GPU."""
    notes: dict[str, None] = {}
    for record in records:
        impl = record.get("impl")
        try:
            row = registry.by_name(str(impl))
        except KeyError:  # a row this harness does not know (a plugin not loaded now)
            row = None
        for requirement, distribution, version in record_versions(record, row) if row else ():
            for note in version_notes(requirement, distribution, version, row.environment):
                notes[f"{impl}: {note}"] = None
        gpu = (record.get("env") or {}).get("gpu")
        if record.get("status") == "ok" and record.get("device") == "cpu" and gpu:
            notes[f"{impl}: ran on the CPU on a machine with a GPU ({gpu}): a CPU-only build, "
                  f"or --device cpu; `python -m harness list` says which"] = None
    return list(notes)
