"""`--executor slurm` and `collect`: settings (settings), Slurm's tools (queue), what runs on a node
(node), readiness there (readiness), what jobs hand back (outcomes, tickets), records (records),
the submitter (executor), and records of jobs whose submitter died (collector)."""
