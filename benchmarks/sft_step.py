"""What one SFT step of the embedded models costs: the thinker's own forward and causal-LM loss (full-vocabulary
logits at every position, every row's media through the towers, the towers' per-window attention loop), against
acpo-bench's path (training/sft_tiny.py: the LM head at answer positions only through AnswerScorer, one attention
call per tower layer, each distinct clip encoded once), with one and with several questions per clip, then with
each clip's rope positions computed once (RopeIndex), then on frozen towers whose outputs were computed once per
clip before training (``frozen_tower_steps``), side by side in one process on the same batches, in alternating repeats
so that all meet the same machine load.

Reported per path: seconds per optimizer step (median over the timed steps), and the ratio to the thinker's own
path; plus the largest difference between the two losses on the first batch (they are the same objective).

    python benchmarks/sft_step.py [--world stamps] [--frame-side 224] [--clips 256] [--batch 64] [--steps 6]
                                  [--json FILE]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from pathlib import Path

import torch

from acpo_bench import worlds
from acpo_bench.models.qwen_omni.features import collate
from acpo_bench.models.qwen_omni.shared_prefix import RopeIndex
from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer
from acpo_bench.models.qwen_omni.tower_attention import use_stock_tower_attention, use_varlen_tower_attention
from acpo_bench.training.scorer import AnswerScorer
from acpo_bench.training.sft_tiny import (
    ClipEncodings,
    SFTData,
    TinySFTConfig,
    answer_nll,
    audio_seconds,
    encode_clips,
    featurize,
    make_collator,
    sample_examples,
    video_kwargs,
    vocabulary_texts,
)


def own_loss(model, items: list[dict], pad_id: int) -> torch.Tensor:
    """The thinker's own forward and loss, as the embedded models were first trained."""
    use_stock_tower_attention(model)
    batch = collate([it["ids"] for it in items], [it["media"] for it in items], pad_id, padding_side="right",
                    labels=[it["labels"] for it in items])
    batch = {k: v.float() if v.is_floating_point() else v for k, v in batch.items()}
    return model(**batch, use_audio_in_video=True).loss


def answer_loss(model, items: list[dict], pad_id: int, rope: RopeIndex | None = None,
                encodings: ClipEncodings | None = None) -> torch.Tensor:
    use_varlen_tower_attention(model)
    batch = make_collator(pad_id, model.config.audio_token_id, rope, encodings, encoded_batches=1)(items)
    scorer = AnswerScorer(model, model.config.video_token_id, model.config.audio_token_id)
    return answer_nll(scorer, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", default="stamps", help="the training world generated for it (synth or stamps)")
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--frame-side", type=int, default=224, help="frame pixels (the real-media recipe: 224)")
    parser.add_argument("--per-clip", type=int, default=4, help="questions per clip on the grouped path")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per path (after one untimed)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    world = worlds.build(worlds.WorldSpec(args.world, clips=args.clips, seed=1000), show_progress=False)
    tokenizer = build_tokenizer(vocabulary_texts(world))
    processor = build_processor(tokenizer, audio_seconds(world), args.frame_side)
    torch.manual_seed(0)
    model = Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    media = featurize(world, processor, frames=2, show_progress=False, videos_kwargs=video_kwargs(args.frame_side))
    total = (args.steps + 1) * args.batch
    rope = RopeIndex(model.model)
    use_varlen_tower_attention(model)
    encodings = encode_clips(model, media, args.batch)  # once before training, as the frozen-tower recipe does
    rope_cache = functools.partial(answer_loss, rope=rope)
    paths = {"thinker_forward": (own_loss, 1), "answer_positions": (answer_loss, 1),
             f"answer_positions_{args.per_clip}_per_clip": (answer_loss, args.per_clip),
             "answer_positions_rope_cache": (rope_cache, 1),
             "frozen_towers_rope_cache": (functools.partial(answer_loss, rope=rope, encodings=encodings), 1)}
    data = {name: list(SFTData(sample_examples(world, total, TinySFTConfig(
        world=args.world, batch_size=args.batch, questions_per_clip=per)), media, processor))
            for name, (_, per) in paths.items()}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for step in range(args.steps + 1):
        for name, (loss_of, _) in paths.items():  # alternating: every path meets the same load
            items = data[name][step * args.batch:(step + 1) * args.batch]
            start = time.perf_counter()
            loss = loss_of(model, items, tokenizer.pad_token_id)
            loss.backward()
            optimizer.zero_grad()  # no update: every path sees the same weights
            if step:  # the first step of each path warms it up
                times[name].append(time.perf_counter() - start)
    with torch.no_grad():  # the same objective: both losses on one batch
        same = data["answer_positions"][:args.batch]
        difference = abs(own_loss(model, same, tokenizer.pad_token_id).item()
                         - answer_loss(model, same, tokenizer.pad_token_id).item())
    base = statistics.median(times["thinker_forward"])
    result = {"world": world.name, "frame_side": args.frame_side, "batch": args.batch, "timed_steps": args.steps,
              "threads": args.threads,
              "loss_difference_same_batch": difference, "paths": {}}
    print(f"{'path':<34} {'s/step':>8} {'speed-up':>9}")
    for name in paths:
        seconds = statistics.median(times[name])
        result["paths"][name] = {"s_per_step": round(seconds, 4), "speedup": round(base / seconds, 2)}
        print(f"{name:<34} {seconds:>8.3f} {base / seconds:>8.2f}x")
    print(f"|own loss - answer-position loss| on one batch: {difference:.2e}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
