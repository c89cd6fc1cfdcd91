"""Running a benchmark: the parent plans and records (runner, results, executor, local, slurm/),
each run is a child process (child, job, worker) in the row's interpreter (envs), with what the
record keeps about the machine (host, load, utilisation)."""
