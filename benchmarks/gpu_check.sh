#!/usr/bin/env bash
# The one prepared GPU measurement of issue 8: evaluation throughput and the training step at real size, each against
# its anchor in the same run (the one-by-one generate loop; TRL's DPOTrainer), JSON and logs under $OUT. Sized to end
# within 5 minutes on one H100/H200 (each benchmark under its own `timeout`; each JSON is rewritten after every stage
# or variant, so a cut run still leaves what it measured).
#
#   here, once:  benchmarks/fetch_wheels.sh        (fills benchmarks/.whl, ignored by git, ~16 MB)
#   device:      run(command="bash benchmarks/gpu_check.sh", carry=["benchmarks/.whl"], timeout_s=360), then give_back
#   CPU check:   SIZE=tiny INSTALL=0 PYTHON=.venv/bin/python OUT=/tmp/gpu-check bash benchmarks/gpu_check.sh
#
# SIZE (7b), INSTALL (1: pip-install benchmarks/.whl and this project into /tmp/site), PYTHON (python3),
# EVAL_S / TRAIN_S (each benchmark's time limit in seconds), THREADS (torch CPU threads; empty = torch's default).
set -u -o pipefail
SIZE=${SIZE:-7b}
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
EVAL_S=${EVAL_S:-100}
TRAIN_S=${TRAIN_S:-200}
THREADS=${THREADS:-}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
start=$(date +%s)

if [ "${INSTALL:-1}" = 1 ]; then
  site=/tmp/site
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
    benchmarks/.whl/*.whl || { echo "wheel install failed (carry benchmarks/.whl?)"; exit 3; }
  # this project, pure Python, built from the tree (setuptools and wheel are in the image)
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --target "$site" . \
    --upgrade || { echo "project install failed"; exit 3; }
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
{
  date -u +%FT%TZ; uname -a; nproc; uptime
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  "$PY" -c "import torch, transformers, trl, peft, datasets; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'transformers', transformers.__version__, 'trl', trl.__version__, 'peft', peft.__version__, 'datasets',
datasets.__version__, 'acpo_bench', __import__('acpo_bench').__file__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
echo "setup: $(( $(date +%s) - start )) s"

threads=${THREADS:+--threads $THREADS}
if [ "$SIZE" = tiny ]; then
  eval_args="--clips 4 --questions 8 --one-by-one 4 --repeats 2"
  train_args="--pairs 2 --steps 2"
else
  eval_args="--clips 8 --questions 16 --one-by-one 4 --repeats 2 --forward-batch 16"
  train_args="--pairs 1 --steps 2"
fi
# shellcheck disable=SC2086
timeout "$EVAL_S" "$PY" benchmarks/eval_throughput.py --size "$SIZE" --inputs synthetic $eval_args $threads \
  --json "$OUT/eval_$SIZE.json" 2>&1 | grep --line-buffered -v -E "Loading weights|it/s\]" | tee "$OUT/eval_$SIZE.log"
eval_rc=${PIPESTATUS[0]}
echo "eval: rc $eval_rc, $(( $(date +%s) - start )) s since start"
# the variants in order of need: ours, TRL's anchor, ours with a precomputed reference, the naive step, our DPO
# shellcheck disable=SC2086
timeout "$TRAIN_S" "$PY" benchmarks/train_step.py --size "$SIZE" $train_args $threads \
  --variants acpo,trl_dpo,acpo_precomputed_ref,acpo_naive,dpo --json "$OUT/train_$SIZE.json" 2>&1 \
  | grep --line-buffered -v -E "Loading weights|it/s\]|FutureWarning|warnings.warn" | tee "$OUT/train_$SIZE.log"
train_rc=${PIPESTATUS[0]}
echo "train: rc $train_rc, $(( $(date +%s) - start )) s since start"
ls -la "$OUT"
# a failed (or cut) benchmark fails the check, so a broken script cannot pass as a measurement
[ "$eval_rc" = 0 ] && [ "$train_rc" = 0 ]
