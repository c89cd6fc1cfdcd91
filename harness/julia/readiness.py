"""Whether a Julia row can run here, decided without starting Julia: the flavors (Knet.jl,
Flux.jl), where their julia binary is, its version against the flavor's range, the bridge
package, and the flavor's instantiated environment (Manifest.toml). Only files, environment
variables and `julia --version` are looked at, so the parent process can ask for `list`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness import benchmarks
from harness.julia import constraints
from harness.project import REPO_ROOT
from harness.trust import write_access_problem

JULIA_IMPLS = REPO_ROOT / "julia_impls"
SETUP_COMMAND = "python -m harness setup julia"
BRIDGE_VARIABLE = "HARNESS_JULIA_BRIDGE"  # "juliacall" (default) or "pyjulia"
# Flux: 1.10 (LTS) or 1.11, not `release` (1.12+), which juliacall refuses beside a Python
# linked against an OpenSSL older than 3.5 (`openssl_refusal`).
FLUX_JULIA = "1.10"
INSTALL_JULIA = ("install it (juliaup: `curl -fsSL https://install.julialang.org | sh`, then "
                 f"`juliaup add 1.9` for Knet and/or `juliaup add {FLUX_JULIA}` (LTS; 1.11 also "
                 "works) for Flux; or a binary from https://julialang.org/downloads/)")


@dataclass(frozen=True)
class Flavor:
    """One Julia framework: its environment, its sources and the Julia versions it runs on."""

    name: str  # "knet" or "flux"
    framework: str  # as shown in results
    package: str  # the Julia package whose version `info` reports
    project: Path  # the directory holding its Project.toml
    sources: Path  # each benchmark's `julia_source` (cnn.jl, rnn.jl, transformer.jl, ...)
    minimum: tuple[int, int]  # oldest Julia (major, minor)
    below: tuple[int, int] | None  # first Julia (major, minor) it does not run on
    versions: str  # the range in words
    flips_kernels: bool  # its convolution layer flips the kernel (true convolution)

    @property
    def julia_variable(self) -> str:
        return f"HARNESS_JULIA_{self.name.upper()}"

    def accepts(self, version: tuple[int, ...]) -> bool:
        return version[:2] >= self.minimum and (self.below is None or version[:2] < self.below)


FLAVORS: dict[str, Flavor] = {
    # Knet 1.4.10 (2022, its last release) needs CUDA.jl <= 3, which needs Julia <= 1.9.
    "knet": Flavor("knet", "Knet.jl", "Knet", REPO_ROOT, JULIA_IMPLS / "knet",
                   (1, 6), (1, 10), "1.6-1.9", flips_kernels=False),
    "flux": Flavor("flux", "Flux.jl", "Flux", JULIA_IMPLS / "flux", JULIA_IMPLS / "flux",
                   (1, 10), None, ">= 1.10", flips_kernels=True),
}

def julia_sources() -> dict[str, str]:
    """Benchmark -> its Julia file name in `julia_impls/<flavor>/` (harness.benchmarks)."""
    return {name: benchmarks.get(name).julia_source for name in benchmarks.names()
            if benchmarks.get(name).julia_source}


def row_options(flavor: str) -> dict[str, Any]:
    """The registry's `options` for a Julia row: the flavor for the adapters, and the Julia
    source of each benchmark for `python -m harness show` (its entry point is this module)."""
    f = flavor_named(flavor)
    return {"flavor": f.name,
            "source": {benchmark: str((f.sources / name).relative_to(REPO_ROOT))
                       for benchmark, name in julia_sources().items()}}


class JuliaNotReady(RuntimeError):
    """Julia, juliacall or the Julia environment is missing; the message says how to fix it."""


def flavor_named(name: str) -> Flavor:
    try:
        return FLAVORS[name]
    except KeyError:
        raise ValueError(f"unknown Julia flavor {name!r}; known: {', '.join(FLAVORS)}") from None


# ---------------------------------------------------------------------------------------------
# Readiness: decided without starting Julia in this process.
# ---------------------------------------------------------------------------------------------

def julia_candidates(flavor: Flavor) -> list[tuple[str, str]]:
    """Where the julia binary may be named, in order: (where, value)."""
    found = []
    for variable in (flavor.julia_variable, "HARNESS_JULIA", "PYTHON_JULIACALL_EXE",
                     "PYTHON_JULIAPKG_EXE"):
        if os.environ.get(variable):
            found.append((variable, os.environ[variable]))
    on_path = shutil.which("julia")
    if on_path:
        found.append(("PATH", on_path))
    return found


def find_julia(flavor: Flavor) -> tuple[str | None, str]:
    """The julia binary for `flavor` and where it came from; (None, reason) when there is none.

    The first named binary wins, so that `HARNESS_JULIA_KNET` can point at a Julia 1.9 while
    `julia` on PATH is a current one for Flux. A binary named by a variable is checked before
    anything runs it (`list` runs `julia --version`): see `untrusted_binary`."""
    for where, value in julia_candidates(flavor):
        path = shutil.which(value) if os.sep not in value else value
        if path is None or not os.access(path, os.X_OK) or not os.path.isfile(path):
            return None, f"{where}={value} is not an executable file"
        problem = None if where == "PATH" else untrusted_binary(path)
        if problem:
            return None, (f"{where}={value} is not run: {problem}; point it at the julia "
                          "binary of an installation only you or root can change")
        return path, where
    return None, "julia not found on PATH"


def untrusted_binary(path: str) -> str | None:
    """Why the harness will not execute `path` as julia, or None: it must be a file named
    julia* (after links), and it and its directory may be changed only by you or root
    (harness.trust) - otherwise another local user could put code there that the harness runs."""
    real = Path(os.path.realpath(path))
    if not real.name.lower().startswith("julia"):
        return f"{real} is not named julia*"
    for target in (real, real.parent):
        problem = write_access_problem(target)
        if problem:
            return f"{target} {problem}"
    return None


@lru_cache(maxsize=16)
def _version_output(path: str, mtime: float) -> str:
    run = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=120)
    return run.stdout + run.stderr


def julia_version(path: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from `julia --version`, None when it does not say."""
    try:
        output = _version_output(path, os.path.getmtime(path))
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"julia version (\d+)\.(\d+)\.(\d+)", output)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def parse_version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", text.split("+")[0].split("-")[0])[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


def julia_compat_contains(spec: str, version: tuple[int, int, int]) -> bool:
    """Whether `version` satisfies a Julia Pkg compat specifier (as in juliacall's
    juliapkg.json: "~1.6.1,~1.7,=1.10.0,^1.10.3", "1.6.1-1.10.0,^1.10.3", "1.9")."""
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if "-" in part and not part.startswith(("^", "~", "=")):
            low, high = (s.strip() for s in part.split("-", 1))
            high_parts = re.findall(r"\d+", high)
            upper = parse_version(high)
            # "a - b" includes every version that starts with b's given components
            if parse_version(low) <= version and version[:len(high_parts)] <= upper[:len(high_parts)]:
                return True
            continue
        if part.startswith("="):
            if version == parse_version(part[1:]):
                return True
            continue
        tilde = part.startswith("~")
        given = re.findall(r"\d+", part.lstrip("^~"))
        low = parse_version(part.lstrip("^~"))
        if version < low:
            continue
        if tilde:  # ~1.2.3 -> [1.2.3, 1.3.0); ~1 -> [1, 2)
            fixed = 1 if len(given) == 1 else 2
        else:  # caret (the default): the first non-zero component is fixed
            nonzero = next((i for i, c in enumerate(low) if c != 0), len(given) - 1)
            fixed = min(nonzero + 1, len(given))
        if version[:fixed] == low[:fixed]:
            return True
    return False


def bridge_name() -> str:
    name = os.environ.get(BRIDGE_VARIABLE, "juliacall").strip().lower()
    if name not in ("juliacall", "pyjulia"):
        raise ValueError(f"{BRIDGE_VARIABLE}={name!r}: use 'juliacall' (default) or 'pyjulia'")
    return name


def juliacall_declaration() -> constraints.Declaration | None:
    """What the installed juliacall declares (harness.julia.constraints); None without it."""
    return constraints.installed_declaration()


def julia_mismatch(declaration: constraints.Declaration, version: tuple[int, int, int]) -> str | None:
    """The first of juliacall's Julia specifiers `version` does not meet, or None."""
    return next((spec for spec in declaration.julia
                 if not julia_compat_contains(spec, version)), None)


def juliacall_refusal(declaration: constraints.Declaration, version: tuple[int, int, int],
                      flavor: Flavor, then: str) -> str | None:
    """Why the installed juliacall refuses this Julia, with the fix that works; None when it
    does not. `then`: what to run after the fix."""
    spec = julia_mismatch(declaration, version)
    if spec is None:
        return None
    shown = ".".join(map(str, version))
    if spec == declaration.openssl_limit:
        return (f"juliacall {declaration.version} declares OpenSSL_jll `<=python` (as every "
                f"juliacall from 0.9.25 on): no newer than this Python's OpenSSL "
                f"{declaration.openssl}, and Julia 1.12+ ships OpenSSL 3.5, so juliapkg allows "
                f"Julia {spec} only, not {shown}; no other juliacall changes that. Install Julia "
                f"1.10 (LTS) or 1.11 (`juliaup add {FLUX_JULIA}`) and point "
                f"{flavor.julia_variable} at its julia binary (or use a Python linked against "
                f"OpenSSL >= 3.5), then {then}")
    return (f"juliacall {declaration.version} supports Julia {spec}, not {shown}: "
            f"`pip install \"juliacall<=0.9.28\"` (Julia 1.9 and >= 1.10.3) or "
            f"`pip install \"juliacall<=0.9.25\"` (Julia 1.6-1.8), then {then}")


def manifest_mismatch(declaration: constraints.Declaration,
                      versions: dict[str, str]) -> tuple[str, str, str] | None:
    """(package, specifier, version found or "none") for the first package juliacall needs
    that the manifest lacks or holds in a version outside its specifier; None when all fit."""
    for package in declaration.packages:
        have = versions.get(package.name, "")
        if not have or (package.spec and not julia_compat_contains(package.spec,
                                                                    parse_version(have))):
            return package.name, package.spec, have or "none"
    return None


def manifest_path(flavor: Flavor) -> Path | None:
    """The environment's manifest (`Manifest.toml`, or a versioned `Manifest-v1.x.toml`)."""
    found = sorted(flavor.project.glob("Manifest*.toml"))
    return found[0] if found else None


_MANIFEST_ENTRY = re.compile(r'^\[\[(?:deps\.)?"?([^"\]]+)"?\]\]\s*$')
_MANIFEST_VERSION = re.compile(r'^version\s*=\s*"([^"]*)"')


def manifest_versions(path: Path) -> dict[str, str]:
    """Package -> version in a Julia manifest (format 1: `[[Name]]` tables; 2: `[[deps.Name]]`).
    Read line by line (no TOML parser: Python 3.10 has none in its standard library); a
    standard library package has no version ("")."""
    versions: dict[str, str] = {}
    current = None
    for line in path.read_text().splitlines():
        entry = _MANIFEST_ENTRY.match(line.strip())
        if entry:
            current = entry.group(1)
            versions.setdefault(current, "")
            continue
        version = _MANIFEST_VERSION.match(line.strip())
        if version and current is not None and not versions[current]:
            versions[current] = version.group(1)
        elif line.startswith("["):  # another table ends the entry
            current = None
    return versions


def julia_readiness(flavor: str) -> tuple[bool, str]:
    """Can this flavor's rows run here? (True, what will be used) or (False, what is missing
    and the steps that fix it). Starts no Julia in this process."""
    f = flavor_named(flavor)
    both = "need Julia 1.6-1.9 for Knet / >= 1.10 for Flux"
    setup = f"`{SETUP_COMMAND}`"
    path, where = find_julia(f)
    if path is None:  # the same words for every flavor; the row's fix names its juliacall
        return False, f"{where} ({both}): {INSTALL_JULIA}, then install juliacall and run {setup}"
    version = julia_version(path)
    if version is None:
        return False, f"{path} ({where}) did not print `julia version X.Y.Z` for `--version`"
    shown = ".".join(map(str, version))
    if not f.accepts(version):
        return False, (f"{f.framework} needs Julia {f.versions}, but {path} ({where}) is Julia "
                       f"{shown}: install a Julia {f.versions} (e.g. `juliaup add "
                       f"{'1.9' if f.name == 'knet' else FLUX_JULIA}`) and point "
                       f"{f.julia_variable} at its julia binary, then run {setup}")
    try:
        bridge = bridge_name()
    except ValueError as error:
        return False, str(error)
    if bridge == "pyjulia":
        if importlib.util.find_spec("julia") is None:
            return False, (f"{BRIDGE_VARIABLE}=pyjulia, but PyJulia is not installed: "
                           "`pip install julia` and add PyCall to the Julia environment, or "
                           f"unset {BRIDGE_VARIABLE} to use juliacall")
        bridge = "PyJulia"
    else:
        declaration = juliacall_declaration()
        if declaration is None:
            pin = (' "juliacall<=0.9.28"' if f.name == "knet" else " juliacall")
            return False, (f"juliacall is not installed (the Python-Julia bridge): "
                           f"`pip install{pin}`, then {setup}")
        refusal = juliacall_refusal(declaration, version, f, setup)
        if refusal:
            return False, refusal
        bridge = f"juliacall {declaration.version}"
    manifest = manifest_path(f)
    if manifest is None:
        return False, (f"the {f.framework} environment ({f.project / 'Project.toml'}) is not "
                       f"instantiated (no Manifest.toml): run {setup}")
    versions = manifest_versions(manifest)
    if f.package not in versions:
        return False, f"{manifest} has no {f.package}: run {setup}"
    if bridge.startswith("juliacall"):
        mismatch = manifest_mismatch(declaration, versions)
        if mismatch:
            name, spec, have = mismatch
            return False, (f"{bridge} needs {name} {spec.lstrip('=')} in the {f.framework} "
                           f"environment, which has {have}: run {setup}")
    return True, (f"ready: Julia {shown} ({path}, from {where}), {f.package} "
                  f"{versions[f.package]}, {bridge}")


def julia_problem(flavor: str) -> str | None:
    """`julia_readiness` in the registry's form: None when ready, else the reason."""
    ready, reason = julia_readiness(flavor)
    return None if ready else reason
