"""The Julia rows (Knet.jl, Flux.jl) from Python: whether they can run here (readiness,
constraints, device), `setup julia` (setup), and the bridge that runs them through juliacall
with the harness's own loop and clock (bridge, layouts)."""
