"""sound_presence: POPE-style "Is there a sound of x?" under the clip's own audio.

Positives are the audible sources; negatives come in three settings: random (neither heard nor seen), popular (the
most frequent sounds not heard) and adversarial (seen but silent: the visual shortcut's bait).
"""

from __future__ import annotations

from collections.abc import Sequence

from acpo_bench.clips import ClipSet
from acpo_bench.metrics import ClipBootstrap
from acpo_bench.schemas import Probe, SampleRecord
from acpo_bench.task import Task, TaskSummary, summarize
from acpo_bench.tasks._presence import presence_metrics
from acpo_bench.tasks._probes import NO_NEGATIVE, NOTHING_AUDIBLE, OWN, ask, popularity, presence_items

NAME = "sound_presence"


def build(clips: ClipSet, seed: int) -> list[Probe]:
    classes = clips.lexicon.classes
    popular = popularity(clips.audible_frequency(), classes)
    probes: list[Probe] = []
    for clip in clips.clips:
        items = presence_items(clip, clip.audible, clip.visible, classes, popular, (NAME, seed, clip.content_id))
        for label, (expected, setting, groups) in sorted(items.items()):
            probes += ask(NAME, clip, "sound_of", audio=OWN, audible=clip.audible, condition="own", target=label,
                          expected=expected, setting=setting, groups=groups)
    return probes


def skip_reason(clips: ClipSet, index: int, seed: int) -> str:
    return NOTHING_AUDIBLE if not clips.clips[index].audible else NO_NEGATIVE


def aggregate(records: Sequence[SampleRecord], bootstrap: ClipBootstrap) -> TaskSummary:
    metrics = presence_metrics()
    return summarize(records, metrics, bootstrap, class_metrics=metrics[:1])


TASK = Task(
    name=NAME,
    version=1,
    description="POPE-style sound questions under own audio (random / popular / visual-adversarial negatives)",
    build=build,
    aggregate=aggregate,
    headline=("adversarial_f1", "random_accuracy", "popular_f1", "adversarial_yes_ratio"),
    skip_reason=skip_reason,
)
