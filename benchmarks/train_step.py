"""ACPO training step cost: our batched step against a naive ACPO step and a DPO step, same model and pairs.

    python benchmarks/train_step.py --size tiny [--pairs 16] [--steps 10] [--json out.json]

- batched ACPO (ours): y+|a, y-|a, y+|a' as one forward whose clips are encoded once each, LM head only at the
  answer tokens; one no-grad reference forward of the same rows (frozen copy).
- naive ACPO: six separate forwards through the thinker's own forward (policy and reference x three sequences),
  full-vocabulary logits, every row's media encoded again.
- DPO: the two sequences y+|a, y-|a batched like TRL's concatenated forward, policy and reference.
Each variant runs in its own process so its peak memory (max RSS) is its own; the table prints ms per step, peak
memory and the ratios. (--size 3b|7b on a GPU belongs to the performance work; see docs/benchmarks.md.)
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import platform
import resource
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

VARIANTS = ("batched_acpo", "naive_acpo", "dpo")


def _setup(checkpoint: Path, n_pairs: int):
    from transformers import Qwen2_5OmniProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.models.qwen_omni.adapter import checkpoint_settings
    from acpo_bench.synth.generate import default_world
    from acpo_bench.synth.world import WorldConfig
    from acpo_bench.training.acpo import ACPOConfig, PairCollator
    from acpo_bench.training.pairs import label_pairs, recipe_json

    world = default_world(WorldConfig(clips=200, seed=1000), show_progress=False)
    pairs = [p.__dict__ for p in label_pairs(world, seed=0) if p.kind in ("visible_silent", "audible")][:n_pairs]
    for p in pairs:
        p["audio"] = p["audio"] if isinstance(p["audio"], str) else recipe_json(p["audio"])
    processor = Qwen2_5OmniProcessor.from_pretrained(str(checkpoint))
    policy = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(str(checkpoint), dtype=torch.float32)
    reference = copy.deepcopy(policy).eval().requires_grad_(False)
    collator = PairCollator(processor, ACPOConfig(sft_replay=0.0), [], 0,
                            checkpoint_settings(checkpoint).get("videos_kwargs"))
    return processor, policy, reference, collator, pairs


def _answer_logps(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    targets = labels[:, 1:]
    mask = targets != -100
    logps = logits[:, :-1].float().log_softmax(-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logps * mask).sum(-1)


def _step(variant: str, processor, policy, reference, collator, pairs, optimizer) -> None:
    from acpo_bench.models.qwen_omni.features import DistinctMedia, collate
    from acpo_bench.training.losses import LossWeights, SequenceLogps, acpo_loss, dpo_sigmoid
    from acpo_bench.training.scorer import AnswerScorer

    tokens = (processor.tokenizer.video_token_id, processor.tokenizer.audio_token_id)
    batch = collator(pairs)
    n = len(pairs)
    if variant in ("batched_acpo", "dpo"):
        rows = 3 * n if variant == "batched_acpo" else 2 * n
        keep = {k: v[:rows] for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
        media = DistinctMedia(**batch["media"])
        media = DistinctMedia(*[getattr(media, f) for f in ("pixel_values_videos", "video_grid_thw",
                                                             "video_second_per_grid", "input_features",
                                                             "feature_attention_mask", "audio_tokens")],
                              rows=media.rows[:rows])
        pol, counts = AnswerScorer(policy, *tokens)(keep["input_ids"], keep["attention_mask"], keep["labels"], media)
        with torch.no_grad():
            ref, _ = AnswerScorer(reference, *tokens)(keep["input_ids"], keep["attention_mask"], keep["labels"],
                                                      media)
        if variant == "dpo":
            loss = dpo_sigmoid(pol[:n], pol[n:], ref[:n], ref[n:], 0.5).losses.mean()
        else:
            loss = acpo_loss(SequenceLogps(pol[:n], pol[n:2 * n], pol[2 * n:], ref[:n], ref[n:2 * n], ref[2 * n:],
                                           counts[:n]), LossWeights()).loss
    else:  # naive: every sequence through the thinker's own forward, separately
        pieces = []
        for part in range(3):
            sequences = [collator.encode(p["prompt"], p["chosen" if part != 1 else "rejected"]) for p in pairs]
            audio = "contrast_audio" if part == 2 else "audio"
            media = [collator.media(p["video"], p["video_id"], p[audio])[1] for p in pairs]
            ids = [(*b, *m.placeholder_ids, *a, *ans) for (b, a, ans), m in zip(sequences, media, strict=True)]
            labels = [(-100,) * (len(i) - len(ans)) + ans for i, (_, _, ans) in zip(ids, sequences, strict=True)]
            inputs = collate(ids, media, processor.tokenizer.pad_token_id, "right", labels)
            labels_t = inputs.pop("labels")
            pol = _answer_logps(policy(**inputs, use_audio_in_video=True).logits, labels_t)
            with torch.no_grad():
                ref = _answer_logps(reference(**inputs, use_audio_in_video=True).logits, labels_t)
            pieces.append((pol, ref))
        (pc, rc), (pr, rr), (ps, rs) = pieces
        loss = acpo_loss(SequenceLogps(pc, pr, ps, rc, rr, rs, torch.ones_like(pc)), LossWeights()).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _worker(variant: str, checkpoint: str, n_pairs: int, steps: int, queue) -> None:
    torch.manual_seed(0)
    processor, policy, reference, collator, pairs = _setup(Path(checkpoint), n_pairs)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    _step(variant, processor, policy, reference, collator, pairs, optimizer)  # warm-up: featurize, allocate
    start = time.perf_counter()
    for _ in range(steps):
        _step(variant, processor, policy, reference, collator, pairs, optimizer)
    seconds = (time.perf_counter() - start) / steps
    queue.put({"variant": variant, "ms_per_step": round(seconds * 1000, 1),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


def main() -> None:
    from acpo_bench.models.qwen_omni.adapter import TINY_CHECKPOINT

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("tiny",), default="tiny")
    parser.add_argument("--checkpoint", default=str(TINY_CHECKPOINT))
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    context = mp.get_context("spawn")
    results = {}
    for variant in VARIANTS:
        queue = context.Queue()
        proc = context.Process(target=_worker, args=(variant, args.checkpoint, args.pairs, args.steps, queue))
        proc.start()
        results[variant] = queue.get()
        proc.join()
    base = results["naive_acpo"]["ms_per_step"]
    table = Table(title=f"ACPO step, {args.pairs} pairs, tiny thinker, CPU ({torch.get_num_threads()} threads)",
                  title_justify="left")
    for column in ("variant", "ms/step", "peak RSS MB", "vs naive ACPO", "vs DPO"):
        table.add_column(column, justify="right")
    for variant, r in results.items():
        table.add_row(variant, f"{r['ms_per_step']:.1f}", f"{r['peak_rss_mb']:.0f}",
                      f"{base / r['ms_per_step']:.2f}x faster",
                      f"{r['ms_per_step'] / results['dpo']['ms_per_step']:.2f}x the time")
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": platform.node(), "torch": torch.__version__,
                                               "pairs": args.pairs, "steps": args.steps, "results": results},
                                              indent=1))


if __name__ == "__main__":
    main()
