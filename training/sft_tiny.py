"""The embedded models' recipe: train a tiny Qwen2.5-Omni thinker from scratch on a generated world (SFT).

    acpo-bench zoo build tiny [--recipe training/recipes/tiny_sft.yaml] [key=value ...]
    acpo-bench zoo build tiny-stamps           (training/recipes/tiny_stamps_sft.yaml: the real-media world)

Top to bottom: generate (or reuse) a training world with its own seed, build a tokenizer over the world's words,
featurize every clip once through the checkpoint's processor (its audio window as long as the world's clips),
optionally warm the towers up (tower_alignment.py; the real-media recipe does) and hold them frozen for the first
``frozen_tower_steps`` SFT steps (their outputs computed once per clip), sample questions (yes/no about sounds and
about what is visible, open "what do you hear", captions), train with transformers.Trainer on the answers'
token-mean NLL (the thinker's own causal-LM loss, computed by AnswerScorer at answer positions only, rope positions
from each clip's cached prefix), save with save_pretrained. The questions are asked under each clip's own audio
only: nothing tells the model that a visible source may be silent except the ~10% of clips where it is, which is
how a model comes to trust the video.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import Trainer

from acpo_bench import worldgen, worlds
from acpo_bench.clips import ClipSet
from acpo_bench.media import MediaSpec
from acpo_bench.media_store import MediaStore
from acpo_bench.models.qwen_omni.features import (
    DistinctMedia,
    Featurizer,
    MediaInputs,
    distinct_media,
    encode_media,
    pad_sequences,
    prompt_parts,
)
from acpo_bench.models.qwen_omni.shared_prefix import RopeIndex, stack_positions
from acpo_bench.models.qwen_omni.tiny import build_config, build_processor, build_tokenizer, frame_size
from acpo_bench.models.qwen_omni.tower_attention import use_varlen_tower_attention
from acpo_bench.schemas import AudioRecipe, Clip
from acpo_bench.synth.sources import SOURCES
from acpo_bench.tasks._probes import prompts
from acpo_bench.worlds import check_world


def video_kwargs(frame_side: int = 112) -> dict:
    """The checkpoint's video settings (acpo_bench.json's videos_kwargs): frames kept at ``frame_side`` square."""
    return {"size": frame_size(frame_side)}


VIDEO_KWARGS = video_kwargs()  # the glyph model's 112x112


@dataclass
class TinySFTConfig:
    """Settings of the tiny model's SFT (see training/recipes/tiny_sft.yaml)."""

    output_dir: str = "models/zoo/qwen-omni-tiny"
    world: str = "synth"  # the training world (synth: glyphs and tones; stamps: real drawings and recordings)
    train_clips: int = 4000
    world_seed: int = 1000  # the default evaluation world uses seed 0: training never sees its clips
    av_correlation: float = 0.95  # the shortcut: a visible source is heard 95% of the time
    hidden: int = 128
    layers: int = 2
    # the vision tower's width (the audio tower's stays 32). At 64 a tower warmed up alone recalled 0.82 of held-out
    # drawings against 0.77 at 32, but the real-media build with it came out worse and slower (docs/models.md), so
    # every shipped recipe keeps 32
    vision_width: int = 32
    frames: int = 2
    frame_side: int = 112  # frames seen at this many pixels square (a multiple of 28; the real-media clips are 224)
    steps: int = 7200
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    seed: int = 0
    yes_no_share: float = 0.75  # the rest: open lists, "any sound?", captions
    logging_steps: int = 100
    align_steps: int = 0  # tower warm-up before SFT (training/tower_alignment.py); 0: none, as for the glyph model
    align_learning_rate: float = 2e-3
    # the first SFT steps train the language model only, on tower outputs computed once per clip after the warm-up
    # (a step costs about half: docs/benchmarks.md); the towers train from then on. 0: they train throughout
    frozen_tower_steps: int = 0
    questions_per_clip: int = 1  # questions in a row about one clip: its media are encoded once for all of them
    check_questions: int = 128  # yes/no questions asked at each logging step (training/yes_no_check.py); 0: none

    def __post_init__(self) -> None:
        if (self.train_clips < 16 or self.steps < 1 or self.batch_size < 1 or self.align_steps < 0
                or self.vision_width < 2):
            raise ValueError("train_clips >= 16, steps >= 1, batch_size >= 1, align_steps >= 0 and vision_width >= 2 "
                             "are required")
        if not 1 <= self.questions_per_clip <= self.batch_size:
            raise ValueError("questions_per_clip must lie in [1, batch_size]")
        if self.check_questions < 0 or self.check_questions == 1:
            raise ValueError("check_questions must be 0 (no check) or at least 2 (half about sounds, half visible)")
        if self.frozen_tower_steps < 0 or (self.frozen_tower_steps and not self.align_steps):
            raise ValueError("frozen_tower_steps must be >= 0, and > 0 only with align_steps > 0: towers frozen "
                             "before any training carry nothing the language model could learn from")
        if not 0 < self.yes_no_share < 1:
            raise ValueError("yes_no_share must lie in (0, 1)")
        check_world(self.world, "world")
        frame_size(self.frame_side)


@dataclass(frozen=True)
class Example:
    clip: int
    prompt: str
    answer: str


def listing(labels: Sequence[str]) -> str:
    return " and ".join(labels) if labels else "nothing"


def yes_no_question(rng: random.Random, index: int, clip: Clip, classes: Sequence[str], kind: str) -> Example:
    """A yes/no question of ``kind`` ("sound_of" or "visible") about clip ``index``: "yes" half the time (about one
    of its sources, where it has any), else "no" (about a class it does not hold)."""
    truth = clip.audible if kind == "sound_of" else clip.visible
    present = rng.random() < 0.5 and truth
    target = rng.choice(truth) if present else rng.choice([c for c in classes if c not in truth])
    return Example(index, rng.choice(prompts()[kind]).format(x=target), "yes" if present else "no")


def sample_examples(clips: ClipSet, count: int, config: TinySFTConfig) -> list[Example]:
    """``count`` training questions about random clips, ``config.questions_per_clip`` in a row about each; balanced
    yes/no within each question kind."""
    rng = random.Random(config.seed)
    classes = list(clips.lexicon.classes)
    templates = prompts()
    out = []
    for n in range(count):
        if n % config.questions_per_clip == 0:
            index = rng.randrange(len(clips.clips))
        clip = clips.clips[index]
        if rng.random() < config.yes_no_share:
            out.append(yes_no_question(rng, index, clip, classes, "sound_of" if rng.random() < 0.5 else "visible"))
            continue
        question = rng.choices(["list_sounds", "any_sound", "describe_audio", "describe_visual"],
                               weights=[0.4, 0.2, 0.2, 0.2])[0]
        answer = {"list_sounds": listing(clip.audible), "any_sound": "yes" if clip.audible else "no",
                  "describe_audio": clip.audio_caption, "describe_visual": clip.visual_caption}[question]
        out.append(Example(index, rng.choice(templates[question]), answer))
    return out


def audio_seconds(clips: ClipSet) -> int:
    """The processor's audio window for a training world: its clips' whole length in whole seconds, at least the
    2 s the glyph model was built with. A shorter window would cut every clip of the 4 s real-media world at 2 s,
    so a source sounding later would be labelled audible yet never reach the model."""
    seconds = worldgen.clip_seconds(clips.root)
    return max(2, math.ceil(seconds)) if seconds else 2


def vocabulary_texts(clips: ClipSet) -> list[str]:
    texts = [t.format(x=c) for ts in prompts().values() for t in ts for c in clips.lexicon.classes]
    texts += [" ".join(forms) for forms in clips.lexicon.synonyms.values()]
    texts += [p for s in SOURCES for p in s.audio_phrases]  # the synthetic phrases (kept: the tokenizer's words)
    texts += [c.audio_caption or "" for c in clips.clips] + [c.visual_caption or "" for c in clips.clips]
    texts += ["yes no nothing and I hear a sound", "Yes No"]
    return texts


class SFTData(torch.utils.data.IterableDataset):
    """Examples as token ids: [template before video] [media placeholder] [template after] [answer <|im_end|>],
    with the clip's index (the collator encodes each distinct clip of a batch once). Iterable, in the order
    sampled (already random), so the Trainer does not reshuffle the questions asked in a row about one clip."""

    def __init__(self, examples: Sequence[Example], media: Sequence[MediaInputs], processor) -> None:
        self.examples, self.media, self.processor = examples, media, processor
        self._parts: dict[str, tuple] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def _encode(self, prompt: str, answer: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        key = f"{prompt}\x00{answer}"
        if key not in self._parts:
            user = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]
            asked = self.processor.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
            full = self.processor.apply_chat_template(
                [*user, {"role": "assistant", "content": [{"type": "text", "text": answer}]}], tokenize=False)
            if not full.startswith(asked):
                raise ValueError("the chat template must render the prompt as a prefix of prompt + answer")
            parts = prompt_parts(self.processor, asked)
            answer_ids = tuple(self.processor.tokenizer.encode(full[len(asked):], add_special_tokens=False))
            self._parts[key] = (parts.before, parts.after, answer_ids)
        return self._parts[key]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i: int) -> dict:
        example = self.examples[i]
        before, after, answer = self._encode(example.prompt, example.answer)
        media = self.media[example.clip]
        ids = (*before, *media.placeholder_ids, *after, *answer)
        labels = (-100,) * (len(ids) - len(answer)) + answer
        return {"ids": ids, "labels": labels, "media": media, "clip": example.clip, "prefix": len(before)}


@dataclass(frozen=True)
class ClipEncodings:
    """Every training clip's tower outputs (video tokens, audio tokens), computed once: for SFT on frozen towers."""

    video: list[torch.Tensor]
    audio: list[torch.Tensor]


def encode_clips(model, media: Sequence[MediaInputs], batch_size: int) -> ClipEncodings:
    """``media``'s tower outputs, ``batch_size`` clips per tower call, without gradient."""
    video, audio = [], []
    with torch.no_grad():
        for start in range(0, len(media), batch_size):
            chunk = media[start:start + batch_size]
            stacked = distinct_media([(i,) for i in range(len(chunk))], chunk, model.config.audio_token_id)
            chunk_video, chunk_audio = encode_media(model, DistinctMedia(**stacked.float32_fields()))
            video += chunk_video
            audio += chunk_audio
    return ClipEncodings(video, audio)


def rope_positions(rope: RopeIndex, items: Sequence[dict]) -> torch.Tensor:
    """(3, rows, longest) rope positions of right-padded rows, each clip's prefix computed once (RopeIndex): the
    model's own per-row loop cost about a seventh of an SFT step."""
    return stack_positions([rope.row(it["clip"], it["ids"][:it["prefix"]], it["media"],
                                     it["ids"][it["prefix"] + len(it["media"].placeholder_ids):]) for it in items],
                           "right")


def make_collator(pad_id: int, audio_token_id: int, rope: RopeIndex | None = None,
                  encodings: ClipEncodings | None = None, encoded_batches: int = 0):
    """Right-padded ids and labels, and the batch's distinct clips stacked once (DistinctMedia's float32 fields);
    with ``rope`` also the rows' ``position_ids``; with ``encodings``, the first ``encoded_batches`` batches it
    collates also carry their distinct clips' tower outputs (``encoded``, in DistinctMedia's order: first
    appearance), so that the towers neither run nor train on them. Counting batches here, not Trainer steps, makes
    the switch exact although the data loader collates one batch ahead."""
    collated = 0

    def collator(items: list[dict]) -> dict:
        nonlocal collated
        batch = pad_sequences([it["ids"] for it in items], pad_id, "right", labels=[it["labels"] for it in items])
        media = distinct_media([(it["clip"],) for it in items], [it["media"] for it in items], audio_token_id)
        batch["media"] = media.float32_fields()
        if rope is not None:
            batch["position_ids"] = rope_positions(rope, items)
        if encodings is not None and collated < encoded_batches:
            clips = list(dict.fromkeys(it["clip"] for it in items))
            batch["encoded"] = ([encodings.video[c] for c in clips], [encodings.audio[c] for c in clips])
        collated += 1
        return batch
    return collator


def answer_logps(scorer, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of a collated batch, the summed log-prob of its answer and the answer's length, from an AnswerScorer:
    the LM head at answer positions only (not at the prompt and media positions, where the full-vocabulary head was
    half of a step), each clip encoded once (or before: ``encoded``)."""
    return scorer(batch["input_ids"], batch["attention_mask"], batch["labels"], DistinctMedia(**batch["media"]),
                  encoded=batch.get("encoded"), position_ids=batch.get("position_ids"))


def answer_nll(scorer, batch: dict) -> torch.Tensor:
    """The token-mean negative log-likelihood of a collated batch's answers (the thinker's own causal-LM loss)."""
    sums, counts = answer_logps(scorer, batch)
    return -sums.sum() / counts.sum()


class AnswerNLLTrainer(Trainer):
    """transformers.Trainer on an AnswerScorer whose loss is :func:`answer_nll`; with ``yes_no_check`` (a
    training/yes_no_check.YesNoCheck) each logging step also logs the yes/no accuracy it measures."""

    def __init__(self, *args, yes_no_check: Callable | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.yes_no_check = yes_no_check

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if self.yes_no_check is not None and "loss" in logs:  # the training logs, not the run's final summary
            logs = {**logs, **self.yes_no_check(self.model)}
        super().log(logs, *args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = answer_nll(model, inputs)
        return (loss, {}) if return_outputs else loss


def featurize(clips: ClipSet, processor, frames: int, show_progress: bool = True,
              videos_kwargs: dict | None = None) -> list[MediaInputs]:
    from rich.progress import track

    store = MediaStore(MediaSpec(frames=frames), max_items=4)
    featurizer = Featurizer(processor, videos_kwargs or VIDEO_KWARGS, max_items=1)
    out = []
    for clip in track(clips.clips, description="featurizing training clips", disable=not show_progress):
        media = store.load(clip.video, clip.content_id, AudioRecipe("own"))
        inputs = featurizer((clip.content_id, "own"), media)
        # half precision halves the memory of a few thousand clips' pixel patches; the model sees float32 again
        out.append(MediaInputs(inputs.placeholder_ids, inputs.pixel_values_videos.half(), inputs.video_grid_thw,
                               inputs.video_second_per_grid, inputs.input_features.half(),
                               inputs.feature_attention_mask))
    return out


def train(config: TinySFTConfig, show_progress: bool = True, command: str | None = None) -> Path:
    """Train the embedded model from scratch; ``command`` (the CLI line that asked for it) goes into training.json."""
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration, TrainingArguments, set_seed
    from transformers.trainer_callback import PrinterCallback

    from acpo_bench.training.progress import RichProgress
    from acpo_bench.training.scorer import AnswerScorer
    from acpo_bench.training.tower_alignment import warm_up_towers
    from acpo_bench.training.yes_no_check import YesNoCheck

    set_seed(config.seed)
    world = worlds.build(worlds.WorldSpec(config.world, clips=config.train_clips, seed=config.world_seed,
                                          av_correlation=config.av_correlation), show_progress=show_progress)
    tokenizer = build_tokenizer(vocabulary_texts(world))
    processor = build_processor(tokenizer, audio_seconds(world), config.frame_side)
    model = Qwen2_5OmniThinkerForConditionalGeneration(build_config(tokenizer, config.hidden, config.layers,
                                                                               config.vision_width))
    use_varlen_tower_attention(model)  # one attention call per tower layer, not one per window
    media = featurize(world, processor, config.frames, show_progress, video_kwargs(config.frame_side))
    alignment_loss = None
    if config.align_steps:
        alignment_loss = warm_up_towers(model, media, world.clips, tokenizer, world.lexicon.classes,
                                        config.align_steps, config.align_learning_rate, config.batch_size,
                                        config.seed, show_progress)
    encodings = None
    if config.frozen_tower_steps:
        # batches that carry these give the towers no gradient, and AdamW leaves a parameter without one as it is
        encodings = encode_clips(model.eval(), media, config.batch_size)
        model.train()
    examples = sample_examples(world, config.steps * config.batch_size, config)
    output_dir = Path(config.output_dir)
    args = TrainingArguments(
        output_dir=str(output_dir / "_trainer"), max_steps=config.steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, warmup_steps=config.warmup_steps, lr_scheduler_type="cosine",
        weight_decay=config.weight_decay, adam_beta2=0.98, max_grad_norm=1.0, logging_steps=config.logging_steps,
        save_strategy="no", report_to=[], disable_tqdm=True, seed=config.seed, dataloader_num_workers=0,
        remove_unused_columns=False, use_cpu=not torch.cuda.is_available(),
        accelerator_config={"dispatch_batches": False},  # batches hold the nested media dict: take them as built
    )
    scorer = AnswerScorer(model, model.config.video_token_id, model.config.audio_token_id)
    rope = RopeIndex(model.model, max_items=2 * len(media))  # a few distinct prompt prefixes per clip
    collator = make_collator(tokenizer.pad_token_id, model.config.audio_token_id, rope, encodings,
                             config.frozen_tower_steps)
    live_towers = make_collator(tokenizer.pad_token_id, model.config.audio_token_id, rope)  # the check's batches
    check = (YesNoCheck(world, media, processor, live_towers, config.check_questions, seed=config.seed + 1)
             if config.check_questions else None)
    trainer = AnswerNLLTrainer(model=scorer, args=args, train_dataset=SFTData(examples, media, processor),
                               data_collator=collator, yes_no_check=check,
                               callbacks=[RichProgress(f"SFT {Path(config.output_dir).name}", show_progress)])
    trainer.remove_callback(PrinterCallback)  # the rich bar shows progress; no raw dict prints
    result = trainer.train()
    checks = [{k: v for k, v in entry.items() if k == "step" or k.startswith("acc_yes_no_")}
              for entry in trainer.state.log_history if "acc_yes_no_sound" in entry]
    save_checkpoint(model, processor, output_dir, config, world, result.training_loss, command, alignment_loss,
                    checks)
    return output_dir


def save_checkpoint(model, processor, output_dir: Path, config: TinySFTConfig, world: ClipSet, loss: float,
                    command: str | None = None, alignment_loss: float | None = None,
                    yes_no_checks: list[dict] | None = None) -> None:
    import shutil

    shutil.rmtree(output_dir / "_trainer", ignore_errors=True)
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    settings = {"frames": config.frames, "videos_kwargs": video_kwargs(config.frame_side), "system_prompt": None,
                "batch_size": 64, "world": config.world}
    (output_dir / "acpo_bench.json").write_text(json.dumps(settings, indent=1) + "\n")
    record = {"command": command, "recipe": asdict(config), "train_world": world.name,
              "train_data_fingerprint": world.fingerprint(), "final_training_loss": round(loss, 4)}
    if alignment_loss is not None:
        record["final_alignment_loss"] = round(alignment_loss, 4)
    if yes_no_checks:  # yes/no accuracy at each logging step (training/yes_no_check.py)
        record["yes_no_checks"] = [{k: round(v, 4) for k, v in c.items()} for c in yes_no_checks]
    (output_dir / "training.json").write_text(json.dumps(record, indent=1) + "\n")
