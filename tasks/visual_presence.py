"""visual_presence: "Can you see the x?" under the clip's own audio (the capability control) and under swapped audio.

The mirror of sound_presence: positives are the visible sources, adversarial negatives are heard but not seen. Under
swapped audio the adversarial negatives are the swapped-in sounds: audio leaking into visual answers, the price an
over-corrected model can pay.
"""

from __future__ import annotations

from collections.abc import Sequence

from acpo_bench.clips import ClipSet
from acpo_bench.metrics import ClipBootstrap
from acpo_bench.schemas import Probe, SampleRecord
from acpo_bench.swaps import swap_partner
from acpo_bench.task import Task, TaskSummary, summarize
from acpo_bench.tasks._presence import presence_metrics
from acpo_bench.tasks._probes import NO_NEGATIVE, NOTHING_VISIBLE, OWN, ask, popularity, presence_items, swapped

NAME = "visual_presence"


def build(clips: ClipSet, seed: int) -> list[Probe]:
    classes = clips.lexicon.classes
    popular = popularity(clips.visible_frequency(), classes)
    probes: list[Probe] = []
    for index, clip in enumerate(clips.clips):
        partner = swap_partner(clips.clips, index, seed)
        conditions = [("own", OWN, clip.audible)]
        if partner is not None:
            conditions.append(("swapped", swapped(partner), partner.audible))
        for condition, audio, audible in conditions:
            items = presence_items(clip, clip.visible, audible, classes, popular, (NAME, seed, clip.content_id))
            for label, (expected, setting, groups) in sorted(items.items()):
                probes += ask(NAME, clip, "visible", modality="visual", audio=audio, audible=audible,
                              condition=condition, target=label, expected=expected, setting=setting, groups=groups)
    return probes


def skip_reason(clips: ClipSet, index: int, seed: int) -> str:
    return NOTHING_VISIBLE if not clips.clips[index].visible else NO_NEGATIVE


def aggregate(records: Sequence[SampleRecord], bootstrap: ClipBootstrap) -> TaskSummary:
    own, swapped_audio = presence_metrics("own"), presence_metrics("swapped")
    return summarize(records, own + swapped_audio, bootstrap, class_metrics=[own[0], swapped_audio[0]])


TASK = Task(
    name=NAME,
    version=1,
    description='the visual control: POPE-style "can you see x" under own and under swapped audio',
    build=build,
    aggregate=aggregate,
    headline=("own_accuracy", "swapped_accuracy", "own_adversarial_f1", "swapped_adversarial_f1"),
    skip_reason=skip_reason,
)
