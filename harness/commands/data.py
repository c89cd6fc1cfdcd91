"""`python -m harness data fetch|import|info|verify|weights`: get the real data into the HDF5
store; write canonical weights."""

from __future__ import annotations

import argparse
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.commands import terminal
from rich.markup import escape
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn, TransferSpeedColumn)
from rich.table import Table

from harness.commands import options
from harness.data import store
from harness.data.download import DownloadError, download, file_digest
from harness.data.sources import SOURCES, Source


def register(subparsers: Any) -> argparse._SubParsersAction:
    """Add the `data` command to the CLI's sub-parsers; each handler returns an exit code.

    Returns the `data` command's own sub-parsers, for commands added elsewhere.
    """
    common = argparse.ArgumentParser(add_help=False)
    options.add_data_dir(common)
    data = subparsers.add_parser(
        "data", help="download, import, inspect and verify the data sets",
        description="The shared HDF5 data store (docs/benchmarks.md §6): real CIFAR-10 and IMDB from their "
                    "canonical sources, verified and converted once; synthetic stand-ins are "
                    "made on first use.")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])
    actions = data.add_subparsers(dest="data_command", metavar="ACTION")

    fetch = actions.add_parser("fetch", parents=[common],
                               help="download, verify and convert CIFAR-10 and/or IMDB")
    fetch.add_argument("which", nargs="?", choices=(*SOURCES, "all"), default="all")
    fetch.add_argument("--url", default=None,
                       help="download from this mirror instead (the checksum is still checked; "
                            "one data set only)")
    fetch.set_defaults(func=cmd_fetch)

    imp = actions.add_parser("import", parents=[common],
                             help="convert an archive already on disk (cifar-10-python.tar.gz "
                                  "or imdb.npz)")
    imp.add_argument("path", type=Path)
    imp.add_argument("--allow-unverified", action="store_true",
                     help="convert even if the checksum is not the canonical one (recorded as "
                          "verified=False)")
    imp.set_defaults(func=cmd_import)

    info = actions.add_parser("info", parents=[common], help="what data are present")
    info.set_defaults(func=cmd_info)
    verify = actions.add_parser("verify", parents=[common],
                                help="check every data file (checksums, shapes); exit 1 on "
                                     "problems")
    verify.set_defaults(func=cmd_verify)
    register_weights_command(actions)
    return actions


# --- fetch and import ---------------------------------------------------------------------

# Ctrl-C is safe at any point: a download keeps its partial file and a conversion is written
# under a temporary name (harness.data.download, store.write_dataset).
INTERRUPTED = 130


def cmd_fetch(args: argparse.Namespace) -> int:
    console = terminal.console
    try:
        return fetch(args, console)
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted: the data already there are unchanged; rerun the "
                      "same command to finish (a partial download resumes where it "
                      "stopped).[/]", soft_wrap=True)
        return INTERRUPTED


def fetch(args: argparse.Namespace, console: Console) -> int:
    names = list(SOURCES) if args.which == "all" else [args.which]
    if args.url and len(names) > 1:
        console.print("[red]--url names one file: give the data set too, e.g. "
                      "`data fetch cifar10 --url URL`[/]")
        return 2
    directory = store.data_dir(args.data_dir)
    try:
        store.check_writable(directory / "downloads")
    except store.DataError as error:
        console.print(f"[red]{escape(str(error))}[/]")
        return 1
    status = 0
    for name in names:
        source = SOURCES[name]
        url = args.url or source.url
        archive = directory / "downloads" / source.archive
        target = directory / source.h5_name
        state = store_state(target)
        if state == "verified":
            console.print(f"{escape(str(target))} is present and verified; delete it to "
                          f"convert again")
            continue
        if state == "unverified":
            console.print(f"[yellow]{escape(str(target))} holds unverified data (imported with "
                          f"--allow-unverified): replacing them with the verified download; "
                          f"they stay until the new file has been written and read back.[/]",
                          soft_wrap=True)
        try:
            with DownloadProgress(console, source.archive) as callback:
                download(url, archive, progress=callback, **source.checksum_kwargs())
            convert(console, source, archive, directory, source_url=url, verified=True,
                    checksum=source.checksum)
        except (DownloadError, store.DataError) as error:
            console.print(f"[red]{name}: {escape(str(error))}[/]")
            status = 1
    return status


def store_state(path: Path) -> str:
    """"verified" (intact, from the canonical archive), "unverified" (intact, from another
    archive: `data import --allow-unverified`), else "missing or damaged"."""
    if not path.exists() or store.verify_dataset(path):
        return "missing or damaged"
    try:
        verified = read_summary(path)["attrs"].get("verified")
    except OSError:
        return "missing or damaged"
    # As `data info` reads it: only a file that says it was verified was.
    return "verified" if verified else "unverified"


def cmd_import(args: argparse.Namespace) -> int:
    console = terminal.console
    try:
        return import_archive(args, console)
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted: nothing imported; the data already there are "
                      "unchanged.[/]", soft_wrap=True)
        return INTERRUPTED


def import_archive(args: argparse.Namespace, console: Console) -> int:
    path: Path = args.path
    if not path.is_file():
        console.print(f"[red]{escape(str(path))}: no such file[/]")
        return 1
    name = detect_archive(path)
    if name is None:
        console.print(f"[red]{escape(str(path))} is neither a CIFAR-10 python archive "
                      f"({SOURCES['cifar10'].archive}) nor a Keras imdb.npz[/]")
        return 1
    directory = store.data_dir(args.data_dir)
    try:
        store.check_writable(directory)
    except store.DataError as error:
        console.print(f"[red]{escape(str(error))}[/]")
        return 1
    source = SOURCES[name]
    actual = file_digest(path, source.checksum_algo)
    verified = actual == source.checksum
    if not verified:
        message = escape(f"{path}: {source.checksum_algo} is {actual}, but the canonical "
                         f"{source.archive} has {source.checksum}")
        if not args.allow_unverified:
            console.print(f"[red]{message}. Refusing to import a file that is not the canonical "
                          f"archive; add --allow-unverified to import it anyway (the data "
                          f"file then records verified=False).[/]")
            return 1
        console.print(f"[yellow]{message}; importing it unverified, as asked.[/]")
    try:
        convert(console, source, path, directory, source_url=source.url,
                verified=verified, checksum=actual, imported_from=str(path.resolve()))
    except store.DataError as error:
        console.print(f"[red]{escape(str(error))}[/]")
        return 1
    return 0


def detect_archive(path: Path) -> str | None:
    """"cifar10", "imdb" or None, from the archive's contents (not its name)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return "imdb" if "x_train.npy" in archive.namelist() else None
    try:
        with tarfile.open(path, "r:*") as tar:
            first = tar.next()
            return "cifar10" if first and first.name.startswith("cifar-10-batches-py") else None
    except (tarfile.TarError, OSError, EOFError):
        return None


def convert(console: Console, source: Source, archive: Path, directory: Path, *,
            source_url: str, verified: bool, checksum: str,
            imported_from: str | None = None) -> Path:
    """Read the archive and write `<directory>/<name>.h5`: built and read back under a
    temporary name, it replaces the file there only once it checks (`store.write_dataset`)."""
    from harness.data.cifar import read_cifar_archive
    from harness.data.imdb import imdb_arrays, read_imdb_npz

    target = directory / source.h5_name
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        if source.name == "cifar10":
            task = bar.add_task(f"reading {escape(archive.name)}", total=6)
            arrays = read_cifar_archive(archive, lambda done, total: bar.update(task,
                                                                                 completed=done))
            extra: dict[str, Any] = {}
        else:
            task = bar.add_task(f"reading {escape(archive.name)}", total=None)
            raw = read_imdb_npz(archive)
            bar.update(task, description="preprocessing reviews (docs/benchmarks.md §3)")
            arrays, extra = imdb_arrays(raw, lambda done, total: bar.update(
                task, completed=done, total=total))
        task = bar.add_task(f"writing {target.name}", total=1)
        store.write_dataset(target, arrays, {
            "kind": "real", "name": source.name, "source_url": source_url,
            "archive": source.archive,
            "archive_checksum": f"{source.checksum_algo}:{checksum}",
            "verified": verified, "imported_from": imported_from, **extra})
        bar.update(task, completed=1)
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items())
    note = "" if verified else " [yellow](unverified archive)[/]"
    console.print(f"[green]{escape(str(target))}[/]: {shapes}{note}")
    return target


class DownloadProgress:
    """A rich progress bar for one download, as a `download(progress=...)` callback."""

    def __init__(self, console: Console, label: str):
        self.bar = Progress(TextColumn(f"downloading {escape(label)}"), BarColumn(),
                            DownloadColumn(),
                            TransferSpeedColumn(), TimeRemainingColumn(), console=console)
        self.task = self.bar.add_task("download", total=None)

    def __enter__(self):
        self.bar.start()
        return self.update

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def update(self, done: int, total: int | None) -> None:
        self.bar.update(self.task, completed=done, total=total)


# --- info and verify ----------------------------------------------------------------------

def data_files(directory: Path) -> list[tuple[str, Path]]:
    """(name, path) of every real and synthetic file the store may hold, present or not."""
    return ([(n, store.real_path(n, directory)) for n in SOURCES]
            + [(n, store.synthetic_path(n, directory)) for n in SOURCES])


def read_summary(path: Path) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as f:
        attrs = {key: store.plain(value) for key, value in f.attrs.items()}
        arrays = [f"{key} {f[key].dtype} {'×'.join(map(str, f[key].shape))}"
                  for key in store.ARRAYS if key in f]
    return {"attrs": attrs, "arrays": arrays}


def cmd_info(args: argparse.Namespace) -> int:
    console = terminal.console
    directory = store.data_dir(args.data_dir)
    table = Table(title=f"Data store: {escape(str(directory))}")
    table.add_column("file (kind)", no_wrap=True)
    table.add_column("arrays", no_wrap=True)
    table.add_column("created, source, verified", overflow="fold")
    for name, path in data_files(directory):
        synthetic = path.parent.name == "synthetic"
        label = escape(f"{path.relative_to(directory)}\n({'synthetic' if synthetic else 'real'})")
        if not path.exists():
            hint = ("made on first use" if synthetic
                    else f"missing: `python -m harness data fetch {name}` or `data import PATH`")
            table.add_row(label, "", f"[dim]{hint}[/]")
            continue
        try:
            summary = read_summary(path)
        except OSError as error:
            table.add_row(label, "", f"[red]unreadable ({escape(store.one_line(error))}): run "
                                     f"`python -m harness data verify`[/]")
            continue
        attrs = summary["attrs"]
        created = str(attrs.get("created", "?")).replace("T", " ")[:16]
        if attrs.get("kind") == "synthetic":
            origin = f"generated (seed {attrs.get('seed')})"
        else:
            origin = escape(str(attrs.get("source_url", "?")))
            if attrs.get("imported_from"):
                origin += f"\nimported from {escape(str(attrs['imported_from']))}"
            origin += (f"\nverified: {'yes' if attrs.get('verified') else '[yellow]NO[/]'} "
                       f"({escape(str(attrs.get('archive_checksum', 'no checksum')))})")
        if not attrs.get("complete"):
            origin += "\n[red]INCOMPLETE: run `python -m harness data verify`[/]"
        if attrs.get("kind") not in (None, "synthetic" if synthetic else "real"):
            origin += f"\n[red]marked kind={escape(str(attrs.get('kind')))}[/]"
        table.add_row(label, "\n".join(summary["arrays"]), f"{escape(created)}\n{origin}")
    console.print(table)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    console = terminal.console
    directory = store.data_dir(args.data_dir)
    present = [(name, path) for name, path in data_files(directory) if path.exists()]
    if not present:
        console.print(f"No data files in {escape(str(directory))}: nothing to verify. "
                      f"`python -m harness data fetch` gets the real data.")
        return 0
    table = Table(title=f"Verifying {escape(str(directory))}")
    table.add_column("file")
    table.add_column("result", overflow="fold")
    status = 0
    with Progress(TextColumn("verifying {task.description}"), console=console,
                  transient=True) as bar:
        for name, path in present:
            task = bar.add_task(escape(path.name))
            problems = store.verify_dataset(path)
            bar.remove_task(task)
            label = escape(str(path.relative_to(directory)))
            if problems:
                status = 1
                fix = ("delete it; it is made again on first use"
                       if path.parent.name == "synthetic"
                       else store.fetch_hint(name))
                table.add_row(label, "[red]" + escape("\n".join(problems) + f"\nfix: {fix}")
                              + "[/]")
            else:
                table.add_row(label, "[green]ok[/]")
    console.print(table)
    return status


# --- weights -------------------------------------------------------------------------------

def register_weights_command(data_subparsers: argparse._SubParsersAction) -> None:
    """Add `data weights MODEL [--seed N | --from FILE] [--out PATH]`."""
    from harness.verify.weights import models

    parser = data_subparsers.add_parser(
        "weights", help="write canonical weights (HDF5, PyTorch state_dict names) from a seed, "
                        "or convert a torchvision ResNet-50 checkpoint")
    parser.add_argument("model", choices=models())
    parser.add_argument("--seed", type=options.seed, default=0,
                        help=f"the seed the weights are drawn from (0 to {options.MAX_SEED})")
    parser.add_argument("--from", dest="source", metavar="FILE",
                        help="a torchvision ResNet-50 checkpoint (torch.save of a state_dict, "
                             "e.g. resnet50-11ad3fa6.pth); needs PyTorch")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="where to write the HDF5 file (default: DATA_DIR/weights/)")
    options.add_data_dir(parser)
    parser.set_defaults(func=cmd_weights)


def cmd_weights(args: argparse.Namespace) -> int:
    from harness.verify import weights as canonical

    directory = Path(args.data_dir) / "weights" if args.data_dir else None
    try:
        if args.source:
            if args.model != "resnet50":
                print("--from converts torchvision ResNet-50 checkpoints only: "
                      "use `data weights resnet50 --from FILE`", file=sys.stderr)
                return 2
            path = canonical.convert_torchvision_checkpoint(args.source, args.out, directory)
        else:
            path = canonical.save_weights(
                args.out or canonical.seeded_weights_path(args.model, args.seed, directory),
                args.model,
                canonical.seeded_weights(args.model, args.seed),
                source=f"seeded random, seed {args.seed}")
    except canonical.WeightsError as error:
        print(error, file=sys.stderr)
        return 1
    count = len(canonical.parameter_shapes(args.model))
    print(f"wrote {path} ({count} tensors, PyTorch state_dict names and layouts)")
    return 0
