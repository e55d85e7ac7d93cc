"""silent_video: the video of a clip with digital silence, and with a -40 dBFS noise floor.

Nothing is audible, so any sound a model reports comes from the frames: the silent hallucination rate (open answers
asserting any sound), the visual echo rate (answers naming a visible source) and "Is there any sound?" accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

from acpo_bench.clips import ClipSet
from acpo_bench.metrics import ClipBootstrap, rate, said_yes
from acpo_bench.schemas import Probe, SampleRecord
from acpo_bench.task import Task, TaskSummary, summarize
from acpo_bench.tasks._probes import NOISE_FLOOR, SILENCE, ask

NAME = "silent_video"
CONDITIONS = (("silence", SILENCE), ("noise", NOISE_FLOOR))


def build(clips: ClipSet, seed: int) -> list[Probe]:
    probes: list[Probe] = []
    for clip in clips.clips:
        for condition, audio in CONDITIONS:
            common = dict(audio=audio, audible=(), condition=condition)
            probes += ask(NAME, clip, "list_sounds", kind="open", **common)
            if condition == "silence":  # under a noise floor "is there any sound?" has no clean answer
                probes += ask(NAME, clip, "any_sound", expected="no", **common)
            for label in clip.visible:
                probes += ask(NAME, clip, "sound_of", target=label, expected="no", setting="visible", **common)
    return probes


def _where(condition: str, question: str):
    return lambda r: r.condition == condition and r.question == question


def aggregate(records: Sequence[SampleRecord], bootstrap: ClipBootstrap) -> TaskSummary:
    echo = lambda r: bool(set(r.answer or ()) & set(r.visible))
    metrics = [
        rate("silent_hallucination_rate", False, _where("silence", "list_sounds"),
             lambda r: bool(r.extra.get("asserts_sound"))),
        rate("visual_echo_rate", False, _where("silence", "list_sounds"), echo),
        rate("any_sound_accuracy", True, _where("silence", "any_sound"), lambda r: bool(r.correct)),
        rate("visual_echo_yn", False, _where("silence", "sound_of"), said_yes),
        # a noise floor is a sound, but not a source: only named sources count as hallucinated
        rate("noise_hallucination_rate", False, _where("noise", "list_sounds"), lambda r: bool(r.answer)),
        rate("noise_visual_echo_rate", False, _where("noise", "list_sounds"), echo),
        rate("noise_visual_echo_yn", False, _where("noise", "sound_of"), said_yes),
    ]
    return summarize(records, metrics, bootstrap, class_metrics=[metrics[3], metrics[6]])


TASK = Task(
    name=NAME,
    version=1,
    description="video under digital silence and a -40 dBFS noise floor: any sound reported is hallucinated",
    build=build,
    aggregate=aggregate,
    headline=("silent_hallucination_rate", "visual_echo_rate", "any_sound_accuracy"),
)
