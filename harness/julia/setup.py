"""`python -m harness setup julia`: make the Julia environments ready for the Julia rows.

For each flavor (Knet: the repository root's Project.toml, Julia 1.6-1.9; Flux:
julia_impls/flux/Project.toml, Julia >= 1.10) it finds the julia binary (as
`harness.julia.bridge.find_julia` does), checks its version, then runs Julia once to resolve
the environment with PythonCall pinned to the exact version the installed juliacall needs,
instantiate it (download the packages, write Manifest.toml) and precompile it, and finally
loads the framework once to prove it works. A flavor without a suitable Julia is skipped with
the reason; the command fails when no flavor (or the one asked for) could be set up.

The `setup` command itself, which also makes the isolated Python environments, is
harness.commands.setup.
"""

from __future__ import annotations

import os
import subprocess
import sys

from rich.console import Console

from harness.julia import readiness as jr

console = Console()

SMOKE = {
    "knet": 'using Knet, CUDA; println("Knet loaded, CUDA.functional() = ", CUDA.functional())',
    "flux": 'using Flux, CUDA, cuDNN; println("Flux ", pkgversion(Flux), ", '
            'CUDA.functional() = ", CUDA.functional())',
}


def julia_script(flavor: jr.Flavor, pythoncall: str | None) -> str:
    """The Julia code run with `--project=<flavor's environment>`."""
    lines = ["import Pkg"]
    if pythoncall:  # resolves the environment (writing Manifest.toml) with PythonCall pinned
        lines.append(f'Pkg.add(Pkg.PackageSpec(name="PythonCall", version=v"{pythoncall}"))')
    lines += ["Pkg.instantiate()", "Pkg.precompile()", SMOKE[flavor.name]]
    return "; ".join(lines)


def julia_command(flavor: jr.Flavor, julia: str, pythoncall: str | None) -> list[str]:
    return [julia, f"--project={flavor.project}", "--startup-file=no", "-e",
            julia_script(flavor, pythoncall)]


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
    pythoncall = None
    if jr.bridge_name() == "juliacall":
        required = jr.juliacall_requirements()
        if required is None:
            return False, ("juliacall is not installed: `pip install juliacall` (Knet with "
                           "Julia 1.9: `pip install \"juliacall<=0.9.28\"`) and run this again")
        jc_version, jc_julia, pythoncall = required
        if jc_julia and not jr.julia_compat_contains(jc_julia, version):
            return False, (f"juliacall {jc_version} supports Julia {jc_julia}, not {shown}: "
                           f"`pip install \"juliacall<=0.9.28\"` (Julia 1.9, >= 1.10.3) or "
                           f"\"juliacall<=0.9.25\" (Julia 1.6-1.8), then run this again")
    else:
        console.print("[yellow]PyJulia bridge: add PyCall to the environment yourself "
                      f"(`julia --project={flavor.project} -e 'import Pkg; Pkg.add(\"PyCall\")'`)"
                      "[/]")
    command = julia_command(flavor, julia, pythoncall)
    console.print(f"[bold]{flavor.framework}[/]: Julia {shown} ({julia}), environment "
                  f"{flavor.project}")
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


def setup_julia(flavors: list[str], dry_run: bool = False, force: bool = False) -> int:
    """Set up the named flavors; 0 when every one asked for by name (or, for `all`, at least
    one) is ready."""
    explicit = len(flavors) == 1
    results = {}
    for name in flavors:
        ok, message = setup_flavor(jr.flavor_named(name), dry_run, force)
        results[name] = ok
        style = "green" if ok else ("red" if explicit else "yellow")
        verdict = "ready" if ok else ("failed" if explicit else "skipped")
        console.print(f"[{style}]{jr.FLAVORS[name].framework}: {verdict}[/] - {message}",
                      highlight=False)
    if all(results.values()) or (not explicit and any(results.values())):
        return 0
    return 1
