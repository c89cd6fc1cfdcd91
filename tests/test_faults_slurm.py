"""Faults of `--executor slurm` beyond one job: files planted in the jobs' folder, folders others
can write, and a submitter that dies while its jobs run (`python -m harness collect`). The
cluster tests use the local one-node cluster of tests/test_slurm.py; the others need none."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
import pytest
from pathlib import Path
from typing import Any

from harness import commands as cli
from harness import registry
from harness.run.results import read_results
from harness.run.runner import RunSettings, job_for
from harness.run.slurm.tickets import Ticket, write_ticket
from tests import fake_registry, test_slurm
from tests.test_slurm import PER_RUN, harness, our_jobs, wait_for

slurm_conf = test_slurm.slurm_conf  # the session-scoped fixture: the local test cluster


class Payload:
    """A pickle that runs a shell command when loaded, as the one in the report did."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (self.command,)


def plant(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(Payload(f"touch {marker}")))


def start(tmp_path: Path, slurm_conf: str, *argv: str, umask: int | None = None
          ) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness", *argv], cwd=test_slurm.REPO,
                            text=True, env=test_slurm.environment(tmp_path, slurm_conf),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=None if umask is None else lambda: os.umask(umask))


def cluster(slurm_conf: str, *command: str) -> str:
    return subprocess.run(list(command), env={**os.environ, "SLURM_CONF": slurm_conf},
                          check=True, capture_output=True, text=True).stdout


# ------------------------------------------------------------------ nothing unpickled


@pytest.mark.slow
def test_a_result_pickle_planted_in_the_jobs_folder_is_never_loaded(tmp_path, slurm_conf):
    """The readiness job waits behind another job holding the node's GPU; meanwhile its folder
    gets a result pickle whose loading would run a command. The submitter goes on waiting for
    the job's own answer (JSON), and the run ends as it would have: the command never ran."""
    marker = tmp_path / "payload-ran"
    blocker = cluster(slurm_conf, "sbatch", "--parsable", "--gres=gpu:1", "--job-name=blocker",
                      "--output=/dev/null", "--wrap=sleep 120").strip()
    try:
        proc = start(tmp_path, slurm_conf, "inference", "--impl", "fake-ok", "--executor",
                     "slurm", "--repeat", "1", "--results", str(tmp_path / "r.jsonl"))
        try:
            job = wait_for(lambda: next(iter(our_jobs(slurm_conf, "rosetta-readiness",
                                                      "PENDING")), None),
                           what="the readiness job to wait for the GPU")
            plant(tmp_path / "slurm" / job / f"{job}_0_result.pkl", marker)
            time.sleep(5)  # two of the submitter's polls (every 2 s) with only the pickle there
            cluster(slurm_conf, "scancel", blocker)
            out, _ = proc.communicate(timeout=300)
        finally:
            proc.kill()
    finally:
        cluster(slurm_conf, "scancel", blocker)
    assert not marker.exists()
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out
    [record] = read_results(tmp_path / "r.jsonl")
    assert record["impl"] == "fake-ok" and record["status"] == "ok"


def test_an_outcome_that_is_not_what_the_job_writes_becomes_a_failed_row(tmp_path, monkeypatch,
                                                                         capsys):
    """`collect` over jobs that left what no job writes - the number a planted pickle's
    os.system returned, an outcome missing its fields, a damaged file, a result pickle without
    an outcome - makes a failed row of each, with the reason, and loads no pickle; a file that
    is not a ticket is named and skipped."""
    monkeypatch.delenv("HARNESS_PLUGINS", raising=False)  # the tickets hold what records need
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm here: the files alone say what ended
    results = tmp_path / "r.jsonl"
    folder = tmp_path / "slurm"
    settings = RunSettings(profile="quick", data="synthetic", device="cpu", timeout=60,
                           results=results)
    row = fake_registry.ROWS[0]
    marker = tmp_path / "payload-ran"
    left = {"900001": "0", "900002": json.dumps({"child": {"status": "ok"}, "host": {}, "slurm": {},
                                         "started": 1.0e9, "finished": 1.0e9}),
            "900003": '{"child": ', "900004": None}
    for repeat, (job_id, outcome) in enumerate(left.items()):
        (folder / job_id).mkdir(parents=True)
        ticket = Ticket.new(job_id, f"run-{job_id}", job_for(row, "inference", repeat, settings),
                            row, settings, "debug", "gpu", 1.0e9, tmp_path / f"{job_id}.log",
                            tmp_path / f"{job_id}.events.jsonl")
        ticket.submitter = {"host": "a-login-node-gone", "pid": 1, "start": None}
        write_ticket(folder, ticket)
        if outcome is not None:
            (folder / job_id / f"{job_id}_outcome.json").write_text(outcome)
    (folder / "900009").mkdir()
    (folder / "900009" / "900009_run.json").write_text("[]")  # no ticket: named, skipped
    plant(folder / "900004" / "900004_0_result.pkl", marker)
    (folder / "900004" / "900004_0_log.err").write_text(
        "submitit ERROR (2026-01-01 00:00:00,000) - Submitted job triggered an exception\n"
        "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
        "RuntimeError: no space left for the events file\n"
        "srun: error: node1: task 0: Exited with exit code 1\n")

    assert cli.main(["collect", str(results)]) == 0
    out = capsys.readouterr().out
    assert "4 record(s) appended" in out and "Traceback" not in out
    assert "900009_run.json is not a ticket the harness writes" in out
    assert not marker.exists()
    records = {r["slurm"]["job_id"]: r for r in read_results(results)}
    assert {r["status"] for r in records.values()} == {"failed"}
    assert "left an outcome the harness cannot use" in records["900001"]["reason"]
    assert "a JSON int, not an object" in records["900001"]["reason"]
    assert "no child.reason" in records["900002"]["reason"]
    assert "is not JSON" in records["900003"]["reason"]
    assert ("failed on its node: RuntimeError: no space left for the events file"
            in records["900004"]["reason"])
    assert cli.main(["collect", str(results)]) == 0  # again: nothing twice
    assert len(read_results(results)) == 4


# ------------------------------------------------------------------ folders others can write


def test_folders_others_could_write_are_refused_before_any_job(tmp_path, monkeypatch, capsys):
    """Whoever can write the results folder or its slurm/ could plant what the nodes unpickle
    or forge what becomes a record: a run through Slurm, and `collect`, refuse with the fix,
    before anything is submitted or appended."""
    monkeypatch.setattr(registry, "ROWS", registry.ROWS + fake_registry.ROWS)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    mine = tmp_path / "mine"
    (mine / "slurm").mkdir(parents=True)
    (mine / "slurm").chmod(0o775)
    cases = [(shared, f"the results folder {shared} is writable by group or others (mode "
                      f"0777)", "chmod go-w"),
             (mine, f"the Slurm jobs' folder {mine / 'slurm'} is writable by group or others "
                    f"(mode 0775)", "chmod go-w")]
    if os.getuid() == 0:  # root can give a folder away; a user cannot
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, -1)
        cases.append((theirs, f"the results folder {theirs} is owned by another user",
                       "keep the results in a folder of yours"))
    for folder, message, fix in cases:
        for argv in (["inference", "--impl", "fake-ok", "--executor", "slurm", "--repeat", "1", "--profile",
                      "quick", "--results", str(folder / "r.jsonl")],
                     ["collect", str(folder / "r.jsonl")]):
            assert cli.main(argv) == 2
            out = " ".join(capsys.readouterr().out.split())  # as one line, however wrapped
            assert message in out and fix in out, out
            assert not (folder / "r.jsonl").exists()
    assert not (shared / "slurm").exists()


# ------------------------------------------------------------------ a submitter that died


@pytest.mark.slow
def test_jobs_of_a_killed_submitter_are_collected_once_as_a_normal_run_records_them(
        tmp_path, slurm_conf):
    """A submitter killed (SIGKILL) while its jobs run: its jobs finish, and `collect` appends
    their records - the same as a submitter that lived appends, in every field but the run's
    identity, clocks and measurements, with `slurm.collected_by` - exactly once. While the
    submitter still lives, `collect` leaves its jobs to it."""
    rows = ["inference", "--impl", "fake-slow,fake-raises", "--executor", "slurm", "--repeat", "1",
            "--share-node", "--gpus", "0"]
    (tmp_path / "normal").mkdir()
    normal = harness(tmp_path, slurm_conf, *rows, "--results", str(tmp_path / "normal/r.jsonl"))
    assert normal.returncode == 1, normal.stdout[-3000:]  # fake-raises failed

    results = tmp_path / "killed" / "r.jsonl"
    results.parent.mkdir()
    # A user-private-group umask: what the nodes unpickle must still be the user's alone.
    proc = start(tmp_path, slurm_conf, *rows, "--results", str(results), umask=0o002)
    try:
        tickets = wait_for(lambda: len(list(results.parent.glob("slurm/*/*_run.json"))) == 2
                           and list(results.parent.glob("slurm/*/*_run.json")),
                           timeout_s=120, what="both jobs to be submitted")
        proc.send_signal(signal.SIGSTOP)  # alive, but appending nothing
        waiting = harness(tmp_path, slurm_conf, "collect", str(results))
        assert waiting.returncode == 1, waiting.stdout[-2000:]
        assert f"(pid {proc.pid}) still runs here and appends the record itself" \
            in waiting.stdout
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    job_ids = [path.parent.name for path in tickets]
    for job_id in job_ids:
        assert not (results.parent / "slurm" / job_id).stat().st_mode & 0o022
    wait_for(lambda: not set(job_ids) & set(our_jobs(slurm_conf, "rosetta-inference",
                                                     "PENDING,RUNNING,COMPLETING")),
             what="the jobs to end")

    collected = harness(tmp_path, slurm_conf, "collect", str(results))
    assert collected.returncode == 0, collected.stdout[-3000:]
    assert "inference · fake-slow" in collected.stdout
    again = harness(tmp_path, slurm_conf, "collect", str(results))
    assert again.returncode == 0 and "0 record(s) appended" in again.stdout, again.stdout
    assert "2 already there" in again.stdout

    here = test_slurm.by_key(read_results(tmp_path / "normal/r.jsonl"))
    there = read_results(results)
    assert len(there) == 2 and set(test_slurm.by_key(there)) == set(here)
    for theirs in there:
        mine = here[(theirs["benchmark"], theirs["impl"])]
        for field in set(mine) - PER_RUN:
            assert theirs[field] == mine[field], (field, mine[field], theirs[field])
        assert set(theirs) == set(mine)
        assert theirs["slurm"]["job_id"] in job_ids
        assert set(theirs["slurm"]) - set(mine["slurm"]) <= {"collected_by"}
    assert any(r["slurm"].get("collected_by") == "collect" for r in there)
    statuses = {r["impl"]: (r["status"], r["reason"]) for r in there}
    assert statuses["fake-slow"] == ("ok", None)
    assert statuses["fake-raises"][0] == "failed"
    assert "ValueError: broken on purpose" in statuses["fake-raises"][1]
