"""`--executor slurm` against a real one-node Slurm cluster on this machine (tests/slurm_cluster.sh
starts it, and stops it again if it was not running before): the records match the local
executor's, readiness is checked on a node, and a job that fails, one cancelled, one past its
time limit and a Ctrl-C of the submitter become rows with their reasons, losing nothing
(tests/test_faults_slurm.py: planted files, folders others can write, a submitter killed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness import benchmarks, registry
from harness.run.results import read_results
from harness.run.slurm.readiness import NodeView, sharing_problems
from harness.run.slurm.node import fingerprint
from harness.run.slurm.settings import SlurmConfigError, settings_from
from tests.smoke_runs import PROFILE

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "slurm_cluster.sh"
STATE = Path(os.environ.get("ROSETTA_SLURM_DIR", "/tmp/rosetta-slurm"))
FAKES = "tests.fake_registry,tests.fake_process_group,tests.fake_slurm"


# Session-scoped: the Slurm comparison reads the shared smoke run, so it runs at the session's
# end (tests/smoke_runs.py), and the cluster should not start twice.
@pytest.fixture(scope="session")
def slurm_conf() -> Any:
    """SLURM_CONF of the local test cluster; started here (and stopped after) unless it runs."""
    was_running = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True
                                 ).returncode == 0
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True,
                             timeout=900)
    if started.returncode != 0:
        pytest.skip(f"no local Slurm cluster (tests/slurm_cluster.sh start: "
                    f"{(started.stderr or started.stdout).strip()[-300:]})")
    yield str(STATE / "slurm.conf")
    if not was_running:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, timeout=120)


def environment(tmp_path: Path, slurm_conf: str | None) -> dict[str, str]:
    env = {**os.environ, "HARNESS_PLUGINS": FAKES, "COLUMNS": "200", "PYTHONPATH": str(REPO),
           "HARNESS_DATA_DIR": str(tmp_path / "data")}
    if slurm_conf:
        env["SLURM_CONF"] = slurm_conf
    return env


def harness(tmp_path: Path, slurm_conf: str | None, *argv: str, timeout: float = 900
            ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *argv], cwd=REPO, text=True,
                          env=environment(tmp_path, slurm_conf), capture_output=True,
                          timeout=timeout)


def start(tmp_path: Path, slurm_conf: str, *argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness", *argv], cwd=REPO, text=True,
                            env=environment(tmp_path, slurm_conf), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def our_jobs(slurm_conf: str, name_part: str = "", states: str = "all") -> dict[str, str]:
    """Job id -> state of the cluster's jobs whose name contains `name_part`."""
    out = subprocess.run(["squeue", f"--states={states}", "--noheader", "--format=%i|%T|%j"],
                         capture_output=True, text=True, env={**os.environ,
                                                              "SLURM_CONF": slurm_conf}).stdout
    return {job: state for job, state, name in (line.split("|") for line in out.splitlines())
            if name_part in name}


def wait_for(predicate, timeout_s: float = 180, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def by_key(records: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["benchmark"], r["impl"]): r for r in records}


# ------------------------------------------------------------------ same records as locally


# Fields that differ between any two runs, whichever executor: identity, clocks, measurements,
# and what the smoke profile's adaptive windows decided from the clock (how many steps trained,
# so the accuracy after them: compared below where both trained as many).
PER_RUN = {"run_id", "started_at", "finished_at", "wall_s", "wall", "load", "log", "timings",
           "utilisation", "memory", "executor", "slurm", "steps_run", "windows", "accuracy"}


@pytest.mark.slow
@pytest.mark.rows("pytorch", "mxnet-gluon", own_work_first=True)
def test_a_smoke_matrix_through_slurm_matches_the_local_executors_records(tmp_path, slurm_conf,
                                                                          smoke_runs):
    """PyTorch and an isolated-environment row (MXNet Gluon), every benchmark: the same
    records through both executors in every field but the run's identity, clock readings and
    measurements, and where it ran (the node and job id, only in Slurm's). The local side is
    the rows' shared smoke run (tests/smoke_runs.py: the same command, the local executor)."""
    rows = ["pytorch", "mxnet-gluon"]
    for name in rows:  # CI has both: the contract test runs them too
        ready = registry.readiness(registry.by_name(name), "cnn")
        if not ready.ready:
            pytest.skip(f"{name} is not ready: {ready.reason}")
    # --device cpu: the test node offers a stand-in GPU (tests/slurm_cluster.sh), which a run
    # on the CPU does not ask for; the job then has the whole node to itself.
    slurm = harness(tmp_path, slurm_conf, "all", "--impl", ",".join(rows), "--data", "synthetic",
                    "--profile", PROFILE, "--device", "cpu", "--executor", "slurm", "--repeat", "1",
                    "--results", str(tmp_path / "slurm.jsonl"))
    assert slurm.returncode == 0, slurm.stdout[-3000:] + slurm.stderr[-3000:]
    local = [record for name in rows for record in smoke_runs(name).records]
    (tmp_path / "local.jsonl").write_text("".join(json.dumps(r) + "\n" for r in local))

    here, there = (by_key(read_results(tmp_path / f"{k}.jsonl")) for k in ("local", "slurm"))
    assert set(here) == set(there) == {(b, r) for b in benchmarks.names() for r in rows}
    for key, mine in here.items():
        theirs = there[key]
        assert mine["executor"] == "local" and theirs["executor"] == "slurm"
        assert set(theirs) - set(mine) == {"slurm"} and set(mine) <= set(theirs), key
        for field in set(mine) - PER_RUN:
            assert theirs[field] == mine[field], (key, field, mine[field], theirs[field])
        for field in ("timings", "utilisation", "memory", "wall", "load", "windows"):
            assert set(theirs.get(field) or {}) == set(mine.get(field) or {}), (key, field)
        if mine.get("steps_run") == theirs.get("steps_run"):  # the same training: to the bit
            assert mine["accuracy"] == theirs["accuracy"], key
        placement = theirs["slurm"]
        assert placement["job_id"] and placement["node"] == mine["env"]["host"]
        assert placement["partition"] == "debug" and placement["exclusive"] == "node"
        # CPU jobs have the node to themselves, so each queues behind the ones before it
        # (queue_s grows with the matrix); what Slurm adds beyond that wait stays small.
        assert 0 <= placement["queue_s"] <= placement["overhead_s"] < placement["queue_s"] + 60
        assert Path(theirs["log"]).is_file()  # the worker's log, on the shared filesystem

    # `report` reads both files into one table per device: here the same CPU.
    shown = harness(tmp_path, None, "report", str(tmp_path / "local.jsonl"),
                    str(tmp_path / "slurm.jsonl"))
    assert shown.returncode == 0, shown.stdout[-2000:]
    assert "2/2" in shown.stdout  # each row: two runs, one from each executor


# ------------------------------------------------------------------ readiness on the node


@pytest.mark.slow
def test_readiness_is_checked_on_a_node_not_on_the_submitting_machine(tmp_path, slurm_conf):
    """A row installed only on the compute nodes is skipped locally and runs through Slurm;
    with two partitions every run goes to each, and each record says which."""
    local = harness(tmp_path, None, "inference", "--impl", "fake-node-only",
                    "--results", str(tmp_path / "local.jsonl"))
    assert local.returncode == 1 and "1 not run: fake-node-only" in local.stdout

    slurm = harness(tmp_path, slurm_conf, "inference", "--impl", "fake-node-only,fake-ok",
                    "--executor", "slurm", "--repeat", "1", "--partition", "debug,second", "--share-node",
                    "--gpus", "0",
                    "--results", str(tmp_path / "slurm.jsonl"))
    assert slurm.returncode == 0, slurm.stdout[-3000:] + slurm.stderr[-3000:]
    records = read_results(tmp_path / "slurm.jsonl")
    assert sorted((r["impl"], r["slurm"]["partition"], r["status"]) for r in records) == [
        ("fake-node-only", "debug", "ok"), ("fake-node-only", "second", "ok"),
        ("fake-ok", "debug", "ok"), ("fake-ok", "second", "ok")]
    assert {r["slurm"]["exclusive"] for r in records} == {"shared"}  # --share-node said so
    assert "partition debug: node" in slurm.stdout and "partition second: node" in slurm.stdout


@pytest.mark.slow
def test_a_job_on_a_gpu_partition_holds_its_gpu_alone_and_says_so(tmp_path, slurm_conf):
    """The test node offers one (stand-in) GPU as Slurm gres: each job asks for it by default
    (--gres=gpu:1), so three jobs run one after another, never two at once, and each record
    says it had its GPU to itself and which one Slurm gave it."""
    done = harness(tmp_path, slurm_conf, "inference", "--impl", "fake-ok,fake-ok2,fake-pid",
                   "--executor", "slurm", "--repeat", "1", "--results", str(tmp_path / "r.jsonl"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    placements = [r["slurm"] for r in read_results(tmp_path / "r.jsonl")]
    assert len(placements) == 3
    for placement in placements:
        assert placement["exclusive"] == "gpu" and placement["cuda_visible_devices"] == "0"
        script = tmp_path / "slurm" / placement["job_id"] / f"{placement['job_id']}_submission.sh"
        assert "#SBATCH --gres=gpu:1" in script.read_text()
        assert "--exclusive" not in script.read_text()  # the GPU, not the whole node
    spans = sorted((p["node_started"], p["node_finished"]) for p in placements)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))


# ------------------------------------------------------------------ faults


@pytest.mark.slow
def test_failed_cancelled_and_timed_out_jobs_become_rows_with_their_reasons(tmp_path, slurm_conf):
    """One command, five jobs side by side: one that succeeds, one whose run raises, one whose
    worker is killed by a signal, one cancelled with scancel while it runs, and one that hangs
    past a one-minute Slurm time limit. Each gets its record and reason; no job is left."""
    results = tmp_path / "faults.jsonl"
    rows = "fake-ok,fake-raises,fake-killed,fake-hangs-family,fake-hangs"
    proc = start(tmp_path, slurm_conf, "inference", "--impl", rows, "--executor", "slurm", "--repeat", "1",
                 "--share-node", "--gpus", "0", "--time-limit", "1", "--results", str(results))
    try:
        job = wait_for(lambda: next((j for j, s in our_jobs(slurm_conf, "fake-hangs-family")
                                     .items() if s == "RUNNING"), None),
                       what="the hanging job to run")
        subprocess.run(["scancel", job], env={**os.environ, "SLURM_CONF": slurm_conf},
                       check=True)
        out, _ = proc.communicate(timeout=400)
    finally:
        proc.kill()
    assert proc.returncode == 1, out[-3000:]  # runs failed: not a clean exit
    records = {r["impl"]: r for r in read_results(results)}
    assert set(records) == set(rows.split(","))
    assert records["fake-ok"]["status"] == "ok"
    assert records["fake-raises"]["status"] == "failed"
    assert "ValueError: broken on purpose" in records["fake-raises"]["reason"]
    assert records["fake-killed"]["status"] == "crashed"
    assert "killed by SIGKILL" in records["fake-killed"]["reason"]
    cancelled = records["fake-hangs-family"]
    assert cancelled["status"] == "failed" and cancelled["slurm"]["job_id"] == job
    assert f"Slurm job {job} was cancelled (scancel)" in cancelled["reason"]
    timed_out = records["fake-hangs"]
    assert timed_out["status"] == "timeout", timed_out["reason"]
    assert "ran past its Slurm time limit" in timed_out["reason"]
    assert "broken on purpose" in out and "time limit" in out  # the table's footnotes
    assert not our_jobs(slurm_conf, "rosetta-", states="PENDING,RUNNING,COMPLETING")


@pytest.mark.slow
def test_a_node_failure_becomes_a_crashed_row(tmp_path, slurm_conf):
    """The node goes down under a running job (scontrol marks it down, as the controller does
    when a node stops answering): the job ends NODE_FAIL, is not requeued, and its row says so."""
    results = tmp_path / "node.jsonl"
    env = {**os.environ, "SLURM_CONF": slurm_conf}
    node = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], env=env, capture_output=True,
                          text=True, check=True).stdout.split()[0]
    proc = start(tmp_path, slurm_conf, "inference", "--impl", "fake-hangs", "--executor",
                 "slurm", "--repeat", "1", "--gpus", "0", "--results", str(results))
    try:
        wait_for(lambda: "RUNNING" in our_jobs(slurm_conf, "fake-hangs").values(),
                 what="the hanging job to run")
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=down",
                        "reason=rosetta-test"], env=env, check=True)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], env=env)
        wait_for(lambda: "idle" in subprocess.run(["sinfo", "-h", "-o", "%T"], env=env,
                                                  capture_output=True, text=True).stdout,
                 timeout_s=60, what="the node to come back")
    [record] = read_results(results)
    assert record["status"] == "crashed", record["reason"]
    assert "ended by the failure of its node" in record["reason"]
    assert proc.returncode == 1


@pytest.mark.slow
def test_ctrl_c_cancels_every_job_keeps_what_finished_and_prints_the_table(tmp_path, slurm_conf):
    results = tmp_path / "stopped.jsonl"
    proc = start(tmp_path, slurm_conf, "inference", "--impl", "fake-ok,fake-hangs",
                 "--executor", "slurm", "--repeat", "1", "--share-node", "--gpus", "0",
                 "--results", str(results))
    try:
        wait_for(lambda: results.exists() and read_results(results), what="fake-ok's record")
        wait_for(lambda: "RUNNING" in our_jobs(slurm_conf, "fake-hangs").values(),
                 what="the hanging job to run")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, out[-3000:]
    assert [r["impl"] for r in read_results(results)] == ["fake-ok"]  # kept; nothing else
    assert "interrupted" in out and "Interrupted by Ctrl-C" in out
    wait_for(lambda: not our_jobs(slurm_conf, "fake-hangs",
                                  states="PENDING,RUNNING,COMPLETING"),
             timeout_s=60, what="the cancelled job to end")
    assert "CANCELLED" in our_jobs(slurm_conf, "fake-hangs").values()
    # The run Ctrl-C ended is interrupted, not lost: `collect` appends no record for it.
    collected = harness(tmp_path, slurm_conf, "collect", str(results))
    assert collected.returncode == 0, collected.stdout[-2000:]
    assert "0 record(s) appended" in collected.stdout and "1 already there" in collected.stdout
    assert [r["impl"] for r in read_results(results)] == ["fake-ok"]


# ------------------------------------------------------------------ settings and messages


def test_slurm_options_without_the_slurm_executor_are_refused(tmp_path):
    done = harness(tmp_path, None, "inference", "--impl", "fake-ok", "--partition", "gpu",
                   "--results", str(tmp_path / "r.jsonl"))
    assert done.returncode == 2
    assert "--partition only apply with --executor slurm" in done.stdout


def test_without_slurm_the_message_says_where_to_run(tmp_path):
    env = environment(tmp_path, None)
    env["PATH"] = str(tmp_path)  # no sbatch, squeue, ...
    done = subprocess.run([sys.executable, "-m", "harness", "inference", "--impl", "fake-ok",
                           "--executor", "slurm", "--repeat", "1", "--results", str(tmp_path / "r.jsonl")],
                          cwd=REPO, text=True, env=env, capture_output=True, timeout=120)
    assert done.returncode == 2
    assert "not on PATH: run the harness on the cluster's login node" in done.stdout
    assert not (tmp_path / "r.jsonl").exists()


def test_an_unknown_partition_names_the_ones_there_are(tmp_path, slurm_conf):
    done = harness(tmp_path, slurm_conf, "inference", "--impl", "fake-ok", "--executor", "slurm",
                   "--repeat", "1", "--partition", "h100", "--results", str(tmp_path / "r.jsonl"))
    assert done.returncode == 2
    assert "no partition h100 on this cluster" in done.stdout and "debug" in done.stdout


@pytest.mark.slow
def test_a_job_slurm_refuses_or_would_never_start_stops_the_command(tmp_path, slurm_conf):
    """sbatch's refusal, and a request the partition cannot meet (five nodes of one): each
    stops the command with the reason before any benchmark job; no job is left queued."""
    for option, message in (("--sbatch=--no-such-option", "sbatch refused the job on partition "
                                                           "debug"),
                            ("--sbatch=--nodes=5", "Slurm will not start job")):
        done = harness(tmp_path, slurm_conf, "inference", "--impl", "fake-ok", "--executor",
                       "slurm", "--repeat", "1", option, "--results", str(tmp_path / "r.jsonl"), timeout=120)
        assert done.returncode == 2, done.stdout[-2000:]
        assert message in done.stdout and "check the partition, account, time" in done.stdout
        assert not (tmp_path / "r.jsonl").exists()
        assert not our_jobs(slurm_conf, "rosetta-", states="PENDING,RUNNING,COMPLETING")


def test_the_cluster_file_gives_defaults_that_options_override(tmp_path):
    config = tmp_path / "slurm.toml"
    config.write_text('partition = ["h100", "a100"]\naccount = "proj"\ntime = 30\n'
                      'gpus = 2\nmem = "64G"\nsbatch = ["--qos=high", "--requeue"]\n')
    settings = settings_from({"partition": None, "time": 45}, str(config))
    assert settings.partitions == ["h100", "a100"] and settings.account == "proj"
    assert settings.time_min == 45 and settings.gpus == 2 and settings.mem == "64G"
    assert settings.extra_parameters() == {"qos": "high", "requeue": True}
    assert settings_from({"partition": ["a,b"]}, str(config)).partitions == ["a", "b"]
    assert settings_from({}, None).time_limit(1200) == 30  # the run's timeout + 10 minutes
    assert settings_from({"gpus": 0}, str(config)).gpus == 0  # 0 is a value, not "not given"

    config.write_text('partitions = "gpu"\n')
    with pytest.raises(SlurmConfigError, match="unknown key.*partitions.*the keys are"):
        settings_from({}, str(config))
    config.write_text('time = "1h"\n')
    with pytest.raises(SlurmConfigError, match="time must be int"):
        settings_from({}, str(config))
    with pytest.raises(SlurmConfigError, match="not a long option"):
        settings_from({"sbatch": ["qos=high"]}, None)
    config.write_text('account = "proj"\n')
    config.chmod(0o666)  # its sbatch options reach every job: others must not write it
    with pytest.raises(SlurmConfigError, match="writable by group or others.*chmod go-w"):
        settings_from({}, str(config))
    with pytest.raises(SlurmConfigError, match="no Slurm cluster file"):
        settings_from({}, str(tmp_path / "missing.toml"))


@pytest.mark.slow
def test_folders_the_nodes_do_not_share_are_named_with_the_fix(tmp_path):
    data = tmp_path / "datasets"
    data.mkdir()
    (data / "cifar10.h5").write_bytes(b"x" * 10)
    (data / "__pycache__").mkdir()  # written by whoever runs there: not compared
    paths = {"the data store": str(data), "the isolated environments": str(tmp_path / "envs")}
    ours = {name: fingerprint(path) for name, path in paths.items()}
    assert ours["the isolated environments"] is None  # none here: nothing to share

    same = NodeView("gpu", "n1", report={"paths": dict(ours), "host": {"commit": "abc"}})
    assert sharing_problems(same, paths, ours, "abc") == []

    missing = NodeView("gpu", "n1", report={"paths": {}, "host": {"commit": "abc"}})
    [problem] = sharing_problems(missing, paths, ours, "abc")
    assert f"the data store ({data}) is not there on node n1 (partition gpu)" in problem
    assert "filesystem the nodes share" in problem

    (data / "cifar10.h5").write_bytes(b"y" * 11)  # another copy on the node
    other = NodeView("gpu", "n1", report={"paths": {"the data store": fingerprint(str(data))},
                                          "host": {"commit": "def"}})
    problems = sharing_problems(other, paths, ours, "abc")
    assert any("differs on node n1" in p for p in problems)
    assert any("at commit def, this machine's at abc" in p for p in problems)
