#!/usr/bin/env bash
# The one prepared GPU measurement of issue 8: evaluation throughput and the training step at real size, each against
# its anchor in the same run (the one-by-one generate loop; TRL's DPOTrainer), JSON and logs under $OUT. Sized to end
# within 5 minutes on one H100/H200 (each benchmark under its own `timeout`; each JSON is rewritten after every stage
# or variant, so a cut run still leaves what it measured).
#
#   here, once:  benchmarks/fetch_wheels.sh   (fills benchmarks/.whl and the real-media world benchmarks/.world,
#                                               both ignored by git, ~60 MB)
#   device:      run(command="bash benchmarks/gpu_check.sh", carry=["benchmarks/.whl", "benchmarks/.world"],
#                    timeout_s=360), then give_back
#   CPU check:   SIZE=tiny INSTALL=0 PYTHON=.venv/bin/python OUT=/tmp/gpu-check bash benchmarks/gpu_check.sh
#
# On the real-media world (DATA, default benchmarks/.world; built here when absent and the stamps are installed):
# eval_throughput (ours vs the batched forward vs the one-by-one loop, forward MFU, open answers vs one-by-one) and
# eval_end_to_end (the whole `eval --tasks all` through the runner). Then the training step against TRL.
# Qwen's own inference path (benchmarks/official_path.py) needs ffmpeg, librosa and decord, which the device image
# lacks: it runs in the CPU suite (tests/test_official_path.py) and not here.
#
# SIZE (7b), INSTALL (1: pip-install benchmarks/.whl and this project into /tmp/site), PYTHON (python3),
# EVAL_S / TRAIN_S (each benchmark's time limit in seconds), THREADS (torch CPU threads; empty = torch's default).
set -u -o pipefail
SIZE=${SIZE:-7b}
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
EVAL_S=${EVAL_S:-90}
E2E_S=${E2E_S:-60}
TRAIN_S=${TRAIN_S:-120}
DATA=${DATA:-benchmarks/.world}
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

if [ ! -f "$DATA/world.json" ]; then
  # the device has no stamps: the world travels from the machine that built it (benchmarks/fetch_wheels.sh)
  "$PY" -m acpo_bench data build stamps --output-dir "$DATA" --clips 32 || { echo "no world at $DATA"; exit 3; }
fi
threads=${THREADS:+--threads $THREADS}
if [ "$SIZE" = tiny ]; then
  eval_args="--probes 32 --one-by-one 4 --open-probes 4 --decode-workers 1 --repeats 2"
  e2e_args="--clips 4"
  train_args="--pairs 2 --steps 2"
else
  eval_args="--probes 256 --one-by-one 4 --open-probes 16 --decode-workers 4 --repeats 2 --forward-batch 16"
  e2e_args="--clips 16"
  train_args="--pairs 1 --steps 2"
fi
# shellcheck disable=SC2086
timeout "$EVAL_S" "$PY" benchmarks/eval_throughput.py --size "$SIZE" --inputs world --data "$DATA" $eval_args \
  $threads --json "$OUT/eval_$SIZE.json" 2>&1 | grep --line-buffered -v -E "Loading weights|it/s\]" \
  | tee "$OUT/eval_$SIZE.log"
eval_rc=${PIPESTATUS[0]}
echo "eval: rc $eval_rc, $(( $(date +%s) - start )) s since start"
# shellcheck disable=SC2086
timeout "$E2E_S" "$PY" benchmarks/eval_end_to_end.py --size "$SIZE" --data "$DATA" $e2e_args $threads \
  --json "$OUT/e2e_$SIZE.json" 2>&1 | grep --line-buffered -v -E "Loading weights|it/s\]" | tee "$OUT/e2e_$SIZE.log"
e2e_rc=${PIPESTATUS[0]}
echo "end to end: rc $e2e_rc, $(( $(date +%s) - start )) s since start"
# the variants in order of need: ours, TRL's anchor, ours with a precomputed reference, the naive step, our DPO
# shellcheck disable=SC2086
timeout "$TRAIN_S" "$PY" benchmarks/train_step.py --size "$SIZE" $train_args $threads \
  --variants acpo,trl_dpo,acpo_precomputed_ref,acpo_naive,dpo --json "$OUT/train_$SIZE.json" 2>&1 \
  | grep --line-buffered -v -E "Loading weights|it/s\]|FutureWarning|warnings.warn" | tee "$OUT/train_$SIZE.log"
train_rc=${PIPESTATUS[0]}
echo "train: rc $train_rc, $(( $(date +%s) - start )) s since start"
ls -la "$OUT"
# a failed (or cut) benchmark fails the check, so a broken script cannot pass as a measurement
[ "$eval_rc" = 0 ] && [ "$e2e_rc" = 0 ] && [ "$train_rc" = 0 ]
