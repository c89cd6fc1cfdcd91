"""`python -m harness setup julia`: make the Julia environments ready for the Julia rows.

For each flavor (Knet: the repository root's Project.toml, Julia 1.6-1.9; Flux:
julia_impls/flux/Project.toml, Julia >= 1.10) it finds the julia binary (as
`harness.julia.bridge.find_julia` does), checks its version against the flavor and against
every Julia specifier the installed juliacall declares, then runs Julia once to resolve the
environment with every package juliacall declares held to its specifier (PythonCall exactly,
OpenSSL_jll no newer than this Python's OpenSSL: harness.julia.constraints), instantiate it
(download the packages, write Manifest.toml) and precompile it, and finally loads the framework
once to prove it works. With `--test` it then runs julia_impls/test/runtests.jl in each flavor
it set up. A flavor without a suitable Julia is skipped with the reason; the command fails
when no flavor (or the one asked for) could be set up, or a test run failed.

The `setup` command itself, which also makes the isolated Python environments, is
harness.commands.setup.
"""

from __future__ import annotations

import os
import subprocess
import sys

from rich.console import Console
from rich.markup import escape

from harness.julia import constraints
from harness.julia import readiness as jr

console = Console()

SMOKE = {
    "knet": 'using Knet, CUDA; println("Knet loaded, CUDA.functional() = ", CUDA.functional())',
    "flux": 'using Flux, CUDA, cuDNN; println("Flux ", pkgversion(Flux), ", '
            'CUDA.functional() = ", CUDA.functional())',
}


def julia_script(flavor: jr.Flavor, packages: tuple[constraints.PackageConstraint, ...]) -> str:
    """The Julia code run with `--project=<flavor's environment>`. Every package is already in
    the committed Project.toml, so adding it within its specifier changes only the manifest."""
    lines = ["import Pkg"]
    if packages:  # resolves the environment (writing Manifest.toml) within juliacall's specifiers
        lines.append("Pkg.add([" + ", ".join(p.julia() for p in packages) + "])")
    lines += ["Pkg.instantiate()", "Pkg.precompile()", SMOKE[flavor.name]]
    return "; ".join(lines)


def julia_command(flavor: jr.Flavor, julia: str,
                  packages: tuple[constraints.PackageConstraint, ...]) -> list[str]:
    return [julia, f"--project={flavor.project}", "--startup-file=no", "-e",
            julia_script(flavor, packages)]


def test_command(flavor: jr.Flavor, julia: str) -> list[str]:
    """julia_impls/test/runtests.jl in the flavor's environment."""
    return [julia, f"--project={flavor.project}", "--startup-file=no",
            str(jr.JULIA_IMPLS / "test" / "runtests.jl")]


def julia_environment() -> dict[str, str]:
    """PythonCall must not fetch its own Python (CondaPkg) while Julia precompiles it: it
    will run inside this one."""
    return {**os.environ, "JULIA_PYTHONCALL_EXE": sys.executable,
            "JULIA_CONDAPKG_BACKEND": "Null"}


def setup_flavor(flavor: jr.Flavor, dry_run: bool = False,
                 force: bool = False) -> tuple[bool, str]:
    """(done, what happened) for one flavor. `force`: resolve afresh (the manifest goes)."""
    julia, where = jr.find_julia(flavor)
    if julia is None:
        return False, f"{where} (need Julia {flavor.versions}): {jr.INSTALL_JULIA}"
    version = jr.julia_version(julia)
    if version is None:
        return False, f"{julia} ({where}) did not print its version for `--version`"
    shown = ".".join(map(str, version))
    if not flavor.accepts(version):
        return False, (f"{julia} ({where}) is Julia {shown}; {flavor.framework} needs "
                       f"{flavor.versions}: point {flavor.julia_variable} at such a julia")
    packages: tuple[constraints.PackageConstraint, ...] = ()
    if jr.bridge_name() == "juliacall":
        declaration = jr.juliacall_declaration()
        if declaration is None:
            return False, ("juliacall is not installed: `pip install juliacall` (Knet with "
                           "Julia 1.9: `pip install \"juliacall<=0.9.28\"`) and run this again")
        refusal = jr.juliacall_refusal(declaration, version, flavor, "run this again")
        if refusal:
            return False, refusal
        packages = declaration.packages
    else:
        console.print("[yellow]PyJulia bridge: add PyCall to the environment yourself "
                      + escape(f"(`julia --project={flavor.project} -e "
                               "'import Pkg; Pkg.add(\"PyCall\")'`)") + "[/]")
    command = julia_command(flavor, julia, packages)
    console.print(f"[bold]{flavor.framework}[/]: "
                  + escape(f"Julia {shown} ({julia}), environment {flavor.project}"))
    console.print("  " + " ".join(command[:-1]) + f" '{command[-1]}'", markup=False,
                  highlight=False)
    if dry_run:
        return True, "dry run: nothing was run"
    manifest = jr.manifest_path(flavor)
    if force and manifest is not None:
        manifest.unlink()
    try:
        done = subprocess.run(command, env=julia_environment(), cwd=flavor.project)
    except OSError as error:
        return False, f"could not run {julia}: {error}"
    if done.returncode != 0:
        return False, (f"Julia exited with status {done.returncode} while instantiating "
                       f"{flavor.project} (its output is above)")
    ready, reason = jr.julia_readiness(flavor.name)
    return ready, reason


def test_flavor(flavor: jr.Flavor, dry_run: bool = False) -> tuple[bool, str]:
    """Run julia_impls/test/runtests.jl in a flavor's environment: (passed, what happened)."""
    julia, where = jr.find_julia(flavor)
    if julia is None:
        return False, where
    command = test_command(flavor, julia)
    console.print("  " + " ".join(command), markup=False, highlight=False)
    if dry_run:
        return True, "dry run: nothing was run"
    environment = {**julia_environment(), "HARNESS_JULIA_FLAVOR": flavor.name}
    try:
        done = subprocess.run(command, env=environment, cwd=jr.REPO_ROOT)
    except OSError as error:
        return False, f"could not run {julia}: {error}"
    if done.returncode != 0:
        return False, (f"julia_impls/test/runtests.jl failed: Julia exited with status "
                       f"{done.returncode} (its output is above)")
    return True, "julia_impls/test/runtests.jl passed"


def setup_julia(flavors: list[str], dry_run: bool = False, force: bool = False,
                test: bool = False) -> int:
    """Set up the named flavors, and with `test` run the Julia-side tests in each one set up;
    0 when every one asked for by name (or, for `all`, at least one) is ready and every test
    run passed."""
    explicit = len(flavors) == 1
    results = {}
    for name in flavors:
        ok, message = setup_flavor(jr.flavor_named(name), dry_run, force)
        results[name] = ok
        style = "green" if ok else ("red" if explicit else "yellow")
        verdict = "ready" if ok else ("failed" if explicit else "skipped")
        console.print(f"[{style}]{jr.FLAVORS[name].framework}: {verdict}[/] - {escape(message)}",
                      highlight=False)
    tests_passed = True
    for name in (n for n, ok in results.items() if ok and test):
        flavor = jr.flavor_named(name)
        console.print(f"[bold]{flavor.framework} tests[/]")
        passed, message = test_flavor(flavor, dry_run)
        tests_passed = tests_passed and passed
        style, verdict = ("green", "passed") if passed else ("red", "failed")
        console.print(f"[{style}]{flavor.framework} tests: {verdict}[/] - {escape(message)}",
                      highlight=False)
    if not tests_passed:
        return 1
    if all(results.values()) or (not explicit and any(results.values())):
        return 0
    return 1
