"""The Slurm executor (`--executor slurm`): each planned (implementation, benchmark, repeat)
is one Slurm job, submitted through submitit, running the same worker as the local executor in
a fresh process on a node (harness.run.slurm.node.run_job). This process is the only writer of
the results file: it appends each record as its job finishes, with the node's hardware, the job
id and what the job was given (`slurm` in the record).

Jobs hand their answers back as JSON (harness.run.slurm.outcomes): submitit's result pickles are
never loaded, and the results folder and its `slurm/` must be changeable by you alone
(harness.trust.slurm_folders_problem), since the nodes run the job files submitit leaves there.
Beside each job is its ticket (harness.run.slurm.tickets), from which `python -m harness collect`
makes the records of jobs whose submitter died.

Before any benchmark job, one small job per partition (`check`) reports which rows are ready on
a node there and whether the project, the results folder, the data store and the isolated
environments are on a filesystem the nodes share.

Faults become records like a local run's: a job that raises (failed), one cancelled with
scancel (failed), one past its time limit (timeout), a node failure or out-of-memory kill
(crashed). Ctrl-C, SIGTERM or SIGHUP cancels every job still queued or running and keeps what
finished.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from harness.run.executor import Display, PlannedRun, PlanOutcome, Record
from harness.run.host import host_environment
from harness.run.runner import (ResultNotSaved, RunSettings, interrupted_record, job_for,
                                log_path_for, new_run_id, save_record, stop_signals_as_request)
from harness.run.slurm import node, outcomes, queue, tickets
from harness.run.slurm.records import RESULT_WAIT_S, VANISHED, job_record
from harness.run.slurm.readiness import NodeView, shared_paths, sharing_problems
from harness.run.slurm.settings import SlurmConfigError, SlurmSettings
from harness.trust import slurm_folders_problem

READINESS_TIME_MIN = 10
# Seconds a job may be unknown to squeue and sacct, without a result, before it counts as lost.
FORGOTTEN_S = 60


class ClusterProblem(Exception):
    """The cluster cannot run the plan as asked (refused submission, unshared folders, ...);
    the message says what to do. Nothing was run."""


@dataclass
class Tracked:
    """A submitted benchmark job, until its record is in."""

    run: PlannedRun
    submitted: Any  # submitit.Job
    handle: Any  # the display's line
    ticket: tickets.Ticket  # which run the job is, also on disk beside it
    events_read: int = 0
    state: str = "PENDING"
    node: str | None = None
    final: queue.JobState | None = None  # the state it ended in (None: no longer known)
    unknown_since: float = 0.0  # when Slurm first no longer knew the job


class SlurmExecutor:
    def __init__(self, slurm: SlurmSettings, settings: RunSettings,
                 say: Callable[[str], None] = print) -> None:
        problem = slurm_folders_problem(settings.results)
        if problem:  # before any job: the nodes would run what others could plant there
            raise SlurmConfigError(problem)
        queue.check_cluster()
        known = queue.partitions()
        unknown = [p for p in slurm.partitions if p not in known]
        if unknown:
            raise SlurmConfigError(f"no partition {', '.join(unknown)} on this cluster "
                                   f"(from {slurm.source}); it has: {', '.join(known) or 'none'}")
        self.slurm = slurm
        self.settings = settings
        self.say = say
        self.partitions = slurm.partitions or [queue.default_partition()]
        self.folder = settings.results.parent / "slurm"
        self._gpus = {p: self._gpus_for(p) for p in self.partitions}
        self._queue_silent_since = 0.0

    # ------------------------------------------------------------ what each job asks for

    def _gpus_for(self, partition: str) -> int:
        if self.slurm.gpus is not None:
            return self.slurm.gpus
        if self.settings.device == "cpu":
            return 0
        return 1 if queue.partition_has_gpus(partition) else 0

    def exclusive(self, partition: str) -> str:
        """What the job has to itself: its GPU(s), the whole node, or nothing (shared)."""
        if self._gpus[partition]:
            return "gpu"
        return "shared" if self.slurm.share_node else "node"

    def _executor(self, partition: str, minutes: int, name: str) -> Any:
        import submitit

        # max_num_timeout=0: a benchmark job past its limit is a timeout, never requeued.
        executor = submitit.SlurmExecutor(folder=self.folder / "%j", max_num_timeout=0)
        # --no-requeue: a run its node's failure ended is a crashed row, not a silent rerun
        # (an --sbatch=--requeue of the user's wins).
        # submitit always asks for SIGUSR2 90 s before the time limit, and Slurm may send it up
        # to a minute early: under a short limit it came while the job's Python was starting,
        # before any handler, and killed the run. A benchmark has nothing to checkpoint, so the
        # warning signal is SIGURG, which nothing handles and no process dies of (an
        # --sbatch=--signal=... of the user's wins).
        extra = {"no_requeue": True, "signal": "URG@90", **self.slurm.extra_parameters()}
        if extra.get("requeue"):
            extra.pop("no_requeue")
        params: dict[str, Any] = {"partition": partition, "time": minutes, "job_name": name,
                                  "additional_parameters": extra}
        gpus = self._gpus[partition]
        if gpus:
            params["gres"] = f"gpu:{gpus}"  # Slurm gives a GPU to one job at a time
        elif not self.slurm.share_node:
            params["exclusive"] = True  # a CPU run has the node to itself
        for key, value in (("cpus_per_task", self.slurm.cpus), ("mem", self.slurm.mem),
                           ("account", self.slurm.account)):
            if value is not None:
                params[key] = value
        executor.update_parameters(**params)
        return executor

    def _submit(self, partition: str, minutes: int, name: str, function: Callable[..., Any],
                *args: Any) -> Any:
        self.folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            with _private_files():
                return self._executor(partition, minutes, name).submit(function, *args,
                                                                       str(self.folder))
        except Exception as error:  # noqa: BLE001 - sbatch's refusal, in submitit's wrapping
            text = " ".join(str(error).split())
            raise ClusterProblem(
                f"sbatch refused the job on partition {partition}: {text[-400:]}; check the "
                f"partition, account, time, gpus, cpus, mem and sbatch settings "
                f"({self.slurm.source})") from None

    # ------------------------------------------------------------ readiness on the nodes

    def check(self, checks: list[tuple[str, str]], stop: threading.Event | None = None
              ) -> dict[str, NodeView]:
        """One small job per partition: what is ready on its node. ClusterProblem when the
        folders the jobs need are not shared with this machine."""
        self.folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        probe = self.folder / f"shared-probe-{uuid.uuid4().hex[:8]}"
        probe.write_text(uuid.uuid4().hex)
        paths = shared_paths(probe, checks, self.settings.data_dir)
        ours = {name: node.fingerprint(path) for name, path in paths.items()}
        jobs = {p: self._submit(p, READINESS_TIME_MIN, "rosetta-readiness", node.node_report,
                                checks, paths) for p in self.partitions}
        try:
            for partition, job in jobs.items():
                self.say(f"checking what is ready on a node of partition {partition} "
                         f"(Slurm job {job.job_id})")
            views = {p: self._collect_view(p, job, stop) for p, job in jobs.items()}
        finally:
            queue.cancel([j.job_id for j in jobs.values()
                          if not outcomes.ended(self.folder, j.job_id)])
            probe.unlink(missing_ok=True)
        commit = host_environment().get("commit")
        problems = [problem for view in views.values() if view.problem is None
                    for problem in sharing_problems(view, paths, ours, commit)]
        if problems:
            raise ClusterProblem("the nodes do not see this machine's files:\n  - "
                                 + "\n  - ".join(problems))
        return views

    def _collect_view(self, partition: str, job: Any, stop: threading.Event | None) -> NodeView:
        state = self._wait(job, stop)
        if state.state in queue.FAULTS:
            return NodeView(partition, state.node, problem=(
                f"the readiness job on partition {partition} (Slurm job {job.job_id}) "
                f"{queue.FAULTS[state.state][1]}"))
        what = f"the readiness job on partition {partition} (Slurm job {job.job_id})"
        try:
            report = self._report(job.job_id)
        except outcomes.UnexpectedOutcome as error:
            return NodeView(partition, state.node, problem=f"{what} left a report the harness "
                                                           f"cannot use: {error}")
        if report is None:  # its function raised on the node: its log says how
            return NodeView(partition, state.node, problem=(
                f"{what} failed: {outcomes.error_line(self.folder, job.job_id)}; its output: "
                f"{job.paths.stdout}"))
        return NodeView(partition, report["host"].get("host"), report["ready"], report=report)

    def _report(self, job_id: str) -> dict[str, Any] | None:
        """What node_report wrote, checked; None when it wrote nothing (waits a little for a
        slow shared filesystem unless the function is known to have raised)."""
        deadline = time.time() + RESULT_WAIT_S
        while True:
            found = outcomes.read_outcome(self.folder, job_id)
            if found is not None:
                return outcomes.checked_node_report(
                    found, str(outcomes.outcome_path(self.folder, job_id)))
            if (outcomes.result_pickle_path(self.folder, job_id).exists()
                    or time.time() >= deadline):
                return None
            time.sleep(0.5)

    def _wait(self, job: Any, stop: threading.Event | None) -> queue.JobState:
        while True:
            state = queue.job_states([job.job_id]).get(job.job_id)
            if state is not None and state.never_starts:
                raise ClusterProblem(never_starts(job.job_id, state, self.slurm.source))
            # Its outcome, or Slurm's word: while Slurm says the job is queued or running, a
            # result pickle there is not its answer (a function that raised ends FAILED).
            if outcomes.outcome_path(self.folder, job.job_id).exists() or (
                    state.done if state is not None else outcomes.ended(self.folder, job.job_id)):
                return state or queue.JobState("COMPLETED", None, None)
            if stop is not None and stop.wait(self.slurm.poll_s):
                raise KeyboardInterrupt
            if stop is None:
                time.sleep(self.slurm.poll_s)

    # ------------------------------------------------------------ the benchmark jobs

    def run_plan(self, plan: list[PlannedRun], display: Display,
                 records: dict[str, list[Record]]) -> PlanOutcome:
        """Submit every planned run, then collect each record as its job ends (appending it to
        the results file). A stop signal cancels every job not yet finished."""
        tracked: dict[str, Tracked] = {}
        unsaved = 0
        with stop_signals_as_request() as stop:
            try:
                for run in plan:
                    if stop.is_set():
                        break
                    item = self._submit_run(run, display)
                    tracked[item.submitted.job_id] = item
                while tracked and not stop.is_set():
                    for item in self._poll(tracked, display):
                        record = self._record(item)
                        records[item.run.benchmark].append(record)
                        unsaved += not self._append(record, display)
                        display.finished(item.handle, record)
                        del tracked[item.submitted.job_id]
                    if tracked:
                        stop.wait(self.slurm.poll_s)
            except KeyboardInterrupt:
                stop.set()  # a second signal: stop at once
            except OSError:  # the terminal is gone (a closed session's SIGHUP)
                if not stop.is_set():
                    raise
            finally:
                if tracked:  # a stop signal, or an error here: leave no job behind
                    queue.cancel(list(tracked))
                    tickets.withdraw(self.folder, list(tracked))  # no record is due for them
            if stop.is_set():  # every run without a record: ended or never submitted
                for item in tracked.values():
                    display.finished(item.handle, {"status": "interrupted"})
                finished = {(r["benchmark"], r["impl"], r.get("repeat"),
                             (r.get("slurm") or {}).get("partition"))
                            for rs in records.values() for r in rs if r.get("run_id")}
                for run in plan:
                    partition = run.partition or self.partitions[0]
                    if (run.benchmark, run.impl.name, run.repeat, partition) not in finished:
                        records[run.benchmark].append(interrupted_record(
                            run.impl, run.benchmark, run.repeat, stop.cause))
        return PlanOutcome(stop if stop.is_set() else None, unsaved)

    def _submit_run(self, run: PlannedRun, display: Display) -> Tracked:
        settings = self.settings
        partition = run.partition or self.partitions[0]
        job = job_for(run.impl, run.benchmark, run.repeat, settings)
        run_id = new_run_id(run.benchmark, run.impl.name, run.repeat)
        log_path = log_path_for(settings, run_id)
        events_path = log_path.with_suffix(".events.jsonl")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        events_path.touch()
        submitted_at = time.time()
        submitted = self._submit(partition, self.slurm.time_limit(settings.timeout),
                                 f"rosetta-{run.benchmark}-{run.impl.name}", node.run_job, job,
                                 run.impl.environment, dict(run.impl.env), settings.timeout,
                                 str(log_path), str(events_path))
        ticket = tickets.Ticket.new(submitted.job_id, run_id, job, run.impl, settings, partition,
                                    self.exclusive(partition), submitted_at, log_path,
                                    events_path)
        tickets.write_ticket(self.folder, ticket)
        handle = display.add(run, f"queued (Slurm job {submitted.job_id})")
        return Tracked(run, submitted, handle, ticket)

    def _poll(self, tracked: dict[str, Tracked], display: Display) -> list[Tracked]:
        """Update each job's line; the jobs that have ended. A controller that does not answer
        for a while (a restart) is waited for: the jobs' result files still say which ended."""
        try:
            states = queue.job_states(list(tracked))
        except queue.SlurmUnavailable as error:
            if not self._queue_silent_since:
                self.say(f"Slurm does not answer ({error}); waiting for it")
            self._queue_silent_since = self._queue_silent_since or time.time()
            states = None
        else:
            self._queue_silent_since = 0.0
        finished = []
        for job_id, item in tracked.items():
            state = states.get(job_id) if states is not None else None
            left = outcomes.ended(self.folder, job_id)
            if states is not None and state is None and not left:
                # Neither squeue nor accounting knows it any more, and it left no result.
                item.unknown_since = item.unknown_since or time.time()
                if time.time() - item.unknown_since > FORGOTTEN_S:
                    item.final = queue.JobState(VANISHED, item.node, None)
                    finished.append(item)
                    continue
            else:
                item.unknown_since = 0.0
            if state is not None and state.state != item.state:
                item.state = state.state
                item.node = state.node
                if state.state == "PENDING":
                    display.note(item.handle, f"queued (Slurm job {job_id}"
                                 + (f": {state.reason}" if state.reason else "") + ")")
                elif state.state == "RUNNING":
                    display.note(item.handle, f"running on {state.node} (job {job_id})")
            self._forward_events(item, display)
            if state is not None and state.never_starts:
                raise ClusterProblem(never_starts(job_id, state, self.slurm.source))
            # Slurm's final state decides: a job past its time limit or cancelled can leave a
            # result (its worker killed by the SIGTERM) while it is still COMPLETING. Only
            # where Slurm says nothing of the job does the result file alone end it.
            if (state is not None and state.done) or (state is None and left):
                item.final = state
                finished.append(item)
        return finished

    def _forward_events(self, item: Tracked, display: Display) -> None:
        try:
            with open(item.ticket.events_path, "rb") as events:
                events.seek(item.events_read)
                data = events.read()
        except OSError:
            return
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits
        item.events_read += len(complete)
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:
                display.event(item.handle, json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError):
                continue

    def _record(self, item: Tracked) -> Record:
        """The record of an ended job: the node's outcome, or the fault Slurm reports."""
        return job_record(item.ticket, item.final, self.folder, node=item.node)

    def _append(self, record: Record, display: Display) -> bool:
        try:
            save_record(self.settings, record)
        except ResultNotSaved as error:
            display.unsaved(record, str(error))
            return False
        return True


@contextmanager
def _private_files() -> Iterator[None]:
    """Files and folders made meanwhile are not writable by group or others, whatever the
    umask (a user-private-group umask of 002 is common): the job folders submitit makes hold
    what the node unpickles, and Slurm gives the job the umask it was submitted with."""
    previous = os.umask(0o022)
    os.umask(previous | 0o022)
    try:
        yield
    finally:
        os.umask(previous)


def never_starts(job_id: str, state: queue.JobState, source: str) -> str:
    return (f"Slurm will not start job {job_id} as asked (pending: {state.reason}); check the "
            f"partition, account, time, gpus, cpus, mem and sbatch settings ({source}) "
            f"against `sinfo` and `scontrol show partition`")

