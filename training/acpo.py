"""The ACPO recipe: preference pairs -> a thinker trained on the dual-axis objective with transformers.Trainer.

    acpo-bench train --model qwen-omni-tiny --pairs runs/pairs --recipe training/recipes/acpo_tiny.yaml \\
        --output-dir runs/acpo-tiny [--objective output|input|both] [key=value ...]

Each step takes pairs (balanced over pair kinds), runs the three policy sequences y+|a, y-|a, y+|a' (plus the
sft_replay rows) as ONE batched forward whose clips are encoded once each, gets the reference log-probs (a frozen
copy, the LoRA policy with adapters disabled, or values precomputed into the pairs), and minimises
``losses.acpo_loss``. The Trainer subclass overrides only the public ``compute_loss`` and ``log``.
"""

from __future__ import annotations

import copy
import json
import os
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from transformers import Trainer

from acpo_bench.media import MediaSpec
from acpo_bench.media_store import MediaStore
from acpo_bench.models.qwen_omni.features import DistinctMedia, Featurizer, distinct_media, prompt_parts
from acpo_bench.models.qwen_omni.shared_prefix import RopeIndex, stack_positions
from acpo_bench.models.qwen_omni.tower_attention import use_varlen_tower_attention
from acpo_bench.schemas import AudioRecipe, stable_hash
from acpo_bench.tasks._probes import prompts
from acpo_bench.training.losses import OUTPUT_LOSSES, LossWeights, SequenceLogps, acpo_loss, nll
from acpo_bench.training.pairs import (
    CONTRAST_TRACKS,
    KINDS,
    contrast_kinds,
    draw_contrasts,
    listing,
    recipe_from_json,
    recipe_json,
    with_contrast,
)
from acpo_bench.training.scorer import AnswerScorer, pack_rows

OBJECTIVES = ("output", "input", "both")
# the precomputed reference's log-prob of y+ under each contrast track (precompute_reference writes them all)
REF_CONTRAST_COLUMNS = {"swap": "ref_chosen_swapped", "silence": "ref_chosen_silence", "noise": "ref_chosen_noise"}
OWN_AUDIO = recipe_json(AudioRecipe())
SILENCE = recipe_json(AudioRecipe("silence"))
REFERENCES = ("frozen", "adapter_disabled", "precomputed")


@dataclass
class ACPOConfig:
    """Every setting of an ACPO run (training/recipes/*.yaml bind to these fields; `acpo-bench validate` checks)."""

    objective: str = "both"  # output: L_out only; input: L_in only; both: L_out + λ_in·L_in
    beta: float = 0.5
    output_loss: str = "sigmoid"  # sigmoid | ipo | hinge
    lambda_in: float = 1.0
    reward_anchor: float = 0.0
    sft_chosen: float = 0.0
    sft_replay: float = 1.0
    replay_batch_size: int = 32
    # share of replay rows that are open questions (list the sounds, any sound?) answered from the clip's labels:
    # the preference terms only ever see yes/no answers, and without open rows the tuned model's free-form replies
    # run on into a "yes"/"no" token instead of ending
    replay_open_share: float = 0.0
    # share of the yes/no replay rows that ask what is visible (the rest ask what is heard): the preference terms
    # move the shared yes/no answer, and the visual questions have no other anchor
    replay_visual_share: float = 0.5
    # share of replay rows replayed under digital silence instead (list -> "nothing", any sound / sound of x -> "no"):
    # otherwise nothing in training shows the answer format when there is nothing to hear
    replay_silence_share: float = 0.0
    # share of replay rows asked with another clip's track swapped in ("Is there a sound of x?" answered from the
    # played track's labels, sources in view asked about with both answers): absolute targets for listening where
    # sight and sound disagree, which the relative preference terms alone do not give
    replay_swap_share: float = 0.0
    # share of the visual yes/no replay rows asked with a partner's track played instead of their own, the answer
    # unchanged (what is in view does not depend on the track): meant for a model that answers "can you see x?" from
    # the sound of x. On the real-media model with frozen towers it taught a "yes" to visual questions instead and
    # lost more of the visual control (docs/models.md), so no recipe sets it
    replay_visual_swap_share: float = 0.0
    kind_weights: dict[str, float] = field(default_factory=lambda: {"visible_silent": 0.5, "audible": 0.5})
    # the input-contrastive term's a': shares of another clip's track ("swap"), digital silence ("silence") and the
    # -40 dBFS noise floor ("noise"), drawn per pair among those pairs whose y+ a silent or noise track makes wrong
    # (a heard source's "yes", a listing of the clip's sounds); the others keep their swap partner. Swaps alone never
    # show the model a track with nothing in it, so they cannot teach it to stop reporting sounds under silence
    contrast_mix: dict[str, float] = field(default_factory=lambda: {"swap": 1.0})
    reference: str = "frozen"  # frozen | adapter_disabled | precomputed
    steps: int = 300
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    learning_rate: float = 2e-4
    lr_scheduler: str = "constant"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    # the audio and vision towers keep their pretrained weights, as the paper tunes the language model (and policy
    # and reference then share one encoding of each clip); the tiny recipe trains them: its 2-layer language model
    # alone cannot absorb the objective without losing its visual answers
    freeze_towers: bool = True
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: str = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"
    gradient_checkpointing: bool = False
    bf16: bool = False
    frames: int = 2
    save_steps: int = 0
    logging_steps: int = 10

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r}: use one of {OBJECTIVES}")
        if self.reference not in REFERENCES:
            raise ValueError(f"reference {self.reference!r}: use one of {REFERENCES}")
        if self.output_loss not in OUTPUT_LOSSES:
            raise ValueError(f"output_loss {self.output_loss!r}: use one of {sorted(OUTPUT_LOSSES)}")
        unknown = set(self.kind_weights) - set(KINDS)
        if unknown or not any(v > 0 for v in self.kind_weights.values()):
            raise ValueError(f"kind_weights: known kinds are {KINDS}, with at least one weight > 0")
        for name in ("replay_open_share", "replay_visual_share", "replay_silence_share", "replay_swap_share",
                     "replay_visual_swap_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} {getattr(self, name)}: a share between 0 and 1")
        unknown = set(self.contrast_mix) - set(CONTRAST_TRACKS)
        if unknown or any(v < 0 for v in self.contrast_mix.values()) or not any(self.contrast_mix.values()):
            raise ValueError(f"contrast_mix {self.contrast_mix}: shares >= 0 of {tuple(CONTRAST_TRACKS)}, at least "
                             "one > 0 (swap:1 is the swap-only objective)")
        if self.reference == "adapter_disabled" and not self.lora:
            raise ValueError("reference=adapter_disabled needs lora: true (a full fine-tune has no adapter to disable)")

    def loss_weights(self) -> LossWeights:
        return LossWeights(beta=self.beta, output_loss=self.output_loss,
                           output_weight=0.0 if self.objective == "input" else 1.0,
                           lambda_in=0.0 if self.objective == "output" else self.lambda_in,
                           reward_anchor=self.reward_anchor, sft_chosen=self.sft_chosen, sft_replay=self.sft_replay)


class PairSampler(torch.utils.data.IterableDataset):
    """steps x batch pair indices drawn by kind weight (kinds are very unequal in size), fixed by the seed.

    Iterable, so the Trainer does not reshuffle it: the first N batches are the same whatever the run's length,
    which is what makes a resumed run continue exactly where the interrupted one stopped."""

    def __init__(self, pairs, config: ACPOConfig) -> None:
        self.pairs = pairs
        by_kind = defaultdict(list)
        for index, kind in enumerate(pairs["kind"]):
            by_kind[kind].append(index)
        kinds = [k for k, w in config.kind_weights.items() if w > 0 and by_kind.get(k)]
        if not kinds:
            raise ValueError(f"the pairs hold none of the kinds weighted in kind_weights {config.kind_weights}; "
                             f"they hold { {k: len(v) for k, v in by_kind.items()} }")
        rng = random.Random(config.seed)
        weights = [config.kind_weights[k] for k in kinds]
        total = config.steps * config.batch_size * config.gradient_accumulation_steps
        self.indices = [rng.choice(by_kind[rng.choices(kinds, weights)[0]]) for _ in range(total)]
        columns = pairs.select_columns(["kind", "audible", "audio"])
        choosable = [len(contrast_kinds(row["kind"], row["audible"], row["audio"])) > 1 for row in columns]
        self.contrasts = draw_contrasts(choosable, self.indices, config.contrast_mix, config.seed)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self):
        for index, contrast in zip(self.indices, self.contrasts, strict=True):
            yield {**with_contrast(self.pairs[index], contrast), "contrast": contrast}


class PairCollator:
    """Pairs -> one batch of rows [y+|a ... | y-|a ... | y+|a' ... | replay ...] with their answers and media, rows
    that share a prompt and media packed into one sequence (``training.scorer.pack_rows``)."""

    def __init__(self, processor, config: ACPOConfig, replay_clips: list[dict], seed: int,
                 videos_kwargs: dict | None = None, rope: RopeIndex | None = None) -> None:
        self.processor = processor
        self.rope = rope  # with it, each packed sequence's rope positions come from the clip's cached prefix
        self.tokenizer = processor.tokenizer
        self.config = config
        self.store = MediaStore(MediaSpec(frames=config.frames), max_items=512)
        self.featurizer = Featurizer(processor, videos_kwargs, max_items=4096)
        self.replay_clips = replay_clips
        self.replay_classes = sorted({c for clip in replay_clips for c in (*clip["visible"], *clip["audible"])})
        self.replay_by_id = {clip["video_id"]: clip for clip in replay_clips}
        swaps = config.replay_swap_share or config.replay_visual_swap_share
        self.replay_partner = _replay_partners(replay_clips, seed) if swaps else {}
        self.seed = seed
        self._encoded: dict[tuple[str, str], tuple] = {}

    def encode(self, prompt: str, answer: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        key = (prompt, answer)
        if key not in self._encoded:
            user = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]
            asked = self.processor.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
            full = self.processor.apply_chat_template(
                [*user, {"role": "assistant", "content": [{"type": "text", "text": answer}]}], tokenize=False)
            parts = prompt_parts(self.processor, asked)
            self._encoded[key] = (parts.before, parts.after,
                                  tuple(self.tokenizer.encode(full[len(asked):], add_special_tokens=False)))
        return self._encoded[key]

    def media(self, video: str, video_id: str, audio_json: str):
        recipe = recipe_from_json(audio_json)
        key = (video_id, recipe.key())
        # decoded only when the featurizer has not seen this (clip, audio) yet: most rows repeat earlier media
        return key, self.featurizer.get(key, lambda: self.store.load(video, video_id, recipe))

    def replay_rows(self, pairs: list[dict]) -> list[tuple]:
        """Questions about congruent clips answered from their labels (the sft_replay stream): a
        ``replay_open_share`` of open ones (list the sounds / is there any sound), the rest yes/no, a
        ``replay_visual_share`` of those about what is visible and the others about what is heard, the asked
        source present half the time; then a ``replay_visual_swap_share`` of the visual ones asked with a partner's
        track played, a ``replay_swap_share`` of all rows recast as "sound of x?" under a partner's track, and a
        ``replay_silence_share`` under digital silence.

        Drawn from a generator seeded by the batch's pair ids, so a resumed run replays exactly the same rows."""
        rng = random.Random(stable_hash(self.seed, [p["pair_id"] for p in pairs]))
        rows, visual_rows = [], set()
        templates = prompts()
        classes = self.replay_classes
        for _ in range(self.config.replay_batch_size):
            clip = rng.choice(self.replay_clips)
            if self.config.replay_open_share and rng.random() < self.config.replay_open_share:
                question = "list_sounds" if rng.random() < 0.75 else "any_sound"
                answer = listing(clip["audible"]) if question == "list_sounds" else "yes" if clip["audible"] else "no"
                rows.append((rng.choice(templates[question]), answer, clip["video"], clip["video_id"], OWN_AUDIO))
                continue
            visual = rng.random() < self.config.replay_visual_share
            question, truth = ("visible", clip["visible"]) if visual else ("sound_of", clip["audible"])
            absent = [c for c in classes if c not in truth]
            present = bool(truth) and (rng.random() < 0.5 or not absent)
            if not present and not absent:
                continue
            target = rng.choice(truth) if present else rng.choice(absent)
            prompt = rng.choice(templates[question]).format(x=target)
            if visual:
                visual_rows.add(len(rows))
            rows.append((prompt, "yes" if present else "no", clip["video"], clip["video_id"], OWN_AUDIO))
        if self.config.replay_visual_swap_share:
            rows = self._recast(rows, pairs, 13, self.config.replay_visual_swap_share, self._partner_track_row,
                                among=visual_rows)
        if self.config.replay_swap_share:
            rows = self._recast(rows, pairs, 11, self.config.replay_swap_share, self._swapped_row)
        if self.config.replay_silence_share:
            rows = self._recast(rows, pairs, 7, self.config.replay_silence_share, self._silenced_row)
        return rows

    def _recast(self, rows: list[tuple], pairs: list[dict], stream: int, share: float, recast,
                among: set[int] | None = None) -> list[tuple]:
        """``share`` of the rows (of those whose index is in ``among``, if given) replaced by ``recast(row, rng)``, a
        question about the same video under other audio.

        Each recast draws from a generator of its own (seed + ``stream``), so that turning one on leaves the draws of
        the plain rows, and of the other recast, as they were."""
        rng = random.Random(stable_hash(self.seed + stream, [p["pair_id"] for p in pairs]))
        return [recast(row, rng) if rng.random() < share and (among is None or i in among) else row
                for i, row in enumerate(rows)]

    def _swapped_row(self, row: tuple, rng: random.Random) -> tuple:
        """A sound_of question ("Is there a sound of x?") about the row's video with its partner's track played,
        answered from that track's labels."""
        video_id = row[3]
        clip, partner = self.replay_by_id[video_id], self.replay_partner[video_id]
        heard = partner["audible"]
        # in-view sources asked about as often with "yes" as with "no", so that "in view" predicts nothing
        heard_in_view = [c for c in heard if c in clip["visible"]]
        unheard_in_view = [c for c in clip["visible"] if c not in heard]
        if heard and rng.random() < 0.5:
            answer = "yes"
            target = rng.choice(heard_in_view if heard_in_view and rng.random() < 0.5 else heard)
        else:
            answer = "no"
            if unheard_in_view and rng.random() < 0.5:
                target = rng.choice(unheard_in_view)
            else:
                target = rng.choice([c for c in self.replay_classes if c not in heard])
        prompt = rng.choice(prompts()["sound_of"]).format(x=target)
        return prompt, answer, row[2], video_id, self._partner_track(video_id)

    def _partner_track_row(self, row: tuple, rng: random.Random) -> tuple:
        """The row's question and answer about its video with the video's replay partner's track played."""
        return (*row[:4], self._partner_track(row[3]))

    def _partner_track(self, video_id: str) -> str:
        partner = self.replay_partner[video_id]
        return recipe_json(AudioRecipe("swap", source=partner["video"], source_id=partner["video_id"]))

    def _silenced_row(self, row: tuple, rng: random.Random) -> tuple:
        """A question about the row's video under digital silence: list -> "nothing", any sound / sound of x -> "no"."""
        question = rng.choice(["list_sounds", "any_sound", "sound_of"])
        prompt = rng.choice(prompts()[question]).format(x=rng.choice(self.replay_classes))
        return prompt, listing(()) if question == "list_sounds" else "no", row[2], row[3], SILENCE

    def plain_positions(self, packing: dict, firsts: list[int], keys: list, media: list, cuts: list[int]
                        ) -> torch.Tensor:
        """(3, sequences, width) rope positions of each packed sequence read as one plain row (the scorer shifts
        its answers back), from RopeIndex: the model's own walk over ~200 rows cost a sixth of a CPU step."""
        ids, real = packing["input_ids"], packing["attention_mask"].sum(-1).tolist()
        rows = [(ids[p, :real[p]].tolist(), cuts[first], media[first], keys[first]) for p, first in enumerate(firsts)]
        return stack_positions([self.rope.row(key, row[:cut], inputs, row[cut + len(inputs.placeholder_ids):])
                                for row, cut, inputs, key in rows], "right")

    def __call__(self, pairs: list[dict]) -> dict:
        rows = [(p["prompt"], p["chosen"], p["video"], p["video_id"], p["audio"]) for p in pairs]
        rows += [(p["prompt"], p["rejected"], p["video"], p["video_id"], p["audio"]) for p in pairs]
        rows += [(p["prompt"], p["chosen"], p["video"], p["video_id"], p["contrast_audio"]) for p in pairs]
        if self.config.sft_replay:
            rows += self.replay_rows(pairs)
        prompts, answers, keys, media, cuts = [], [], [], [], []
        for prompt, answer, video, video_id, audio in rows:
            before, after, answer_ids = self.encode(prompt, answer)
            key, inputs = self.media(video, video_id, audio)
            prompts.append((*before, *inputs.placeholder_ids, *after))
            cuts.append(len(before))
            answers.append(answer_ids)
            keys.append(key)
            media.append(inputs)
        # y+|a and y-|a share clip, audio and prompt: one packed sequence holds both answers
        packing, firsts = pack_rows(prompts, answers, keys, self.tokenizer.pad_token_id)
        if self.rope is not None:
            packing["plain_positions"] = self.plain_positions(packing, firsts, keys, media, cuts)
        distinct = distinct_media([keys[i] for i in firsts], [media[i] for i in firsts], self.tokenizer.audio_token_id)
        out = {"input_ids": packing.pop("input_ids"), "attention_mask": packing.pop("attention_mask"),
               "packing": packing,
               "media": distinct.float32_fields(),
               "n_pairs": torch.tensor(len(pairs)), "contrasts": [p.get("contrast", "swap") for p in pairs]}
        if self.config.reference == "precomputed":
            out["ref_logps"] = torch.tensor([[p["ref_chosen"], p["ref_rejected"],
                                              p[REF_CONTRAST_COLUMNS[p.get("contrast", "swap")]]]
                                             for p in pairs], dtype=torch.float32)
        return out


class ACPOTrainer(Trainer):
    """transformers.Trainer with the ACPO loss; overrides only the public compute_loss and log."""

    def __init__(self, *args, acpo: ACPOConfig, ref_scorer: AnswerScorer | None = None,
                 ref_towers_equal: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.acpo = acpo
        self.weights = acpo.loss_weights()
        self.ref_scorer = ref_scorer
        self.ref_towers_equal = ref_towers_equal  # the frozen reference is a copy of the policy before training
        self._terms: dict[str, list[float]] = defaultdict(list)
        self._per_contrast: dict[str, list[float]] = defaultdict(list)  # per-pair values, by contrast track

    def reference_logps(self, model, inputs: dict, media: DistinctMedia, encoded=None) -> torch.Tensor:
        if "ref_logps" in inputs:
            return None
        args = (inputs["input_ids"], inputs["attention_mask"], None, media, inputs["packing"], encoded)
        with torch.no_grad():
            if self.acpo.reference == "adapter_disabled":
                scorer = self.accelerator.unwrap_model(model)
                with scorer.thinker.disable_adapter():
                    return scorer(*args)[0]
            return self.ref_scorer(*args)[0]

    def reference_shares_towers(self) -> bool:
        """The reference's towers are the policy's weights: adapters disabled, or a frozen copy made before training
        whose towers, like the policy's, never train."""
        return self.acpo.reference == "adapter_disabled" or (self.acpo.reference == "frozen" and self.ref_towers_equal)

    def policy_and_reference(self, model, inputs: dict) -> tuple[int, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(pairs in the batch, policy answer log-probs per row, answer token counts, reference log-probs or None
        when they were precomputed). Frozen towers (LoRA on the language model) encode the batch's media once,
        without gradient, and their outputs serve the reference too where its towers are the same weights."""
        media = DistinctMedia(**inputs["media"])
        scorer = self.accelerator.unwrap_model(model)
        encoded = scorer.encode(media) if scorer.towers_frozen() else None
        logps, counts = model(inputs["input_ids"], inputs["attention_mask"], None, media, inputs["packing"], encoded)
        shared = encoded if self.reference_shares_towers() else None
        return int(inputs["n_pairs"]), logps, counts, self.reference_logps(model, inputs, media, shared)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        n, logps, counts, ref = self.policy_and_reference(model, inputs)
        if ref is None:
            ref_chosen, ref_rejected, ref_swapped = inputs["ref_logps"].T
        else:
            ref_chosen, ref_rejected, ref_swapped = ref[:n], ref[n:2 * n], ref[2 * n:3 * n]
        sequences = SequenceLogps(chosen=logps[:n], rejected=logps[n:2 * n], chosen_swapped=logps[2 * n:3 * n],
                                  ref_chosen=ref_chosen, ref_rejected=ref_rejected, ref_chosen_swapped=ref_swapped,
                                  chosen_tokens=counts[:n])
        replay = nll(logps[3 * n:], counts[3 * n:]) if logps.shape[0] > 3 * n else None
        # the breakdown by contrast track only when some pairs may play silence or noise (else all are swaps)
        mixed = any(share > 0 for kind, share in self.acpo.contrast_mix.items() if kind != "swap")
        result = acpo_loss(sequences, self.weights, replay, inputs.get("contrasts") if mixed else None)
        for name, value in result.terms.items():
            self._terms[name].append(float(value))
        for contrast, values in result.per_contrast.items():
            for name, per_pair in values.items():
                self._per_contrast[f"{name}_{contrast}"] += per_pair.tolist()
        return (result.loss, {"terms": result.terms}) if return_outputs else result.loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        """Add each ACPO term and reward margin, averaged since the last log."""
        if self._terms and "loss" in logs:
            logs = {**logs, **{k: round(sum(v) / len(v), 5) for k, v in self._terms.items()},
                    **{k: round(sum(v) / len(v), 5) for k, v in sorted(self._per_contrast.items())}}
            self._terms.clear()
            self._per_contrast.clear()
        super().log(logs, *args, **kwargs)


def build_policy(thinker, config: ACPOConfig):
    """The model that trains: LoRA adapters on the language model's attention, or the whole thinker (its audio
    and vision towers frozen unless ``freeze_towers`` is off)."""
    if config.freeze_towers:
        thinker.model.visual.requires_grad_(False)
        thinker.model.audio_tower.requires_grad_(False)
    if config.lora:
        from peft import LoraConfig, get_peft_model

        thinker = get_peft_model(thinker, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                                     lora_dropout=config.lora_dropout,
                                                     target_modules=config.lora_targets))
    if config.gradient_checkpointing:
        thinker.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        if config.lora:
            thinker.enable_input_require_grads()
    return thinker


def load_thinker(checkpoint: str | Path):
    """(processor, thinker in fp32) of a checkpoint, the towers on the varlen tower attention as the adapter loads
    them: what training and the precomputed reference start from."""
    from transformers import Qwen2_5OmniProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    processor = Qwen2_5OmniProcessor.from_pretrained(str(checkpoint))
    thinker = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(str(checkpoint), dtype=torch.float32)
    use_varlen_tower_attention(thinker)
    return processor, thinker


def train(checkpoint: str | Path, pairs_dir: str | Path, output_dir: str | Path, config: ACPOConfig,
          resume: bool = False, show_progress: bool = True) -> Path:
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_callback import PrinterCallback

    from acpo_bench.models.qwen_omni.adapter import checkpoint_settings
    from acpo_bench.training.pairs import load_pairs
    from acpo_bench.training.progress import RichProgress

    set_seed(config.seed)
    pairs = load_pairs(pairs_dir)
    if config.reference == "precomputed" and "ref_chosen" not in pairs.column_names:
        raise ValueError(f"{pairs_dir}: reference=precomputed needs reference log-probs in the pairs; build them "
                         "with `acpo-bench pairs build ... --precompute-reference MODEL`")
    if config.reference == "precomputed":
        missing = [REF_CONTRAST_COLUMNS[k] for k, v in config.contrast_mix.items()
                   if v > 0 and REF_CONTRAST_COLUMNS[k] not in pairs.column_names]
        if missing:
            raise ValueError(f"{pairs_dir}: contrast_mix {config.contrast_mix} plays tracks whose reference "
                             f"log-probs the pairs lack ({', '.join(missing)}); precompute them again with "
                             "`acpo-bench pairs build ... --precompute-reference MODEL`")
    processor, thinker = load_thinker(checkpoint)
    tokens = (processor.tokenizer.video_token_id, processor.tokenizer.audio_token_id)
    ref_scorer = None
    if config.reference == "frozen":
        ref_scorer = AnswerScorer(copy.deepcopy(thinker), *tokens).eval().requires_grad_(False)
    scorer = AnswerScorer(build_policy(thinker, config), *tokens)
    replay_clips = _replay_clips(pairs)
    output_dir = Path(output_dir)
    args = TrainingArguments(
        output_dir=str(output_dir), max_steps=config.steps, per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler, warmup_steps=config.warmup_steps, weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm, logging_steps=config.logging_steps, seed=config.seed,
        save_strategy="steps" if config.save_steps else "no", save_steps=config.save_steps or 500,
        report_to=[], disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=0,
        # every process walks the same pair stream and takes its shard (batches hold non-tensor fields)
        accelerator_config={"dispatch_batches": False},
        bf16=config.bf16, use_cpu=not torch.cuda.is_available(),
        # under torchrun on CPU the processes talk over gloo
        ddp_backend="gloo" if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
    )
    trainer = ACPOTrainer(model=scorer, args=args, train_dataset=PairSampler(pairs, config),
                          data_collator=PairCollator(processor, config, replay_clips, config.seed,
                                                     checkpoint_settings(Path(checkpoint)).get("videos_kwargs"),
                                                     RopeIndex(thinker.model)),
                          callbacks=[RichProgress("ACPO", show_progress)], acpo=config, ref_scorer=ref_scorer,
                          ref_towers_equal=True)
    trainer.remove_callback(PrinterCallback)
    if ref_scorer is not None:
        ref_scorer.to(trainer.args.device)
    trainer.train(resume_from_checkpoint=_last_checkpoint(output_dir) if resume else None)
    write_digest(scorer, output_dir, trainer.args.process_index)
    if trainer.is_world_process_zero():
        export(scorer.thinker, processor, Path(checkpoint), output_dir, config, trainer.state.log_history)
    _leave_process_group()
    return output_dir


def _leave_process_group() -> None:
    """Under torchrun, every rank waits for rank 0's export and then leaves the process group that the Trainer
    opened. A gloo group left to interpreter exit can abort a rank that finished first ("terminate called without an
    active exception"), which failed a finished run under load."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def write_digest(module: torch.nn.Module, output_dir: Path, rank: int) -> str:
    """sha256 of this process's trained weights, one file per rank: under DDP every rank must hold the same."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
    (output_dir / "digests").mkdir(parents=True, exist_ok=True)
    (output_dir / "digests" / f"rank{rank}.sha256").write_text(digest.hexdigest() + "\n")
    return digest.hexdigest()


def _replay_partners(clips: list[dict], seed: int) -> dict[str, dict]:
    """One fixed partner track per clip (swapped replay media then repeat, and their features are cached): where
    one exists, a clip that is heard playing some but not all of the sources in view, so that swapped questions
    about sources in view have both answers."""
    rng = random.Random(stable_hash(seed, "replay partners"))
    partners = {}
    for clip in clips:
        visible = set(clip["visible"])
        others = [c for c in clips if c["video_id"] != clip["video_id"]] or [clip]
        mixed = [c for c in others if visible & set(c["audible"]) and visible - set(c["audible"])]
        pool = mixed or others
        partners[clip["video_id"]] = pool[rng.randrange(len(pool))]
    return partners


def _replay_clips(pairs) -> list[dict]:
    seen = {}
    for row in pairs.select_columns(["video", "video_id", "visible", "audible"]):
        seen.setdefault(row["video_id"], row)
    return list(seen.values())


def _last_checkpoint(output_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None


POLICY_DIR = "policy"


def export(thinker, processor, base: Path, output_dir: Path, config: ACPOConfig, history: list[dict]) -> None:
    """The trained policy in ``output_dir/policy``: a LoRA adapter directory (evaluate with --adapter) or, after a
    full fine-tune, a checkpoint with the base's processor and evaluation settings; plus the recipe and log."""
    import shutil

    from acpo_bench.models.qwen_omni.adapter import SETTINGS_FILE

    policy = output_dir / POLICY_DIR
    thinker.save_pretrained(policy)
    if not config.lora:
        processor.save_pretrained(policy)
        if (base / SETTINGS_FILE).exists():
            shutil.copy(base / SETTINGS_FILE, policy / SETTINGS_FILE)
    (output_dir / "acpo.json").write_text(json.dumps({"base": str(base), "config": asdict(config),
                                                      "log_history": history}, indent=1) + "\n")


def merge_lora(base: Path, adapter_dir: Path, output_dir: Path) -> Path:
    """Fold a LoRA adapter into its base thinker and save a standalone checkpoint (for serving, e.g. vLLM)."""
    import shutil

    from peft import PeftModel
    from transformers import Qwen2_5OmniProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    from acpo_bench.models.qwen_omni.adapter import SETTINGS_FILE

    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(str(base))
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(output_dir)
    Qwen2_5OmniProcessor.from_pretrained(str(base)).save_pretrained(output_dir)
    if (base / SETTINGS_FILE).exists():
        shutil.copy(base / SETTINGS_FILE, output_dir / SETTINGS_FILE)
    return output_dir


def precompute_reference(checkpoint: str | Path, pairs_dir: str | Path, frames: int = 2, batch_pairs: int = 32,
                         show_progress: bool = True) -> Path:
    """Score every pair once with the reference model and store ref_chosen / ref_rejected and y+'s log-prob under
    each contrast track (ref_chosen_swapped / _silence / _noise) in the pair dataset, so training with
    ``reference: precomputed`` runs no reference forward at all, whatever its contrast_mix."""
    import shutil

    import datasets
    from rich.progress import track

    from acpo_bench.models.qwen_omni.adapter import checkpoint_settings
    from acpo_bench.training.pairs import PAIRS_DIR, load_pairs

    pairs = load_pairs(pairs_dir)
    processor, thinker = load_thinker(checkpoint)
    scorer = AnswerScorer(thinker, processor.tokenizer.video_token_id, processor.tokenizer.audio_token_id).eval()
    config = ACPOConfig(frames=frames, sft_replay=0.0)
    collator = PairCollator(processor, config, [], 0, checkpoint_settings(Path(checkpoint)).get("videos_kwargs"))
    columns: dict[str, list[float]] = {"ref_chosen": [], "ref_rejected": [],
                                       **{name: [] for name in REF_CONTRAST_COLUMNS.values()}}
    starts = range(0, len(pairs), batch_pairs)
    for start in track(starts, description="reference log-probs", disable=not show_progress):
        rows = [pairs[i] for i in range(start, min(start + batch_pairs, len(pairs)))]
        n = len(rows)
        for contrast, column in REF_CONTRAST_COLUMNS.items():
            # y+|a and y-|a once, with the swap; then y+ under each other contrast track (every pair: which ones
            # training plays is the recipe's contrast_mix, not known here)
            batch = collator([with_contrast(row, contrast) for row in rows])
            with torch.no_grad():
                logps, _ = scorer(batch["input_ids"], batch["attention_mask"], None,
                                  DistinctMedia(**batch["media"]), batch["packing"])
            if contrast == "swap":
                columns["ref_chosen"] += logps[:n].tolist()
                columns["ref_rejected"] += logps[n:2 * n].tolist()
            columns[column] += logps[2 * n:3 * n].tolist()
    for name, values in columns.items():
        if name in pairs.column_names:
            pairs = pairs.remove_columns(name)
        pairs = pairs.add_column(name, values)
    staging = Path(pairs_dir) / f".{PAIRS_DIR}.new"
    shutil.rmtree(staging, ignore_errors=True)
    datasets.disable_progress_bars()
    pairs.save_to_disk(str(staging))
    del pairs
    shutil.rmtree(Path(pairs_dir) / PAIRS_DIR)
    staging.rename(Path(pairs_dir) / PAIRS_DIR)
    meta_path = Path(pairs_dir) / "pairs.json"
    meta = json.loads(meta_path.read_text())
    meta["reference"] = {"checkpoint": str(checkpoint), "frames": frames}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return Path(pairs_dir)
