"""`acpo-bench eval --tasks all` end to end at real size, in process: decode, features, towers, forward and
generation through the runner, as a user's run does, on a clip dataset (the real-media world), with a thinker of
the released shapes (random weights; no checkpoint can be downloaded) built by realsize.py.

Reported: probes/s over the whole suite and its yes/no and open shares, the stage counts, and the time to the first
answer. The alternative it is read against is eval_throughput.py's one-by-one loop (same machine, same run of
gpu_check.sh).

    python benchmarks/eval_end_to_end.py --size 7b --data WORLD_DIR [--clips 16] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import realsize

from acpo_bench.clips import load_clips
from acpo_bench.models.qwen_omni.adapter import FAMILIES, QwenOmniAdapter
from acpo_bench.runner import EvalConfig
from acpo_bench.workflows.evaluation import ModelSpec, evaluate_to_dir, resolve_tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=realsize.SIZES, default="tiny")
    parser.add_argument("--data", required=True, help="a clip dataset (`acpo-bench data build stamps`)")
    parser.add_argument("--clips", type=int, default=16, help="clips of the dataset evaluated (--limit)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 tiny, 32 otherwise")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--layers", type=int, default=None, help="3b/7b: shrink to this many layers (CPU smoke test)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    realsize.set_threads(args.threads)
    device, dtype = realsize.device_and_dtype(args.size, args.layers)
    clips = load_clips(args.data)
    model, processor, settings = realsize.build_model(args.size, layers=args.layers,
                                                      extra_texts=tuple(clips.lexicon.classes))
    adapter = QwenOmniAdapter.in_memory(FAMILIES["qwen-omni"], model, processor, settings,
                                        {"feature_cache": "false"}, {"size": args.size})
    tasks, _ = resolve_tasks("all")
    config = EvalConfig(media=adapter.media_spec, batch_size=args.batch_size or (64 if args.size == "tiny" else 32),
                        limit=args.clips, max_new_tokens=args.max_new_tokens)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run = evaluate_to_dir(ModelSpec(f"random-{args.size}"), adapter, tasks, clips, config, out,
                              use_cache=False, show_progress=False)
        wall = time.perf_counter() - start
    kinds = Counter(p.kind for o in run.outcome.tasks.values() for p in o.probes)
    probes = sum(kinds.values())
    result = {"size": args.size, "layers": args.layers, "device": realsize.environment(device).get("gpu", device),
              "dtype": str(dtype).split(".")[-1], "data": run.results["config"]["data"], "clips": args.clips,
              "probes": probes, "by_kind": dict(kinds), "wall_s": round(wall, 2),
              "probes_per_s": round(probes / wall, 2), "answers": run.results["run_info"]["answers"],
              "batch_size": config.batch_size, "max_new_tokens": args.max_new_tokens,
              "peak_memory_gb": round(realsize.peak_memory_gb(device), 2)}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
