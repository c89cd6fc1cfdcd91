"""`python -m harness verify`: each implementation against the float64 NumPy oracle (oracle/),
with the same canonical weights (weights) on the same small case (case); the child process
runs the implementation (worker), the parent compares (checks) and records (runner, table)."""
