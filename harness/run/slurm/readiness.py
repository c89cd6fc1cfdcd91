"""Readiness on the cluster: what the first small job on each partition saw on its node
(harness.run.slurm.node.node_report) - which rows are ready there, since the login machine may
lack the frameworks and the GPU - and whether the folders the jobs need are the ones this
machine sees (a shared filesystem), with the fix for each that is not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.registry import Readiness, Row
from harness.run import envs
from harness.project import REPO_ROOT


@dataclass
class NodeView:
    """What the first job on a partition saw on its node."""

    partition: str
    node: str | None = None
    ready: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str | None = None  # the readiness job itself failed
    report: dict[str, Any] = field(default_factory=dict)  # node.node_report's answer

    def readiness(self, impl: Row, benchmark: str) -> Readiness:
        """registry.readiness as the node saw it."""
        if self.problem:
            return Readiness(False, self.problem)
        found = self.ready.get(f"{impl.name}|{benchmark}")
        if found is None:
            return Readiness(False, "not checked on the node")
        return Readiness(bool(found["ready"]), str(found["reason"]), str(found.get("fix") or ""),
                         str(found.get("note") or ""))


def shared_paths(probe: Path, checks: list[tuple[str, str]], data_dir_option: str | None
                 ) -> dict[str, str]:
    """The paths a node must see as this machine does, by name: the project, the results
    folder (through `probe`, a file just written there), the data store, and the isolated
    environments where a row needs one."""
    from harness import registry
    from harness.data.store import data_dir

    paths = {"the project": str(REPO_ROOT / "harness"), "the results folder": str(probe),
             "the data store": str(data_dir(data_dir_option).resolve())}
    if any(registry.by_name(name).environment for name, _ in checks):
        paths["the isolated environments"] = str(envs.envs_dir())
    return paths


def sharing_problems(view: NodeView, paths: dict[str, str], ours: dict[str, str | None],
                     commit: str | None) -> list[str]:
    """What a node does not share with this machine, one line each with the fix: a path it
    lacks or sees differently (`paths` by name; `ours`: this machine's node.fingerprint of each;
    None where this machine lacks it too, which is no sharing problem), or another commit of
    the project."""
    theirs = view.report.get("paths", {})
    where = f"node {view.node} (partition {view.partition})"
    problems = []
    for name, path in paths.items():
        if ours.get(name) is None or theirs.get(name) == ours[name]:
            continue
        shown = Path(path).parent if name == "the results folder" else path  # not the probe
        if theirs.get(name) is None:
            problems.append(f"{name} ({shown}) is not there on {where}: put it on a "
                            f"filesystem the nodes share (NFS, Lustre, GPFS, ...)")
        else:
            problems.append(f"{name} ({shown}) differs on {where} from this machine's: "
                            f"use one shared copy")
    node_commit = (view.report.get("host") or {}).get("commit")
    if node_commit != commit:
        problems.append(f"the project on {where} is at commit {node_commit}, this machine's at "
                        f"{commit}: run from the same checkout on a shared filesystem")
    return problems

