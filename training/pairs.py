"""Preference pairs for ACPO from any clip dataset with visible and audible labels.

Every pair is dual-axis: an audio-focused prompt, an audio-faithful answer y+ and a visual-masquerade answer y-
under the clip's own audio a (the output-contrastive axis), and a contrast track a' under which y+ would be wrong
(the input-contrastive axis: y+ must be likelier under a than under a').

kinds:
  visible_silent  "Is there a sound of v?" for v seen but not heard: y+ "no", y- "yes"; a' = a clip where v is heard
  audible         "Is there a sound of s?" for s heard: y+ "yes", y- "no"; a' = a clip where s is not heard
  absent          "Is there a sound of r?" for r neither seen nor heard: y+ "no", y- "yes"; a' = a clip where r is
                  heard (off-screen pairs of the audible kind could teach "not seen means heard"; these are meant
                  to counter that; measured in docs/acpo-tiny-tuning.md, fourth round)
  open_masquerade "What sounds can you hear?": y+ lists A, y- adds the silent visible sources; a' = a swap partner
  open_dropped    the same prompt: y- keeps only the heard sources that are also seen (off-screen ones dropped)
  on_policy       y- is the model's own answer under silence or swapped audio when it names a silent visible
                  source; y+ the truthful listing; a' = the clip's own track

The pairs store a swap partner as a'. Where y+ names a sound (an audible source's "yes", a listing of a clip that is
heard), digital silence and the -40 dBFS noise floor make it wrong too, so training may play one of those as a'
instead (``contrast_kinds``, ``draw_contrasts``; shares in ACPOConfig.contrast_mix, docs/contrast-tracks.md). A "no"
and a listing "nothing" stay right under silence: those pairs keep their swap partner.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from acpo_bench.clips import ClipSet
from acpo_bench.lexicon import Lexicon
from acpo_bench.schemas import AudioRecipe, Clip, stable_hash
from acpo_bench.swaps import swap_partner
from acpo_bench.tasks._probes import NOISE_FLOOR, SILENCE, prompts, swapped

KINDS = ("visible_silent", "audible", "absent", "open_masquerade", "open_dropped", "on_policy")
PAIRS_DIR = "pairs"
# the contrast tracks a' a pair can be trained against: its stored swap partner, or the silent_video task's tracks
CONTRAST_TRACKS: dict[str, AudioRecipe | None] = {"swap": None, "silence": SILENCE, "noise": NOISE_FLOOR}
# the kinds whose y+ names what the clip's own track plays ("yes" for a heard source, the listing of its sounds)
SOUNDING_KINDS = ("audible", "open_masquerade", "open_dropped")


@dataclass(frozen=True)
class Pair:
    pair_id: str
    kind: str
    clip_id: str
    video: str
    video_id: str
    prompt: str
    chosen: str
    rejected: str
    audio: str  # AudioRecipe as JSON
    contrast_audio: str
    visible: tuple[str, ...]
    audible: tuple[str, ...]


def recipe_json(recipe: AudioRecipe) -> str:
    return json.dumps(dict(recipe.__dict__), sort_keys=True)


def recipe_from_json(text: str) -> AudioRecipe:
    return AudioRecipe(**json.loads(text))


def listing(labels: Sequence[str]) -> str:
    """The answer format of the embedded model's open questions ("dog and bell", "nothing")."""
    return " and ".join(sorted(labels)) if labels else "nothing"


def _make(kind: str, clip: Clip, prompt: str, chosen: str, rejected: str, audio: AudioRecipe,
          contrast: AudioRecipe) -> Pair:
    return Pair(pair_id=stable_hash(kind, clip.content_id, prompt, chosen, rejected, audio.key(), contrast.key()),
                kind=kind, clip_id=clip.clip_id, video=clip.video, video_id=clip.content_id, prompt=prompt,
                chosen=chosen, rejected=rejected, audio=recipe_json(audio), contrast_audio=recipe_json(contrast),
                visible=clip.visible, audible=clip.audible)


def label_pairs(clips: ClipSet, seed: int = 0, answer_format: Callable[[Sequence[str]], str] = listing) -> list[Pair]:
    """The label-derived pairs (every kind but on_policy)."""
    rng = random.Random(seed)
    # a stream of its own, so that the absent pairs leave every other kind's draws as they were
    absent_rng = random.Random(stable_hash(seed, "absent"))
    classes = sorted({label for clip in clips.clips for label in (*clip.visible, *clip.audible)})
    heard_by: dict[str, list[Clip]] = {}
    for clip in clips.clips:
        for label in clip.audible:
            heard_by.setdefault(label, []).append(clip)
    sound_of, list_sounds = prompts()["sound_of"], prompts()["list_sounds"]
    pairs: list[Pair] = []
    own = AudioRecipe("own")
    for index, clip in enumerate(clips.clips):
        for label in clip.visible:
            if label not in clip.audible and heard_by.get(label):
                contrast = swapped(rng.choice(heard_by[label]))
                pairs.append(_make("visible_silent", clip, rng.choice(sound_of).format(x=label), "no", "yes", own,
                                   contrast))
        for label in clip.audible:
            silent_there = [c for c in (rng.choice(clips.clips) for _ in range(16)) if label not in c.audible
                            and c.audible and c.clip_id != clip.clip_id]
            if silent_there:
                pairs.append(_make("audible", clip, rng.choice(sound_of).format(x=label), "yes", "no", own,
                                   swapped(silent_there[0])))
        absent = [c for c in classes if c not in clip.visible and c not in clip.audible and heard_by.get(c)]
        if absent:
            label = absent_rng.choice(absent)
            pairs.append(_make("absent", clip, absent_rng.choice(sound_of).format(x=label), "no", "yes", own,
                               swapped(absent_rng.choice(heard_by[label]))))
        partner = swap_partner(clips.clips, index, seed)
        if partner is None:
            continue
        truthful = answer_format(clip.audible)
        silent_visible = set(clip.visible) - set(clip.audible)
        if silent_visible:
            pairs.append(_make("open_masquerade", clip, rng.choice(list_sounds), truthful,
                               answer_format(sorted(set(clip.audible) | silent_visible)), own, swapped(partner)))
        offscreen = set(clip.audible) - set(clip.visible)
        if offscreen:
            pairs.append(_make("open_dropped", clip, rng.choice(list_sounds), truthful,
                               answer_format(sorted(set(clip.audible) & set(clip.visible))), own, swapped(partner)))
    return pairs


def on_policy_pairs(clips: ClipSet, generate: Callable[[list], list[str]], lexicon: Lexicon, seed: int = 0,
                    limit: int | None = None, answer_format: Callable[[Sequence[str]], str] = listing) -> list[Pair]:
    """Ask the model "what sounds can you hear?" under silence and under a swapped track; keep the answers that name
    a visible source that is not in the played audio as y-, with the truthful listing as y+.

    ``generate`` takes a list of (Clip, prompt, AudioRecipe, audible) and returns the model's answers in order.
    """
    rng = random.Random(seed)
    list_sounds = prompts()["list_sounds"]
    asks = []
    for index, clip in enumerate(clips.clips[:limit]):
        asks.append((clip, rng.choice(list_sounds), AudioRecipe("silence"), ()))
        partner = swap_partner(clips.clips, index, seed)
        if partner is not None:
            asks.append((clip, rng.choice(list_sounds), swapped(partner), partner.audible))
    answers = generate(asks)
    pairs = []
    for (clip, prompt, audio, audible), answer in zip(asks, answers, strict=True):
        hallucinated = set(lexicon.mentions(answer)) & (set(clip.visible) - set(audible))
        truthful = answer_format(audible)
        if hallucinated and answer.strip() != truthful:
            pairs.append(_make("on_policy", clip, prompt, truthful, answer.strip(), audio, AudioRecipe("own")))
    return pairs


def contrast_kinds(kind: str, audible: Sequence[str], audio: str) -> tuple[str, ...]:
    """The contrast tracks under which a pair's y+ would be wrong: every one for a pair that asks about the clip's
    own track and whose y+ names a sound of it; only the stored swap partner otherwise (a "no", a listing
    "nothing", an on-policy pair whose a' is the clip's own track)."""
    if kind in SOUNDING_KINDS and audible and recipe_from_json(audio).kind == "own":
        return tuple(CONTRAST_TRACKS)
    return ("swap",)


def draw_contrasts(choosable: Sequence[bool], draws: Sequence[int], mix: Mapping[str, float], seed: int) -> list[str]:
    """The contrast track of each drawn pair (``draws`` index ``choosable``, whether a pair admits every contrast
    track): by ``mix``'s shares where it does, its swap partner otherwise.

    A generator of its own (seeded by ``seed``), drawn from only for the pairs that admit a choice: the pair draws
    stay as they are whatever the mix, and a mix of swaps only draws nothing at all."""
    kinds = [k for k in CONTRAST_TRACKS if mix.get(k, 0) > 0]
    if kinds == ["swap"]:
        return ["swap"] * len(draws)
    weights = [mix[k] for k in kinds]
    rng = random.Random(stable_hash(seed, "contrast tracks"))
    return [rng.choices(kinds, weights)[0] if choosable[index] else "swap" for index in draws]


def with_contrast(pair: Mapping, contrast: str) -> dict:
    """The pair with ``contrast`` (a CONTRAST_TRACKS name) as its a'; "swap" keeps the stored partner."""
    track = CONTRAST_TRACKS[contrast]
    return dict(pair) if track is None else {**pair, "contrast_audio": recipe_json(track)}


def save_pairs(pairs: Sequence[Pair], output_dir: str | Path, meta: dict) -> Path:
    import datasets

    datasets.disable_progress_bars()
    if not pairs:
        raise ValueError("no preference pairs could be built: the data needs visible and audible labels that "
                         "sometimes disagree (a visible source that is silent, or an off-screen sound)")
    output = Path(output_dir)
    rows = [{**p.__dict__, "visible": list(p.visible), "audible": list(p.audible)} for p in pairs]
    datasets.Dataset.from_list(rows).save_to_disk(str(output / PAIRS_DIR))
    counts = {kind: sum(p.kind == kind for p in pairs) for kind in KINDS}
    (output / "pairs.json").write_text(json.dumps({**meta, "counts": counts, "total": len(pairs)}, indent=1) + "\n")
    return output


def load_pairs(directory: str | Path):
    import datasets

    path = Path(directory) / PAIRS_DIR
    if not path.is_dir():
        raise ValueError(f"{directory}: no {PAIRS_DIR}/ dataset; build one with `acpo-bench pairs build`")
    datasets.disable_progress_bars()
    return datasets.load_from_disk(str(path))
