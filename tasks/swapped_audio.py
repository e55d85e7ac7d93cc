"""swapped_audio: the video of clip i with the audio of a clip j whose sounds are disjoint from what i shows.

A model that listens says "no" to the sounds the video suggests and reports j's sounds; a model that trusts the
video keeps hearing what it sees (video-driven audio hallucination). Every question is also asked under i's own
audio, which gives the invariance rate (an audio-blind model scores 1.0) and the congruent-audio accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

from acpo_bench.captioning import cider_scores
from acpo_bench.clips import ClipSet
from acpo_bench.metrics import ClipBootstrap, RatioMetric, rate, said_yes
from acpo_bench.schemas import Probe, SampleRecord
from acpo_bench.swaps import swap_partner
from acpo_bench.task import Task, TaskSummary, summarize
from acpo_bench.tasks._probes import NOTHING_VISIBLE, OWN, ask, swapped

NAME = "swapped_audio"


def build(clips: ClipSet, seed: int) -> list[Probe]:
    probes: list[Probe] = []
    for index, clip in enumerate(clips.clips):
        partner = swap_partner(clips.clips, index, seed)
        if partner is None:
            continue
        for condition, audio, audible in (("own", OWN, clip.audible), ("swapped", swapped(partner), partner.audible)):
            common = dict(audio=audio, audible=audible, condition=condition)
            for label in clip.visible:
                probes += ask(NAME, clip, "sound_of", target=label, expected="yes" if label in audible else "no",
                              setting="visible", **common)
            for label in partner.audible:
                probes += ask(NAME, clip, "sound_of", target=label, expected="yes" if label in audible else "no",
                              setting="swapped_in", **common)
            probes += ask(NAME, clip, "list_sounds", kind="open", **common)
        if partner.audio_caption and clip.audio_caption and clip.visual_caption:
            common = dict(audio=swapped(partner), audible=partner.audible, condition="swapped", kind="caption")
            probes += ask(NAME, clip, "describe_audio", references=(partner.audio_caption,),
                          distractors=(clip.audio_caption,), **common)
            probes += ask(NAME, clip, "describe_visual", modality="visual", references=(clip.visual_caption,),
                          distractors=(partner.audio_caption,), **common)
    return probes


def skip_reason(clips: ClipSet, index: int, seed: int) -> str:
    if not clips.clips[index].visible:
        return NOTHING_VISIBLE
    return "no swap partner (no other clip whose sounds are all off screen in this one)"


def _swapped(question: str, setting: str | None = None):
    return lambda r: r.condition == "swapped" and r.question == question and (setting is None or r.setting == setting)


def _invariance(records: Sequence[SampleRecord], question: str) -> dict[str, bool]:
    """probe_id of each swapped-audio answer -> whether the same question got the same answer under own audio."""
    own = {(r.clip_id, r.target, r.paraphrase): r.answer for r in records
           if r.condition == "own" and r.question == question}
    return {r.probe_id: own[key] == r.answer for r in records
            if r.condition == "swapped" and r.question == question
            and (key := (r.clip_id, r.target, r.paraphrase)) in own}


def _cider_metric(name: str, higher: bool, scores: dict[str, float]) -> RatioMetric:
    return RatioMetric(name, higher, lambda r: (scores[r.probe_id], 1.0) if r.probe_id in scores else None)


def _caption_metrics(records: Sequence[SampleRecord]) -> list[RatioMetric]:
    """The ACPO paper's protocol: T-CIDEr against the target modality's reference, D-CIDEr against the distractor."""
    out = []
    for question, modality in (("describe_audio", "audio"), ("describe_visual", "visual")):
        caps = [r for r in records if r.question == question]
        if not caps:
            continue
        candidates = {r.probe_id: r.response or "" for r in caps}
        target = cider_scores(candidates, {r.probe_id: list(r.extra["references"]) for r in caps})
        distractor = cider_scores(candidates, {r.probe_id: list(r.extra["distractors"]) for r in caps})
        out += [_cider_metric(f"t_cider_{modality}", True, target),
                _cider_metric(f"d_cider_{modality}", False, distractor)]
    return out


def aggregate(records: Sequence[SampleRecord], bootstrap: ClipBootstrap) -> TaskSummary:
    records = [r for r in records if r.error is None]
    inv_yn, inv_open = _invariance(records, "sound_of"), _invariance(records, "list_sounds")
    mentions = lambda r: set(r.answer or ())
    vahr_yn = rate("vahr_yn", False, _swapped("sound_of", "visible"), said_yes)
    vahr_open = rate("vahr_open", False, _swapped("list_sounds"), lambda r: bool(mentions(r) & set(r.visible)))
    has_open = any(_swapped("list_sounds")(r) for r in records)
    metrics = [
        RatioMetric("vahr", False, (vahr_open if has_open else vahr_yn).contribution),
        vahr_yn,
        vahr_open,
        rate("swapped_in_accuracy", True, _swapped("sound_of", "swapped_in"), lambda r: bool(r.correct)),
        RatioMetric("audio_recall", True, lambda r: (len(mentions(r) & set(r.audible)), len(r.audible))
                    if _swapped("list_sounds")(r) else None),
        RatioMetric("mention_precision", True, lambda r: (len(mentions(r) & set(r.audible)), len(mentions(r)))
                    if _swapped("list_sounds")(r) else None),
        rate("own_audio_accuracy", True, lambda r: r.condition == "own" and r.kind == "yes_no",
             lambda r: bool(r.correct)),
        rate("invariance_yn", None, lambda r: r.probe_id in inv_yn, lambda r: inv_yn[r.probe_id]),
        rate("invariance_open", None, lambda r: r.probe_id in inv_open, lambda r: inv_open[r.probe_id]),
        *_caption_metrics(records),
    ]
    class_metrics = [vahr_yn, rate("swapped_in_accuracy", True, _swapped("sound_of", "swapped_in"),
                                   lambda r: bool(r.correct))]
    return summarize(records, metrics, bootstrap, class_metrics=class_metrics)


TASK = Task(
    name=NAME,
    version=1,
    description="video of one clip under the audio of another whose sounds it does not show",
    build=build,
    aggregate=aggregate,
    headline=("vahr", "vahr_yn", "vahr_open", "swapped_in_accuracy", "invariance_yn"),
    skip_reason=skip_reason,
)
