"""What the installed juliacall declares about the Julia side, every constraint of it.

juliacall ships a `juliapkg.json`: the Julia versions it supports and the Julia packages it
needs, each with a version specifier. juliacall 0.9.28 declares PythonCall `=0.9.28` and
OpenSSL_jll `<=python`, juliapkg's marker for "no newer than the OpenSSL this Python is linked
against" (two OpenSSLs in one process conflict); every juliacall from 0.9.25 on declares it,
so a Python linked against an OpenSSL older than 3.5 limits every one of them to Julia <= 1.11
(Julia 1.12 ships OpenSSL 3.5). juliapkg applies them when it makes its own
environment; the harness points juliacall at its own environments instead, so `setup julia`
applies them here, as juliapkg resolves them (`openssl_compat`, from juliapkg 0.1.22's
deps.py), and readiness checks the manifest against them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import ssl
from dataclasses import dataclass
from pathlib import Path

OPENSSL_JLL = "458c3c95-2e84-50aa-8efc-19380b2a3a95"


@dataclass(frozen=True)
class PackageConstraint:
    """A Julia package juliacall needs, with a Pkg compat specifier ("=0.9.28", "3 - 3.0")."""

    name: str
    uuid: str
    spec: str

    def julia(self) -> str:
        """The `Pkg.PackageSpec` that adds it within its specifier."""
        return (f'Pkg.PackageSpec(name="{self.name}", uuid="{self.uuid}", '
                f'version=Pkg.Types.semver_spec("{self.spec}"))')


@dataclass(frozen=True)
class Declaration:
    """juliacall's declaration: its version, the Julia specifiers that must all hold, and the
    packages."""

    version: str
    julia: tuple[str, ...]
    packages: tuple[PackageConstraint, ...]
    # The Julia specifier that `<=python` adds ("1 - 1.11" for an OpenSSL older than 3.5), and
    # that OpenSSL's version: a Julia refused by this one is refused for the Python's OpenSSL,
    # which no other juliacall changes.
    openssl_limit: str | None = None
    openssl: str = ""

    def package(self, name: str) -> PackageConstraint | None:
        return next((p for p in self.packages if p.name == name), None)


def openssl_compat(version: tuple[int, ...]) -> tuple[str, str | None]:
    """juliapkg's rule for `<=python`: (OpenSSL_jll's specifier, a Julia specifier or None).
    OpenSSL 3.x: the same major, up to this minor; 1.x: this major.minor up to this patch.
    Julia 1.12 ships OpenSSL 3.5, so an older one limits Julia to 1.11."""
    major, minor, patch = version[:3]
    compat = f"{major} - {major}.{minor}" if major >= 3 else f"{major}.{minor} - {major}.{minor}.{patch}"
    return compat, ("1 - 1.11" if (major, minor) < (3, 5) else None)


def read_declaration(juliapkg_json: Path, version: str,
                     openssl: tuple[int, ...] = tuple(ssl.OPENSSL_VERSION_INFO)) -> Declaration:
    """The declaration in a juliacall's `juliapkg.json`, `<=python` resolved for `openssl`."""
    data = json.loads(juliapkg_json.read_text())
    julia = [data["julia"]] if data.get("julia") else []
    packages = []
    julia_limit = None
    for name, entry in data.get("packages", {}).items():
        spec = str(entry.get("version", ""))
        if spec == "<=python" and name == "OpenSSL_jll" and entry.get("uuid") == OPENSSL_JLL:
            spec, julia_limit = openssl_compat(openssl)
            if julia_limit:
                julia.append(julia_limit)
        packages.append(PackageConstraint(name, entry.get("uuid", ""), spec))
    return Declaration(version, tuple(julia), tuple(packages), julia_limit,
                       ".".join(map(str, openssl[:3])))


def installed_declaration() -> Declaration | None:
    """The installed juliacall's declaration (read, never imported: importing starts Julia);
    None when juliacall is not installed."""
    spec = importlib.util.find_spec("juliacall")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "juliapkg.json"
    return read_declaration(path, importlib.metadata.version("juliacall"))
