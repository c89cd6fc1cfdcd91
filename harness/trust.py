"""Who may change what the harness runs: a path an environment variable names, whose code the
harness imports or executes (a plugin file, the folder of the isolated environments), must be
owned by you or root and not writable by group or others. Otherwise another local user could put
their code where the harness runs it as you (README, "Environment variables and the trust
model"). The same holds for the folders Slurm jobs are handed through: what the nodes unpickle
and what the submitter reads back lies in them (`slurm_folders_problem`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def write_access_problem(path: Path) -> str | None:
    """None when only you (or root) can change `path`; else why not, in a few words."""
    try:
        info = path.stat()
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if not hasattr(os, "getuid"):  # Windows: no POSIX owner and mode to check
        return None
    if info.st_uid not in (os.getuid(), 0):
        return f"is owned by another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def slurm_folders_problem(results: Path) -> str | None:
    """None when only you (or root) can change the results folder and its `slurm/`; else the
    line to print, with the fix. The nodes unpickle and run the job files submitit leaves in
    `slurm/`, and the submitter appends what the jobs leave there to the results file, so
    anyone who could write into either folder could run code as you on the nodes or forge
    records. A folder that does not exist yet is no problem: the harness makes it."""
    for folder, what in ((results.parent, "the results folder"),
                         (results.parent / "slurm", "the Slurm jobs' folder")):
        if not os.path.lexists(folder):
            continue
        problem = write_access_problem(folder)
        if problem:
            fix = ("keep the results in a folder of yours (--results PATH): chmod cannot make "
                   "it yours" if other_owner(folder) is not None else
                   f"make it yours alone (chmod go-w {folder}), or keep the results in a "
                   f"folder of yours (--results PATH)")
            return (f"{what} {folder} {problem}: the jobs' files there are run on the nodes "
                    f"and their outcomes become records, so only you or root may be able to "
                    f"change it; fix: {fix}")
    return None


def other_owner(path: Path) -> int | None:
    """The uid owning `path` when it is neither you nor root, else None. `chmod` cannot make
    such a path safe: only a file or folder of your own can replace it."""
    if not hasattr(os, "getuid"):
        return None
    try:
        uid = path.stat().st_uid
    except OSError:
        return None
    return None if uid in (os.getuid(), 0) else uid


def path_to(top: Path, target: Path) -> list[Path]:
    """Everything whose change changes what runs as `target`: `top`, each folder below it on
    the way to `target` (a descendant of `top`), `target` itself, and for each of them that is
    a link, the folder of every hop it leads through (whoever can write there can swap the
    next hop). A link's final file or folder is checked through the link: stat follows it."""
    chain = [top]
    for part in target.relative_to(top).parts:
        chain.append(chain[-1] / part)
    for path in list(chain):
        for folder in link_hop_folders(path):
            if folder not in chain:
                chain.append(folder)
    return chain


def link_hop_folders(path: Path, most: int = 40) -> list[Path]:
    """The real folder of each hop of the link `path` (empty when it is no link): a venv's
    `python` may link to another link (`python3`) before the real interpreter."""
    folders: list[Path] = []
    while path.is_symlink() and len(folders) < most:
        # A relative link is relative to the real folder that holds it.
        hop = Path(os.path.realpath(path.parent)) / os.readlink(path)
        path = Path(os.path.realpath(hop.parent)) / hop.name
        folders.append(path.parent)
    return folders


def write_access_problems(paths: list[Path]) -> list[tuple[Path, str]]:
    """(path, why) for each of `paths` that someone other than you or root could change, in
    order; empty when none."""
    found = ((path, write_access_problem(path)) for path in paths)
    return [(path, problem) for path, problem in found if problem]
