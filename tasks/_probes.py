"""Probe construction shared by the synthetic-suite tasks: paraphrased questions, recipes, presence negatives."""

from __future__ import annotations

from collections import Counter
from functools import cache
from importlib import resources

import numpy as np
import yaml

from acpo_bench.schemas import AudioRecipe, Clip, Probe, stable_hash

OWN = AudioRecipe("own")
SILENCE = AudioRecipe("silence")
NOISE_FLOOR_DBFS = -40.0
NOISE_FLOOR = AudioRecipe("noise", noise_dbfs=NOISE_FLOOR_DBFS)
SETTINGS = ("random", "popular", "adversarial")
# why a task asks nothing about a clip (the skipped clips of the results file, counted per reason)
NOTHING_VISIBLE = "nothing visible to ask about"
NOTHING_AUDIBLE = "nothing audible (POPE needs a heard sound as the positive)"
NO_NEGATIVE = "no class left to ask about as a negative"


@cache
def prompts() -> dict[str, tuple[str, ...]]:
    data = yaml.safe_load(resources.files("acpo_bench.tasks").joinpath("prompts.yaml").read_text())
    return {question: tuple(templates) for question, templates in data.items()}


def swapped(partner: Clip) -> AudioRecipe:
    return AudioRecipe("swap", source=partner.video, source_id=partner.content_id)


def ask(task: str, clip: Clip, question: str, *, audio: AudioRecipe, audible: tuple[str, ...], condition: str,
        kind: str = "yes_no", modality: str = "audio", target: str | None = None, expected: str | None = None,
        setting: str | None = None, groups: tuple[str, ...] = (), references: tuple[str, ...] = (),
        distractors: tuple[str, ...] = ()) -> list[Probe]:
    """One probe per paraphrase of ``question``."""
    return [
        Probe(task=task, clip_id=clip.clip_id, video=clip.video, video_id=clip.content_id, audio=audio, kind=kind,
              modality=modality, question=question, prompt=template.format(x=target), paraphrase=i,
              visible=clip.visible, audible=audible, condition=condition, setting=setting, groups=groups,
              target=target, expected=expected, references=references, distractors=distractors)
        for i, template in enumerate(prompts()[question])
    ]


def popularity(counts: Counter[str], classes: tuple[str, ...]) -> list[str]:
    """Classes from most to least frequent (ties by name): the POPE 'popular' order."""
    return sorted(classes, key=lambda c: (-counts[c], c))


def presence_items(clip: Clip, present: tuple[str, ...], other: tuple[str, ...], classes: tuple[str, ...],
                   popular: list[str], rng_key: tuple) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """POPE-style items: label -> (expected, setting, groups).

    Positives are the ``present`` labels; per setting up to as many negatives as positives: random (in neither set),
    popular (most frequent labels not present) and adversarial (present in the *other* modality only). A positive
    of rank r counts in a setting when that setting has more than r negatives, so every setting stays balanced.
    A label drawn by two settings is one probe that counts in both.
    """
    rng = np.random.default_rng(int(stable_hash(*rng_key), 16))
    positives = sorted(present)
    k = len(positives)
    pools = {
        "random": [c for c in classes if c not in present and c not in other],
        "popular": [c for c in popular if c not in present],
        "adversarial": sorted(set(other) - set(present)),
    }
    negatives = {
        "random": list(rng.permutation(pools["random"])[:k]),
        "popular": pools["popular"][:k],
        "adversarial": list(rng.permutation(pools["adversarial"])[:k]),
    }
    items: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for rank, label in enumerate(positives):
        groups = tuple(s for s in SETTINGS if len(negatives[s]) > rank)
        if groups:
            items[label] = ("yes", "positive", groups)
    for setting in SETTINGS:
        for label in negatives[setting]:
            _, first, groups = items.get(str(label), ("no", setting, ()))
            items[str(label)] = ("no", first, (*groups, setting))
    return items
