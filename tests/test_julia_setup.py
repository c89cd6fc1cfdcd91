"""`python -m harness setup julia` (harness/julia/setup.py), with stand-in julia binaries:
what it runs, in which environment, and how it reports a missing or wrong Julia."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from harness.julia import constraints
from harness.julia import readiness as jr
from harness.commands import setup as setup_command
from tests.helpers import without_julia

FAKE_JULIA = """#!/bin/sh
# a stand-in for julia: prints a version, records its arguments, writes a manifest; run on
# runtests.jl, records the flavor it was told and exits with {test_status}
if [ "$1" = "--version" ]; then echo "julia version {version}"; exit 0; fi
for a in "$@"; do case "$a" in --project=*) dir="${{a#--project=}}";; esac; done
case "$3" in *runtests.jl) echo "$3 $HARNESS_JULIA_FLAVOR" >> "$dir/tests.txt"; exit {test_status};; esac
printf '%s\\n' "$@" > "$dir/julia-args.txt"
echo "JULIA_CONDAPKG_BACKEND=$JULIA_CONDAPKG_BACKEND" >> "$dir/julia-args.txt"
if [ -n "{status}" ] && [ "{status}" != "0" ]; then exit {status}; fi
printf 'manifest_format = "2.0"\\n[[deps.{package}]]\\nversion = "1.0.0"\\n[[deps.PythonCall]]\\nversion = "0.9.28"\\n[[deps.OpenSSL_jll]]\\nversion = "3.0.15+1"\\n' > "$dir/Manifest.toml"
"""


# juliacall 0.9.28's declaration, with OpenSSL_jll resolved for a Python on OpenSSL 3.0
DECLARATION = constraints.Declaration("0.9.28", ("~1.9, ^1.10.3", "1 - 1.11"), (
    constraints.PackageConstraint("PythonCall", "6099a3de-0909-46bc-b1f4-468b9a2dfc0d", "=0.9.28"),
    constraints.PackageConstraint("OpenSSL_jll", constraints.OPENSSL_JLL, "3 - 3.0")),
    openssl_limit="1 - 1.11", openssl="3.0.13")


@pytest.fixture
def environments(monkeypatch, tmp_path):
    """Both flavors' environments in tmp_path, no julia anywhere, juliacall 0.9.28 'installed'."""
    without_julia(monkeypatch, tmp_path, tmp_path / "empty-bin")
    monkeypatch.setattr(jr, "juliacall_declaration", lambda: DECLARATION)
    return tmp_path


def install_fake_julia(directory: Path, version: str, package: str, status: int = 0,
                       test_status: int = 0) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "julia"
    path.write_text(FAKE_JULIA.format(version=version, package=package, status=status,
                                      test_status=test_status))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def run_cli(argv: list[str], targets=None) -> int:
    parser = argparse.ArgumentParser()
    setup_command.register(parser.add_subparsers(), targets)
    args = parser.parse_args(argv)
    return args.func(args)


def test_setup_instantiates_the_flux_environment_with_pythoncall_pinned(environments,
                                                                        monkeypatch, capsys):
    install_fake_julia(environments / "bin", "1.10.4", "Flux")
    monkeypatch.setenv("PATH", str(environments / "bin"))
    assert run_cli(["setup", "julia", "--flavor", "flux"]) == 0
    args = (jr.FLAVORS["flux"].project / "julia-args.txt").read_text().splitlines()
    assert args[0] == f"--project={jr.FLAVORS['flux'].project}"
    script = args[args.index("-e") + 1]
    # every package juliacall declares, each held to its specifier, in one resolution
    assert ('Pkg.add([Pkg.PackageSpec(name="PythonCall", uuid="6099a3de-0909-46bc-b1f4-'
            '468b9a2dfc0d", version=Pkg.Types.semver_spec("=0.9.28")), Pkg.PackageSpec('
            'name="OpenSSL_jll", uuid="458c3c95-2e84-50aa-8efc-19380b2a3a95", '
            'version=Pkg.Types.semver_spec("3 - 3.0"))])') in script
    assert script.index("Pkg.instantiate()") < script.index("Pkg.precompile()") \
        < script.index("using Flux")
    assert "JULIA_CONDAPKG_BACKEND=Null" in args  # PythonCall must not fetch its own Python
    out = capsys.readouterr().out
    assert "Flux.jl: ready" in out
    assert jr.julia_readiness("flux")[0]


def test_setup_all_skips_a_flavor_without_a_suitable_julia(environments, monkeypatch, capsys):
    install_fake_julia(environments / "bin", "1.11.2", "Flux")
    monkeypatch.setenv("PATH", str(environments / "bin"))
    assert run_cli(["setup", "julia"]) == 0  # Flux done, Knet skipped: still a success
    out = " ".join(capsys.readouterr().out.split())
    assert "Knet.jl: skipped" in out and "Knet.jl needs 1.6-1.9" in out
    assert "HARNESS_JULIA_KNET" in out
    assert not (jr.FLAVORS["knet"].project / "julia-args.txt").exists()
    # asked for by name, the same gap is a failure
    assert run_cli(["setup", "julia", "--flavor", "knet"]) == 1
    assert "Knet.jl: failed" in capsys.readouterr().out


def test_setup_uses_the_per_flavor_julia(environments, monkeypatch):
    install_fake_julia(environments / "bin", "1.11.2", "Flux")
    old = install_fake_julia(environments / "julia19", "1.9.4", "Knet")
    monkeypatch.setenv("PATH", str(environments / "bin"))
    monkeypatch.setenv("HARNESS_JULIA_KNET", str(old))
    assert run_cli(["setup", "julia"]) == 0
    assert jr.julia_readiness("knet")[0] and jr.julia_readiness("flux")[0]


def test_setup_without_julia_fails_with_the_install_steps(environments, capsys):
    assert run_cli(["setup", "julia"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "julia not found on PATH" in out and "juliaup" in out


def test_a_failing_julia_run_fails_setup(environments, monkeypatch, capsys):
    install_fake_julia(environments / "bin", "1.10.4", "Flux", status=3)
    monkeypatch.setenv("PATH", str(environments / "bin"))
    assert run_cli(["setup", "julia", "--flavor", "flux"]) == 1
    assert "Julia exited with status 3" in " ".join(capsys.readouterr().out.split())
    assert not (jr.FLAVORS["flux"].project / "Manifest.toml").exists()


def test_dry_run_runs_nothing(environments, monkeypatch, capsys):
    install_fake_julia(environments / "bin", "1.10.4", "Flux")
    monkeypatch.setenv("PATH", str(environments / "bin"))
    assert run_cli(["setup", "julia", "--flavor", "flux", "--dry-run"]) == 0
    assert not (jr.FLAVORS["flux"].project / "julia-args.txt").exists()
    assert "Pkg.instantiate()" in capsys.readouterr().out


def test_setup_needs_juliacall_to_know_which_pythoncall(environments, monkeypatch, capsys):
    install_fake_julia(environments / "bin", "1.10.4", "Flux")
    monkeypatch.setenv("PATH", str(environments / "bin"))
    monkeypatch.setattr(jr, "juliacall_declaration", lambda: None)
    assert run_cli(["setup", "julia", "--flavor", "flux"]) == 1
    assert "juliacall is not installed" in capsys.readouterr().out


def test_force_resolves_afresh(environments, monkeypatch):
    install_fake_julia(environments / "bin", "1.10.4", "Flux", status=3)
    monkeypatch.setenv("PATH", str(environments / "bin"))
    manifest = jr.FLAVORS["flux"].project / "Manifest.toml"
    manifest.write_text("stale")
    assert run_cli(["setup", "julia", "--flavor", "flux", "--force"]) == 1
    assert not manifest.exists()


def test_other_setup_targets_share_the_command():
    seen = []

    def mxnet(args: argparse.Namespace) -> int:
        seen.append(args.force)
        return 7

    targets = {"mxnet": ("the isolated MXNet environment", mxnet)}
    assert run_cli(["setup", "mxnet", "--force"], targets) == 7
    assert seen == [True]
    with pytest.raises(SystemExit):
        run_cli(["setup", "chainer"], targets)


def test_a_julia_outside_the_openssl_limit_is_refused_before_anything_runs(environments,
                                                                          monkeypatch, capsys):
    install_fake_julia(environments / "bin", "1.12.1", "Flux")
    monkeypatch.setenv("PATH", str(environments / "bin"))
    assert run_cli(["setup", "julia", "--flavor", "flux"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    # the OpenSSL rule named as the cause, and the fix that works (an older juliacall does not)
    assert "allows Julia 1 - 1.11 only, not 1.12.1" in out and "OpenSSL 3.0.13" in out
    assert "Julia 1.10 (LTS) or 1.11" in out and "HARNESS_JULIA_FLUX" in out
    assert 'juliacall<=' not in out and out.rstrip().endswith("then run this again")
    assert not (jr.FLAVORS["flux"].project / "julia-args.txt").exists()


def test_the_committed_environments_list_every_package_juliacall_declares():
    # so that adding them within their specifiers changes the manifest, not Project.toml
    for flavor in jr.FLAVORS.values():
        project = (flavor.project / "Project.toml").read_text()
        for package in DECLARATION.packages:
            assert f'{package.name} = "{package.uuid}"' in project, (flavor.name, package.name)


def test_setup_test_runs_the_julia_tests_in_every_flavor_set_up(environments, monkeypatch,
                                                                capsys):
    install_fake_julia(environments / "bin", "1.11.2", "Flux")
    old = install_fake_julia(environments / "julia19", "1.9.4", "Knet")
    monkeypatch.setenv("PATH", str(environments / "bin"))
    monkeypatch.setenv("HARNESS_JULIA_KNET", str(old))
    assert run_cli(["setup", "julia", "--test"]) == 0
    for name in ("knet", "flux"):
        ran = (jr.FLAVORS[name].project / "tests.txt").read_text().split()
        assert ran == [str(jr.JULIA_IMPLS / "test" / "runtests.jl"), name]
    out = " ".join(capsys.readouterr().out.split())
    assert "Knet.jl tests: passed" in out and "Flux.jl tests: passed" in out


def test_failing_julia_tests_fail_setup_and_a_flavor_not_set_up_is_not_tested(environments,
                                                                            monkeypatch,
                                                                            capsys):
    install_fake_julia(environments / "bin", "1.11.2", "Flux", test_status=1)
    monkeypatch.setenv("PATH", str(environments / "bin"))
    assert run_cli(["setup", "julia", "--test"]) == 1  # Knet skipped (no Julia 1.9), Flux failed
    out = " ".join(capsys.readouterr().out.split())
    assert "Flux.jl tests: failed" in out and "exited with status 1" in out
    assert "Knet.jl tests" not in out
    assert not (jr.FLAVORS["knet"].project / "tests.txt").exists()
    # without --test nothing is tested
    assert run_cli(["setup", "julia"]) == 0
    assert len((jr.FLAVORS["flux"].project / "tests.txt").read_text().splitlines()) == 1


def test_set_up_messages_keep_bracketed_text(environments, monkeypatch, capsys):
    binary = install_fake_julia(environments / "bin[x]", "1.11.2", "Flux")
    monkeypatch.setenv("HARNESS_JULIA_FLUX", str(binary))
    assert run_cli(["setup", "julia", "--flavor", "flux", "--dry-run"]) == 0
    assert f"({binary})" in " ".join(capsys.readouterr().out.split())  # rich would eat "[x]"
