#!/usr/bin/env bash
# Fill benchmarks/.whl (ignored by git) with the wheels benchmarks/gpu_check.sh installs on the GPU machine, whose
# image (../shared/notes/gpu-anchor.md) has torch 2.11, transformers 5.17, peft, accelerate, pandas, pyarrow, xxhash,
# fsspec, tokenizers 0.23 and huggingface-hub 1.33, but no trl, no datasets (nor dill, multiprocess) and a
# transformers older than the 5.23 this project needs. Python 3.12, manylinux x86_64; about 16 MB in all.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  transformers==5.24.0 trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 regex==2026.11.19
ls -la .whl
