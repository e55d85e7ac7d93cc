"""ACPO training step cost: our batched step against the naive ACPO step, our DPO step and TRL's DPOTrainer, on the
same pairs, model and LoRA config, each through a transformers Trainer (the same optimizer, the same loop).

    python benchmarks/train_step.py --size tiny [--pairs 4] [--steps 5] [--json out.json]     # CPU, embedded model
    python benchmarks/train_step.py --size 7b --pairs 1 --steps 3 --json out.json             # GPU, real dimensions

Variants (LoRA r=16, alpha 32 on the language model's q/k/v/o, gradient checkpointing, AdamW; sdpa attention):
- acpo: our step (training/acpo.py's ACPOTrainer): y+|a, y-|a, y+|a' with y+|a and y-|a packed into one sequence
  (tree mask), each clip through the towers once and the tower outputs shared by policy and reference, the LM
  head only at answer tokens; reference = the policy with its adapters disabled, computed in the step.
- acpo_precomputed_ref: the same step with reference log-probs precomputed (no reference forward in the step).
- acpo_naive: six separate forwards through the thinker's own forward (policy and reference x three sequences),
  full-vocabulary logits, every row's media encoded again.
- dpo: our scorer on the two DPO sequences (y+|a, y-|a packed), reference in the step.
- trl_dpo: TRL's DPOTrainer (sigmoid loss, fused LM head, adapter-disabled reference in the step) on [y+|a; y-|a],
  the media of each row given to the thinker's forward as TRL's vision collator does.
Each variant runs in its own process, so its peak memory (CUDA max_memory_allocated on a GPU, max RSS on a CPU) is
its own; featurization is done once before the timed steps for every variant (the same cached media inputs). The
acpo process also computes the loss of one batch by the packed path and by the plain unbatched forwards (six
separate sequences) and reports the difference. Medians of the steps after --warmup.

--size 3b|7b builds the thinker at Qwen2.5-Omni's real dimensions with random weights (benchmarks/realsize.py),
16 frames of 336x336 and 10 s of audio per clip (~1,470 prompt tokens), answers of 41 and 35 words, as in
../shared/notes/gpu-anchor.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realsize

VARIANTS = ("acpo", "acpo_precomputed_ref", "acpo_naive", "dpo", "trl_dpo")
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"
CHOSEN_WORDS, REJECTED_WORDS = 41, 35
BETA = 0.5


def make_pairs(size: str, n: int, seed: int = 0) -> tuple[list[dict], dict]:
    """n preference pairs over n random clips (in memory): prompt, y+ / y- answers, own audio a and a contrast audio
    a' (another clip's track under the same frames). Returns the pair rows (PairCollator's fields) and their media
    by (video_id, audio recipe json)."""
    from acpo_bench.media import Media
    from acpo_bench.schemas import AudioRecipe
    from acpo_bench.training.pairs import recipe_json

    clips = realsize.synthetic_media(size, 2 * n, seed)
    questions = realsize.questions(n)
    own = recipe_json(AudioRecipe("own"))
    pairs, media = [], {}
    for i in range(n):
        video_id = f"bench-{seed}-{i}"
        other = clips[n + i]
        swap = recipe_json(AudioRecipe("swap", source=f"bench-{seed}-{n + i}.mp4", source_id=f"bench-{seed}-{n + i}"))
        media[(video_id, own)] = clips[i]
        media[(video_id, swap)] = Media(frames=clips[i].frames, frame_times=clips[i].frame_times, audio=other.audio,
                                        sample_rate=other.sample_rate, duration=clips[i].duration)
        pairs.append({"pair_id": f"p{i}", "kind": "audible", "prompt": questions[i],
                      "chosen": realsize.answer_text(CHOSEN_WORDS, i),
                      "rejected": realsize.answer_text(REJECTED_WORDS, i + 7),
                      "video": f"{video_id}.mp4", "video_id": video_id, "audio": own, "contrast_audio": swap})
    return pairs, media


def _collator_class():
    from acpo_bench.models.qwen_omni.features import collate, distinct_media
    from acpo_bench.training.acpo import PairCollator
    from acpo_bench.training.pairs import recipe_from_json
    from acpo_bench.training.scorer import pack_rows

    class BenchCollator(PairCollator):
        """PairCollator over in-memory media. ``mode``: packed (ACPO's three sequences, the trainer's batch),
        packed_dpo (y+|a and y-|a only), plain (three plain batches for the thinker's own forward), trl (TRL's
        [y+|a; y-|a] batch with completion_mask and per-row media). Every call returns the batch of all the pairs
        (the benchmark's step is always the same pairs)."""

        def __init__(self, processor, config, videos_kwargs, media: dict, pairs: list[dict], mode: str) -> None:
            super().__init__(processor, config, [], 0, videos_kwargs)
            self.in_memory, self.pairs, self.mode = media, pairs, mode

        def media(self, video: str, video_id: str, audio_json: str):
            key = (video_id, recipe_from_json(audio_json).key())
            return key, self.featurizer(key, self.in_memory[(video_id, audio_json)])

        def rows(self, parts: int) -> list[tuple]:
            """(prompt tokens, answer tokens, media key, media inputs) per row, in the order y+|a, y-|a, y+|a'."""
            out = []
            for part in range(parts):
                for p in self.pairs:
                    before, after, answer = self.encode(p["prompt"], p["rejected" if part == 1 else "chosen"])
                    key, inputs = self.media(p["video"], p["video_id"], p["contrast_audio" if part == 2 else "audio"])
                    out.append(((*before, *inputs.placeholder_ids, *after), answer, key, inputs))
            return out

        def __call__(self, examples: list) -> dict:
            n = len(self.pairs)
            pad = self.tokenizer.pad_token_id
            if self.mode == "packed":
                return super().__call__(self.pairs)
            if self.mode == "packed_dpo":
                rows = self.rows(2)
                packing, firsts = pack_rows([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], pad)
                distinct = distinct_media([rows[i][2] for i in firsts], [rows[i][3] for i in firsts],
                                          self.tokenizer.audio_token_id)
                return {"input_ids": packing.pop("input_ids"), "attention_mask": packing.pop("attention_mask"),
                        "packing": packing, "media": dict(distinct.__dict__), "n_pairs": torch.tensor(n)}
            if self.mode == "plain":
                rows = self.rows(3)
                parts = []
                for part in range(3):
                    chunk = rows[part * n:(part + 1) * n]
                    ids = [(*prompt, *answer) for prompt, answer, _, _ in chunk]
                    labels = [(-100,) * len(prompt) + tuple(answer) for prompt, answer, _, _ in chunk]
                    parts.append(collate(ids, [r[3] for r in chunk], pad, "right", labels))
                return {"parts": parts, "n_pairs": torch.tensor(n)}
            # trl: DataCollatorForVisionPreference's layout, chosen rows then rejected rows, media repeated per row
            rows = self.rows(2)
            ids = [(*prompt, *answer) for prompt, answer, _, _ in rows]
            completion = [(0,) * len(prompt) + (1,) * len(answer) for prompt, answer, _, _ in rows]
            batch = collate(ids, [r[3] for r in rows], pad, "right", completion)
            batch["completion_mask"] = (batch.pop("labels") == 1).long()
            batch["use_audio_in_video"] = True
            return batch

    return BenchCollator


class _Forever(torch.utils.data.IterableDataset):
    """The same n pairs, batch after batch (the collator builds the batch; items are placeholders)."""

    def __init__(self, n: int, steps: int) -> None:
        self.n, self.steps = n, steps

    def __iter__(self):
        yield from range(self.n * self.steps)


def _answer_logps(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    targets = labels[:, 1:]
    mask = targets != -100
    logps = logits[:, :-1].float().log_softmax(-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logps * mask).sum(-1)


def _plain_logps(scorer, parts: list[dict]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Policy and reference (adapters disabled) answer log-probs of each plain batch, each through the thinker's
    own forward (full-vocabulary logits, the batch's media encoded with it)."""
    out = []
    for batch in parts:
        inputs = dict(batch)
        labels = inputs.pop("labels")
        policy = _answer_logps(scorer.thinker(**inputs, use_audio_in_video=True).logits, labels)
        with torch.no_grad(), scorer.thinker.disable_adapter():
            reference = _answer_logps(scorer.thinker(**inputs, use_audio_in_video=True).logits, labels)
        out.append((policy, reference))
    return out


def _loss_check(trainer, packed: dict, plain: dict, suffix: str) -> dict:
    """The ACPO loss and answer log-probs of one batch by the packed path (the trainer's own) and by the plain
    unbatched computation (six separate sequences through the thinker's own forward), at the model's dtype."""
    from acpo_bench.models.qwen_omni.features import DistinctMedia
    from acpo_bench.training.losses import SequenceLogps, acpo_loss

    scorer = trainer.accelerator.unwrap_model(trainer.model)
    n = int(packed["n_pairs"])
    with torch.no_grad():
        packed_loss = trainer.compute_loss(trainer.model, packed)
        logps, _ = scorer(packed["input_ids"], packed["attention_mask"], None, DistinctMedia(**packed["media"]),
                          packed["packing"])
        (pc, rc), (pr, rr), (ps, rs) = _plain_logps(scorer, plain["parts"])
        plain_loss = acpo_loss(SequenceLogps(pc, pr, ps, rc, rr, rs, torch.ones_like(pc)), trainer.weights).loss
    plain_logps = torch.cat([pc, pr, ps]).float()
    return {f"loss_packed{suffix}": float(packed_loss), f"loss_plain{suffix}": float(plain_loss),
            f"loss_abs_diff{suffix}": abs(float(packed_loss) - float(plain_loss)),
            f"logp_max_abs_diff{suffix}": float((logps[:3 * n].float() - plain_logps).abs().max()),
            f"logp_scale{suffix}": float(plain_logps.abs().max())}


def _trainer_classes():
    from acpo_bench.training.acpo import ACPOTrainer
    from acpo_bench.training.losses import LossWeights, SequenceLogps, acpo_loss, dpo_sigmoid

    class NaiveACPOTrainer(ACPOTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            scorer = self.accelerator.unwrap_model(model)
            (pc, rc), (pr, rr), (ps, rs) = _plain_logps(scorer, inputs["parts"])
            loss = acpo_loss(SequenceLogps(pc, pr, ps, rc, rr, rs, torch.ones_like(pc)), self.weights).loss
            return (loss, {}) if return_outputs else loss

    class DPOScorerTrainer(ACPOTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            n, logps, _, ref = self.policy_and_reference(model, inputs)
            loss = dpo_sigmoid(logps[:n], logps[n:2 * n], ref[:n], ref[n:2 * n], self.weights.beta).losses.mean()
            return (loss, {}) if return_outputs else loss

    return NaiveACPOTrainer, DPOScorerTrainer, LossWeights


class _StepTimer:
    """Seconds of each optimizer step (device synchronized at both ends), wall and this process's CPU time (all
    its threads: on a shared CPU the wall time also counts other processes' load), as a TrainerCallback."""

    def __new__(cls, device: str):
        from transformers import TrainerCallback

        class Timer(TrainerCallback):
            def __init__(self) -> None:
                self.times: list[float] = []
                self.cpu_times: list[float] = []
                self._start = self._cpu = 0.0

            def on_step_begin(self, args, state, control, **kwargs):
                realsize.synchronize(device)
                self._start, self._cpu = time.perf_counter(), time.process_time()

            def on_step_end(self, args, state, control, **kwargs):
                realsize.synchronize(device)
                self.times.append(time.perf_counter() - self._start)
                self.cpu_times.append(time.process_time() - self._cpu)

        return Timer()


def _training_arguments(cls, output_dir: str, device: str, n: int, total: int, **extra):
    return cls(output_dir=output_dir, max_steps=total, per_device_train_batch_size=n, learning_rate=1e-5,
               lr_scheduler_type="constant", max_grad_norm=1.0, logging_steps=10 ** 6, save_strategy="no",
               report_to=[], disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=0,
               bf16=device == "cuda", use_cpu=device != "cuda", seed=0, **extra)


def _worker(variant: str, size: str, n: int, steps: int, warmup: int, threads: int | None, layers: int | None,
            queue) -> None:
    realsize.set_threads(threads)
    try:
        queue.put(run_variant(variant, size, n, steps, warmup, layers))
    except Exception as error:  # the parent prints it in the table instead of hanging on the queue
        import traceback

        traceback.print_exc()
        queue.put({"variant": variant, "error": f"{type(error).__name__}: {error}"})


def run_variant(variant: str, size: str, n: int, steps: int, warmup: int, layers: int | None = None) -> dict:
    from transformers import TrainingArguments

    from acpo_bench.models.qwen_omni.features import DistinctMedia
    from acpo_bench.training.acpo import ACPOConfig, ACPOTrainer, build_policy
    from acpo_bench.training.scorer import AnswerScorer

    device, dtype = realsize.device_and_dtype(size, layers)
    pairs, media = make_pairs(size, n)
    thinker, processor, settings = realsize.build_model(size, layers=layers)
    videos_kwargs = settings.get("videos_kwargs")
    total = warmup + steps
    timer = _StepTimer(device)
    tmp = tempfile.mkdtemp(prefix=f"train-step-{variant}-")
    tokens = (processor.tokenizer.video_token_id, processor.tokenizer.audio_token_id)
    collator_class = _collator_class()
    result: dict = {"variant": variant}

    if variant == "trl_dpo":
        import datasets
        from peft import LoraConfig
        from trl import DPOConfig, DPOTrainer

        collator = collator_class(processor, ACPOConfig(sft_replay=0.0), videos_kwargs, media, pairs, "trl")
        collator([])  # featurize before the timed steps, as for the other variants
        args = _training_arguments(DPOConfig, tmp, device, n, total, beta=BETA, loss_type=["sigmoid"],
                                   activation_checkpointing=True,
                                   activation_checkpointing_kwargs={"use_reentrant": False},
                                   max_length=None, precompute_ref_log_probs=False)
        dataset = datasets.Dataset.from_list([{"item": i, "images": []} for i in range(n * total)])
        trainer = DPOTrainer(model=thinker, args=args, data_collator=collator, train_dataset=dataset,
                             processing_class=processor, callbacks=[timer],
                             peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                                    target_modules=LORA_TARGETS))
    else:
        reference = "precomputed" if variant == "acpo_precomputed_ref" else "adapter_disabled"
        config = ACPOConfig(lora=True, lora_r=16, lora_alpha=32, lora_targets=LORA_TARGETS,
                            gradient_checkpointing=True, reference=reference, sft_replay=0.0, beta=BETA,
                            batch_size=n, steps=total, bf16=device == "cuda")
        mode = {"acpo_naive": "plain", "dpo": "packed_dpo"}.get(variant, "packed")
        if variant == "acpo_precomputed_ref":  # reference log-probs from the base model, before LoRA (untimed)
            scorer = AnswerScorer(thinker, *tokens).eval()
            batch = collator_class(processor, ACPOConfig(sft_replay=0.0), videos_kwargs, media, pairs, "packed")([])
            with torch.no_grad():
                logps, _ = scorer(batch["input_ids"].to(device), batch["attention_mask"].to(device), None,
                                  DistinctMedia(**batch["media"]).to(device),
                                  {k: v.to(device) for k, v in batch["packing"].items()})
            for i, p in enumerate(pairs):
                p["ref_chosen"], p["ref_rejected"], p["ref_chosen_swapped"] = (
                    float(logps[i]), float(logps[n + i]), float(logps[2 * n + i]))
        collator = collator_class(processor, config, videos_kwargs, media, pairs, mode)
        collator([])  # featurize before the timed steps
        scorer = AnswerScorer(build_policy(thinker, config), *tokens)
        naive_cls, dpo_cls, _ = _trainer_classes()
        trainer_cls = {"acpo_naive": naive_cls, "dpo": dpo_cls}.get(variant, ACPOTrainer)
        args = _training_arguments(TrainingArguments, tmp, device, n, total,
                                   accelerator_config={"dispatch_batches": False})
        trainer = trainer_cls(model=scorer, args=args, train_dataset=_Forever(n, total), data_collator=collator,
                              callbacks=[timer], acpo=config, ref_towers_equal=True)

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    timed = timer.times[warmup:]
    result.update(ms_per_step=round(1000 * float(torch.tensor(timed).median()), 1),
                  ms_steps=[round(1000 * t, 1) for t in timer.times], steps=len(timed),
                  cpu_ms_per_step=round(1000 * float(torch.tensor(timer.cpu_times[warmup:]).median()), 1),
                  peak_memory_gb=round(realsize.peak_memory_gb(device), 3),
                  memory="cuda_max_allocated" if device == "cuda" else "max_rss")

    if variant == "acpo":  # the packed step's loss against the plain unbatched computation, same weights
        packed = trainer._prepare_inputs(collator([]))
        plain = trainer._prepare_inputs(collator_class(processor, config, videos_kwargs, media, pairs, "plain")([]))
        result.update(_loss_check(trainer, packed, plain, ""))
        if dtype != torch.float32:  # the same two computations in fp32: the yardstick for "equal within bf16 tolerance"
            trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False).float()  # drops bf16 autocast
            checked = _loss_check(trainer, packed, plain, "_fp32")
            truth = checked["loss_plain_fp32"]
            result.update(checked, loss_packed_vs_fp32=abs(result["loss_packed"] - truth),
                          loss_plain_vs_fp32=abs(result["loss_plain"] - truth))
    result["answer_tokens"] = [len(collator.encode(pairs[0]["prompt"], pairs[0][k])[2]) for k in ("chosen",
                                                                                                     "rejected")]
    first = collator.media(pairs[0]["video"], pairs[0]["video_id"], pairs[0]["audio"])[1]
    before, after, _ = collator.encode(pairs[0]["prompt"], pairs[0]["chosen"])
    result["prompt_tokens"] = len(before) + len(first.placeholder_ids) + len(after)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=realsize.SIZES, default="tiny")
    parser.add_argument("--pairs", type=int, default=None, help="pairs per step (default: 4 tiny, 1 otherwise)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 5 tiny, 3 otherwise)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed first steps")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--layers", type=int, default=None,
                        help="3b/7b: shrink the LM and towers to this many layers (a smoke test; runs on a CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads in every variant's process (use 1 on a CPU shared with other work)")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    realsize.set_threads(args.threads)
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; known: {VARIANTS}")
    device, dtype = realsize.device_and_dtype(args.size, args.layers)
    n = args.pairs or (4 if args.size == "tiny" else 1)
    steps = args.steps or (5 if args.size == "tiny" else 3)
    env = realsize.environment(device)
    context = mp.get_context("spawn")
    results: dict = {}
    for variant in variants:
        queue = context.Queue()
        proc = context.Process(target=_worker, args=(variant, args.size, n, steps, args.warmup, args.threads,
                                                     args.layers, queue))
        start = time.perf_counter()
        proc.start()
        results[variant] = _result(proc, queue, variant)
        proc.join()
        results[variant]["process_s"] = round(time.perf_counter() - start, 1)
        if proc.exitcode and "error" not in results[variant]:
            results[variant]["error"] = f"exit code {proc.exitcode}"
        out = {"size": args.size, "layers": args.layers, "device": env.get("gpu", env["cpu"]),
               "dtype": str(dtype).split(".")[-1], "pairs": n, "steps": steps, "warmup": args.warmup,
               "lora": {"r": 16, "alpha": 32, "targets": LORA_TARGETS}, "gradient_checkpointing": True, "env": env,
               "load_average_end": realsize.load_average(), "results": results,
               "ratios": ratios(results, "ms_per_step" if device == "cuda" else "cpu_ms_per_step")}
        if args.json:  # after every variant: a run cut short keeps what it measured
            Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print_table(out)
    if any("error" in r for r in results.values()):
        raise SystemExit(1)


def _result(proc, queue, variant: str) -> dict:
    """The variant's result, or an error when its process died without one (no hang on the queue)."""
    import queue as queues

    while True:
        try:
            return queue.get(timeout=5)
        except queues.Empty:
            if not proc.is_alive():
                return {"variant": variant, "error": f"process died (exit code {proc.exitcode})"}


def ratios(results: dict, key: str) -> dict:
    """Time and memory ratios between the variants; ``key``: the time they compare (on a CPU, the process's CPU
    time: it does not count what other processes take from a shared machine)."""
    ms = {k: r[key] for k, r in results.items() if key in r}
    mem = {k: r["peak_memory_gb"] for k, r in results.items() if "peak_memory_gb" in r}
    out = {}
    for name, base in (("trl_dpo", "vs_trl_dpo"), ("acpo_naive", "vs_acpo_naive"), ("dpo", "vs_dpo")):
        if name in ms:
            out[base] = {k: round(v / ms[name], 3) for k, v in ms.items()}
    if "trl_dpo" in mem:
        out["memory_vs_trl_dpo"] = {k: round(v / mem["trl_dpo"], 3) for k, v in mem.items()}
    return out


def print_table(out: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    results = out["results"]
    memory = "peak CUDA GB" if out["env"].get("gpu") else "peak RSS GB"
    basis = "wall" if out["env"].get("gpu") else "CPU"
    table = Table(title=f"train step · {out['size']} · {out['device']} · {out['dtype']} · {out['pairs']} pair(s), "
                        f"median of {out['steps']} steps · ratios of {basis} time", title_justify="left")
    for column in ("variant", "ms/step", "CPU ms/step", memory, "time vs TRL DPO", "time vs naive ACPO",
                   "memory vs TRL"):
        table.add_column(column, justify="right")
    r = out["ratios"]
    for variant, row in results.items():
        if "error" in row:
            table.add_row(variant, "error", "", row["error"][:60], "", "", "")
            continue
        table.add_row(variant, f"{row['ms_per_step']:.1f}", f"{row['cpu_ms_per_step']:.1f}",
                      f"{row['peak_memory_gb']:.2f}",
                      f"{r['vs_trl_dpo'][variant]:.2f}x" if "vs_trl_dpo" in r else "",
                      f"{r['vs_acpo_naive'][variant]:.2f}x" if "vs_acpo_naive" in r else "",
                      f"{r['memory_vs_trl_dpo'][variant]:.2f}x" if "memory_vs_trl_dpo" in r else "")
    console = Console()
    console.print(table)
    acpo = results.get("acpo", {})
    if "loss_packed" in acpo:
        console.print(f"acpo loss, packed {acpo['loss_packed']:.6g} vs plain unbatched {acpo['loss_plain']:.6g} "
                      f"(|Δ| {acpo['loss_abs_diff']:.2g}); answer log-probs max |Δ| {acpo['logp_max_abs_diff']:.2g} "
                      f"of |log p| up to {acpo['logp_scale']:.3g} · prompt {acpo['prompt_tokens']} tokens, answers "
                      f"{acpo['answer_tokens']} tokens")
    if "loss_packed_fp32" in acpo:
        console.print(f"in fp32: packed {acpo['loss_packed_fp32']:.6g} vs plain {acpo['loss_plain_fp32']:.6g} (|Δ| "
                      f"{acpo['loss_abs_diff_fp32']:.2g}, log-probs max |Δ| {acpo['logp_max_abs_diff_fp32']:.2g}); "
                      f"distance from the fp32 plain loss: packed {acpo['loss_packed_vs_fp32']:.2g}, plain "
                      f"{acpo['loss_plain_vs_fp32']:.2g} (the bf16 tolerance)")


if __name__ == "__main__":
    main()
