#!/usr/bin/env bash
# Fill benchmarks/.whl (ignored by git) with the wheels benchmarks/gpu_check.sh installs on the GPU machine, whose
# image (../shared/notes/gpu-anchor.md) has torch 2.11, transformers 5.17, peft, accelerate, pandas, pyarrow, xxhash,
# fsspec, tokenizers 0.23 and huggingface-hub 1.33, but no trl, no datasets (nor dill, multiprocess) and a
# transformers older than the 5.25 this project needs, and no PyAV (the real-media world's mp4s). Python 3.12,
# manylinux x86_64; about 52 MB in all. Then the real-media world the device evaluates on (benchmarks/.world, 32
# clips, about 7 MB: the device has no stamps to build it from). Carry both (under the 64 MiB carry limit).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  transformers==5.25.0 trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 regex==2026.11.19 av==18.1.0
ls -la .whl
rm -rf .world
"$(dirname "$PY")/acpo-bench" data build stamps --output-dir .world --clips 32
du -sh .whl .world
