"""Qwen's own inference path against the adapter, on the same probes and audio recipes.

The official path is what Qwen's model cards do: ``qwen_omni_utils.process_mm_info(conversation,
use_audio_in_video=True)`` reads the video file (frames by its index rule, resized to its pixel budget; the track
through ffmpeg and librosa), the processor's chat template renders the conversation, the processor builds the
inputs, then ``generate`` (greedy) and a plain forward for the yes/no log-probs. One call differs from the cards:
transformers >= 5.23 refuses the processor argument ``use_audio_in_video=True`` that they pass, and its replacement
``load_audio_from_video=True, audio_from_video_indices=[0]`` is used (the model's own ``use_audio_in_video=True``
is unchanged). A recipe other than the clip's own track (swapped, silence) becomes a file holding the clip's video
stream, copied, and that recipe's audio as 16-bit PCM, which is what the official path then reads; the clip's own
track is handed over the same way (our decoded track as PCM), so the comparison is of the inference paths. How the
two decoders differ on the clip's own file (ffmpeg + librosa there, PyAV here) is measured on its own: frames and
samples, reported as ``decode``.

Our path is the adapter with ``preset=qwen-utils`` on the clip and recipe as the runner gives them. Reported per
probe: equal greedy text, and the largest |Δ log p| of the yes/no choices.

    python benchmarks/official_path.py --data DIR [--model-args path=CKPT] [--probes 6] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from acpo_bench.adapter import Request
from acpo_bench.clips import load_clips
from acpo_bench.media_store import MediaStore
from acpo_bench.schemas import AudioRecipe, Probe

QUESTIONS = ("Answer yes or no. Is there a sound of {x}?", "What sounds can you hear?")


def probes_for(clips, count: int) -> list[Probe]:
    """Own, swapped and silent tracks under a clip's video, each asked a yes/no and an open question."""
    out = []
    for i in range(count):
        clip, partner = clips.clips[i % len(clips.clips)], clips.clips[(i + 1) % len(clips.clips)]
        recipe = (AudioRecipe("own"), AudioRecipe("swap", partner.video, partner.content_id),
                  AudioRecipe("silence"))[i % 3]
        audible = {"own": clip.audible, "swap": partner.audible, "silence": ()}[recipe.kind]
        label = (clip.visible or clips.lexicon.classes)[0]
        for name, question in zip(("sound_of", "list_sounds"), QUESTIONS, strict=True):
            kind = "yes_no" if name == "sound_of" else "open"
            out.append(Probe(task="official_path", clip_id=clip.clip_id, video=clip.video, video_id=clip.content_id,
                             audio=recipe, kind=kind, modality="audio", question=name,
                             prompt=question.format(x=label), paraphrase=0, visible=clip.visible,
                             audible=tuple(audible), condition=recipe.kind,
                             expected=("yes" if label in audible else "no") if kind == "yes_no" else None))
    return out


def remux(video: str, audio: np.ndarray, sample_rate: int, path: Path) -> str:
    """The clip's video stream, copied, under ``audio`` as 16-bit PCM (Matroska): what the official path reads."""
    import av

    with av.open(video) as source, av.open(str(path), "w", format="matroska") as out:
        vin = source.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream("pcm_s16le", rate=sample_rate, layout="mono")
        for packet in source.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            out.mux(packet)
        samples = np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, 0, Fraction(1, sample_rate)
        for packet in aout.encode(frame):
            out.mux(packet)
        for packet in aout.encode():
            out.mux(packet)
    return str(path)


def official_inputs(processor, system_prompt: str | None, video: str, prompt: str, device: str):
    from qwen_omni_utils import process_mm_info

    conversation = []
    if system_prompt:
        conversation.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    conversation.append({"role": "user", "content": [{"type": "video", "video": video},
                                                     {"type": "text", "text": prompt}]})
    text = processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    audios, images, videos, video_kwargs = process_mm_info(conversation, use_audio_in_video=True,
                                                           return_video_kwargs=True)
    return processor(text=text, audio=audios, images=images, videos=videos, return_tensors="pt", padding=True,
                     load_audio_from_video=True, audio_from_video_indices=[0],
                     videos_kwargs={"fps": video_kwargs["fps"][0], "do_sample_frames": False}).to(device)


def compare(adapter, clips, count: int, max_new_tokens: int = 8) -> dict:
    model, processor, device = adapter.model, adapter.processor, adapter.device
    store = MediaStore(adapter.media_spec)
    probes = probes_for(clips, count)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for probe in probes:
            media = store.load(probe.video, probe.video_id, probe.audio)
            prepared = adapter.prepare(probe, adapter.media_spec,
                                       lambda p=probe: store.load(p.video, p.video_id, p.audio))
            request = Request(probe, None, prepared=prepared)
            video = remux(probe.video, media.audio, media.sample_rate, Path(tmp) / f"{probe.probe_id}.mkv")
            inputs = official_inputs(processor, adapter.system_prompt, video, probe.prompt, device)
            with torch.inference_mode():
                if probe.kind == "yes_no":
                    logits = model(**inputs, use_audio_in_video=True).logits[:, -1].float().log_softmax(-1)
                    official = adapter._choice_scores(logits, ("yes", "no"))[0]
                    ours = adapter.score_choices([request], ("yes", "no"))[0]
                    rows.append({"probe": probe.probe_id, "recipe": probe.audio.kind, "kind": probe.kind,
                                 "max_abs_logprob_diff": max(abs(official[c] - ours[c]) for c in official)})
                else:
                    out = model.generate(**inputs, use_audio_in_video=True, max_new_tokens=max_new_tokens,
                                         do_sample=False, pad_token_id=adapter.tokenizer.pad_token_id,
                                         eos_token_id=adapter.tokenizer.eos_token_id)
                    official = adapter.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:],
                                                        skip_special_tokens=True).strip()
                    ours = adapter.generate([request], max_new_tokens)[0]
                    rows.append({"probe": probe.probe_id, "recipe": probe.audio.kind, "kind": probe.kind,
                                 "official": official, "ours": ours, "equal": official == ours})
    yes_no = [r["max_abs_logprob_diff"] for r in rows if r["kind"] == "yes_no"]
    decode = decoders(adapter, store, clips.clips[0].video, clips.clips[0].content_id)
    texts = [r["equal"] for r in rows if r["kind"] == "open"]
    return {"probes": len(rows), "max_abs_logprob_diff": max(yes_no), "texts_equal": f"{sum(texts)}/{len(texts)}",
            "recipes": sorted({r["recipe"] for r in rows}), "decode": decode, "rows": rows}


def decoders(adapter, store: MediaStore, video: str, video_id: str) -> dict:
    """The official reader (qwen-omni-utils: decord frames, ffmpeg + librosa audio) against ours on one clip's own
    file: which frames, their pixels after the resize, and the track's samples."""
    from qwen_omni_utils import process_mm_info

    from acpo_bench.models.qwen_omni.features import qwen_utils_resize

    conversation = [{"role": "user", "content": [{"type": "video", "video": video}]}]
    audios, _, videos = process_mm_info(conversation, use_audio_in_video=True)
    media = store.load(video, video_id, AudioRecipe("own"))
    ours = qwen_utils_resize(media.frames)
    theirs, track = videos[0], audios[0]
    common = min(len(track), len(media.audio))
    return {"frames": [len(theirs), len(ours)], "frame_size": [list(theirs.shape[2:]), list(ours.shape[2:])],
            "max_abs_pixel_diff": float((theirs - ours).abs().max()) if theirs.shape == ours.shape else None,
            "audio_samples": [len(track), len(media.audio)],
            "max_abs_sample_diff": float(np.abs(track[:common] - media.audio[:common]).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a clip dataset (e.g. `acpo-bench data build stamps`)")
    parser.add_argument("--model", default="qwen-omni-tiny")
    parser.add_argument("--model-args", default="")
    parser.add_argument("--probes", type=int, default=6, help="clips x recipes (each asked yes/no and open)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    from acpo_bench.adapter import parse_model_args
    from acpo_bench.workflows.evaluation import load_model

    model_args = {**parse_model_args(args.model_args), "preset": "qwen-utils", "feature_cache": "false"}
    adapter = load_model(args.model, model_args, None)
    result = compare(adapter, load_clips(args.data), args.probes)
    summary = {k: v for k, v in result.items() if k != "rows"}
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")
    main()
