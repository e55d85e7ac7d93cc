"""What audio-visual contrastive decoding costs: `eval --tasks all` with greedy decoding against the same run with
`--model-args decoding=contrastive` (every probe answered again with its track silenced), side by side in one
process, on the same clips and model, in alternating repeats so that both see the same machine load.

Reported per decoding: wall seconds (median of the repeats), probes/s, the forward rows the adapter ran (answered,
and run again under silence), then the ratios contrastive / greedy. The model is the embedded qwen-omni-tiny on the
synthetic world it was trained on (the world is built into the cache on first use).

    python benchmarks/contrastive_decoding_cost.py [--clips 100] [--repeats 3] [--data DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from acpo_bench.clips import load_clips
from acpo_bench.models.qwen_omni.adapter import qwen_omni_tiny
from acpo_bench.runner import EvalConfig
from acpo_bench.workflows.evaluation import ModelSpec, evaluate_to_dir, resolve_tasks
from acpo_bench.worlds import SYNTH, WorldSpec, build

DECODINGS = {"greedy": {}, "contrastive": {"decoding": "contrastive", "alpha": "1.0", "beta": "0.1"}}


def run_once(model_args: dict[str, str], clips, limit: int) -> dict:
    adapter = qwen_omni_tiny(dict(model_args))
    tasks, _ = resolve_tasks("all")
    config = EvalConfig(media=adapter.media_spec, limit=limit)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run = evaluate_to_dir(ModelSpec("qwen-omni-tiny", model_args), adapter, tasks, clips, config, out,
                              use_cache=False, show_progress=False)
        wall = time.perf_counter() - start
    probes = sum(len(o.probes) for o in run.outcome.tasks.values())
    return {"wall_s": wall, "probes": probes, "forwards": dict(adapter.forwards)}


def _rows(result: dict) -> int:
    return sum(result["forwards"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=100, help="clips evaluated (--limit)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default=None, help="a synthetic-world clip dataset (default: the evaluation world)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    clips = load_clips(args.data) if args.data else build(WorldSpec(SYNTH), show_progress=False)
    runs: dict[str, list[dict]] = {name: [] for name in DECODINGS}
    for _ in range(args.repeats):
        for name, model_args in DECODINGS.items():  # alternating: both decodings meet the same load
            runs[name].append(run_once(model_args, clips, args.clips))
    result = {"clips": args.clips, "repeats": args.repeats, "data": clips.name}
    for name, done in runs.items():
        wall = statistics.median(r["wall_s"] for r in done)
        result[name] = {"wall_s": round(wall, 2), "probes": done[0]["probes"],
                        "probes_per_s": round(done[0]["probes"] / wall, 1), "forwards": done[0]["forwards"]}
    greedy, contrastive = result["greedy"], result["contrastive"]
    result["ratio"] = {"wall": round(contrastive["wall_s"] / greedy["wall_s"], 2),
                       "forward_rows": round(_rows(contrastive) / _rows(greedy), 2)}
    print(f"{'decoding':<12} {'wall s':>8} {'probes/s':>9} {'forward rows (answered + silenced)':>36}")
    for name in DECODINGS:
        r = result[name]
        print(f"{name:<12} {r['wall_s']:>8.2f} {r['probes_per_s']:>9.1f} "
              f"{_rows(r):>14} ({r['forwards']['full']} + {r['forwards']['contrast']})")
    print(f"contrastive / greedy: wall x{result['ratio']['wall']}, forward rows x{result['ratio']['forward_rows']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
