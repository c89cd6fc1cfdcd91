#!/usr/bin/env bash
# The JAX rows' GPU check, prepared as one script for a session that is lent a GPU machine (the
# `device` tool): the full profile of the CNN, the GRU and ResNet-50 inference for
# jax-flax and jax-flax-scan, with PyTorch beside them as the baseline measured on the same card
# in the same call, all through the harness (fresh child per run, synchronised clock).
# Synthetic data of the real shapes, as docs/benchmarks.md §12's figures were taken; results and logs land in
# $OUT (or ./gpu-results) so they come back.
#
#   device run:  bash benchmarks/gpu_jax.sh        (timeout_s 540 leaves room for a rerun)
#
# The machine has PyTorch, JAX, Flax, h5py and rich; optax is checked and named if missing.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-results}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 COLUMNS=160 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import jax, flax, optax, torch; print('jax', jax.__version__, jax.devices(), \
'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__)" \
    | tee -a "$out/gpu.txt" || { echo "a framework is missing: see above"; exit 2; }

common=(--profile full --data synthetic --device cuda --results "$out/results.jsonl"
        --data-dir /tmp/harness-data --timeout 300)
python3 -m harness cnn --impl pytorch,jax-flax,jax-flax-scan "${common[@]}" 2>&1 | tee "$out/cnn.txt"
python3 -m harness rnn --impl pytorch,jax-flax,jax-flax-scan "${common[@]}" 2>&1 | tee "$out/rnn.txt"
python3 -m harness inference --impl pytorch,jax-flax,jax-flax-scan "${common[@]}" 2>&1 \
    | tee "$out/inference.txt"
python3 -m harness report "$out/results.jsonl" --format markdown 2>&1 | tee "$out/report.md"
