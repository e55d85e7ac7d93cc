"""The model card written beside a checkpoint: how it was made and what it scores."""

from __future__ import annotations

from typing import Any

from acpo_bench.stamps.catalog import CLASSES as STAMP_CLASSES
from acpo_bench.synth.sources import SOURCES

CARD_METRICS = (
    ("swapped_audio", "vahr_yn"), ("swapped_audio", "vahr_open"), ("swapped_audio", "swapped_in_accuracy"),
    ("swapped_audio", "own_audio_accuracy"), ("silent_video", "silent_hallucination_rate"),
    ("sound_presence", "random_accuracy"), ("sound_presence", "adversarial_f1"),
    ("visual_presence", "own_accuracy"), ("visual_presence", "swapped_accuracy"),
)


# how the card names each training world: where the model was trained, and what it knows
WORLD_TEXT = {
    "synth": ("the synthetic audio-visual world", f"the synthetic world's {len(SOURCES)} sound sources"),
    "stamps": ("the real-media world (Tux Paint's drawings and their own recordings)",
               f"the real-media world's {len(STAMP_CLASSES)} stamp classes"),
}


def metric_rows(results: dict[str, Any]) -> list[str]:
    rows = []
    for task, metric in CARD_METRICS:
        value = results["tasks"].get(task, {}).get("metrics", {}).get(metric)
        if value and value["value"] is not None:
            lo, hi = value["ci95"] or (value["value"], value["value"])
            rows.append(f"| {task}.{metric} | {value['value']:.3f} | [{lo:.3f}, {hi:.3f}] |")
    ags = (results.get("summary") or {}).get("audio_grounding_score")
    if ags:
        rows.append(f"| audio grounding score | {ags['value']:.3f} | [{ags['ci95'][0]:.3f}, {ags['ci95'][1]:.3f}] |")
    return rows


def model_card(name: str, training: dict[str, Any], results: dict[str, Any] | None, parameters: int) -> str:
    """The card's text: the build command, recipe and data from ``training.json``, the scores from ``results``."""
    recipe = training["recipe"]
    command = training.get("command")
    trained_on, knows = WORLD_TEXT[recipe.get("world", "synth")]
    warm_up = ([f"- tower warm-up before SFT: {recipe['align_steps']} steps x batch {recipe['batch_size']}, lr "
                f"{recipe['align_learning_rate']} (each tower's tokens aligned with the class names' embeddings), "
                f"final loss {training.get('final_alignment_loss')}"] if recipe.get("align_steps") else [])
    lines = [
        f"# {name}",
        "",
        "The embedded model of acpo-bench: the real `Qwen2_5OmniThinkerForConditionalGeneration` from transformers at",
        f"a tiny size ({parameters:,} parameters), trained from scratch on {trained_on}. It hears",
        "and sees, and — like the large models the project studies — trusts the video where the audio disagrees.",
        "",
        "## How it was made",
        "",
        f"- command: `{command}`" if command else "- command: not recorded (built before training.json kept it); "
        "the recipe below reproduces it",
        f"- training world: `{training['train_world']}` ({recipe['train_clips']} clips, seed {recipe['world_seed']},"
        f" av-correlation {recipe['av_correlation']}), data fingerprint `{training['train_data_fingerprint'][:23]}…`",
        *warm_up,
        f"- SFT: {recipe['steps']} steps x batch {recipe['batch_size']}, lr {recipe['learning_rate']}, cosine, "
        f"warm-up {recipe['warmup_steps']}, seed {recipe['seed']}; {int(recipe['yes_no_share'] * 100)}% yes/no "
        "questions (about sounds and about what is visible), the rest open lists, 'any sound?' and captions, all "
        "under each clip's own audio" + (
            f"; the towers frozen for the first {recipe['frozen_tower_steps']} steps (their outputs computed once "
            "per clip), trained after" if recipe.get("frozen_tower_steps") else ""),
        f"- final training loss: {training['final_training_loss']}",
        f"- text hidden {recipe['hidden']}, {recipe['layers']} layers; an audio tower of width 32 and a vision tower "
        f"of width {recipe.get('vision_width', 32)}; "
        f"{recipe['frames']} frames of {recipe.get('frame_side', 112)}x{recipe.get('frame_side', 112)} per clip; "
        "byte-level BPE over the world's words",
        "",
    ]
    if results:
        info = results["run_info"]
        lines += [
            f"## Scores on the default suite (`acpo-bench eval --model {name} --tasks all`, "
            f"data `{results['config']['data']['name']}`)",
            "",
            f"Measured {info['started'][:10]} at commit {info['git_commit']} ({info['host']}, {info['device']}) by "
            f"`{info['command']}`.",
            "",
            "| metric | value | 95% CI |",
            "|---|---|---|",
            *metric_rows(results),
            "",
        ]
    lines += [
        "## Intended use",
        "",
        "A CPU-sized stand-in for Qwen2.5-Omni that exercises the same adapter code path, for demos, tests and the",
        f"ACPO before/after pipeline. It knows only {knows} and its prompt wording.",
        "",
    ]
    return "\n".join(lines)
