"""The Qwen-Omni adapter: a Qwen2.5-Omni (or Qwen3-Omni) thinker from transformers, never the talker.

The probe's audio (own, swapped, silent or noise) is fed as the video's own audio track, interleaved with the
frames in 2 s chunks exactly as the model was trained (``audio_from_video_indices`` + ``use_audio_in_video``), inside
the checkpoint's own chat template. Yes/no probes are answered from the log-probs of the yes/no tokens at the
answer position, with the LM head applied to that position only; open probes by batched greedy generation with
left padding.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from acpo_bench import __version__
from acpo_bench.adapter import ModelLoadError, Request
from acpo_bench.media import Media, MediaError, MediaSpec, content_id, silence
from acpo_bench.models.qwen_omni.contrastive import ContrastiveLogits, ContrastiveSettings, contrastive_logprobs
from acpo_bench.models.qwen_omni.features import (
    _LRU,
    FeatureStore,
    Featurizer,
    MediaInputs,
    _pad_features,
    collate,
    encode_audio,
    encode_videos,
    frames_key,
    processor_settings,
    prompt_parts,
    shared_media_embeddings,
)
from acpo_bench.models.qwen_omni.quiet import no_transformers_progress_bars
from acpo_bench.models.qwen_omni.shared_prefix import PrefixCache, PrefixRow, RopeIndex, last_hidden
from acpo_bench.models.qwen_omni.tower_attention import TOWER_ATTENTION, use_varlen_tower_attention
from acpo_bench.paths import cache_root
from acpo_bench.schemas import AudioRecipe, stable_hash
from acpo_bench.worlds import check_world

ENCODER_CACHE_ITEMS = 256  # clips whose tower outputs stay in memory (a batch sorted by media needs a handful)
VIDEO_CACHE_ITEMS = 64  # videos whose vision-tower outputs stay in memory
SETTINGS_FILE = "acpo_bench.json"  # evaluation defaults a checkpoint carries (frames, pixel range, system prompt)
QWEN_SYSTEM_PROMPT = ("You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
                      "perceiving auditory and visual inputs, as well as generating text and speech.")


@dataclass(frozen=True)
class Family:
    name: str
    thinker_class: str
    processor_class: str
    default_checkpoint: str
    system_prompt: str | None
    # encode each clip once and pass embeddings: right for Qwen2.5-Omni, whose towers feed only the input
    # embeddings; Qwen3-Omni also injects "deepstack" visual features into early LM layers, which only its own
    # forward computes, so it is scored through that forward
    encode_once: bool


FAMILIES = {
    "qwen-omni": Family("qwen-omni", "Qwen2_5OmniThinkerForConditionalGeneration", "Qwen2_5OmniProcessor",
                        "Qwen/Qwen2.5-Omni-7B", QWEN_SYSTEM_PROMPT, encode_once=True),
    "qwen3-omni": Family("qwen3-omni", "Qwen3OmniMoeThinkerForConditionalGeneration", "Qwen3OmniMoeProcessor",
                         "Qwen/Qwen3-Omni-30B-A3B-Instruct", None, encode_once=False),
}
KNOWN_ARGS = {"path", "dtype", "device", "attn", "frames", "fps", "max_new_tokens", "batch_size", "system_prompt",
              "download", "trust_remote_code", "feature_cache", "preset", "decoding", "alpha", "beta"}
# preset=qwen-utils: the inputs Qwen's model cards build (qwen-omni-utils' process_mm_info): frames at 2 per second
# by its index rule, resized to its pixel budget, the processor's own video settings and the family's system prompt
PRESETS = ("checkpoint", "qwen-utils")
DTYPES = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16", "fp32": "float32",
          "float32": "float32"}


def resolve_checkpoint(path_or_id: str, download: bool = False) -> Path:
    """A local checkpoint directory for a path or a hub id, without touching the network unless asked."""
    local = Path(path_or_id).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ModelLoadError(f"{local}: not a checkpoint directory (no config.json)")
        return local.resolve()
    if path_or_id.startswith((".", "/", "~")) or os.sep in path_or_id.strip("/").replace("/", "", 1):
        raise ModelLoadError(f"{path_or_id}: no such checkpoint directory")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(path_or_id, local_files_only=not download))
    except LocalEntryNotFoundError:
        cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        raise ModelLoadError(
            f"{path_or_id} is not in the local Hugging Face cache ({cache}) and acpo-bench does not download "
            f"weights by itself. Fetch it where there is network with `hf download {path_or_id} --local-dir DIR` "
            f"(the `hf` command of huggingface_hub) and pass --model-args path=DIR, or allow a download with "
            f"--model-args download=true."
        ) from None
    except Exception as exc:  # hub ids that are malformed, gated, ... : say what was tried
        raise ModelLoadError(f"cannot resolve checkpoint {path_or_id!r}: {exc}") from None


def files_identity(directory: Path) -> dict[str, str]:
    """content ids of the files that define a checkpoint or adapter (weights, configs, tokenizer)."""
    names = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in {".json", ".safetensors", ".bin",
                                                                                   ".txt", ".jinja", ".model"})
    return {p.name: content_id(p) for p in names}


class QwenOmniAdapter:
    supports_loglik = True

    def __init__(self, family: Family, checkpoint: Path, model_args: dict[str, str], adapter_dir: str | None) -> None:
        check_model_args(family, model_args)
        import torch
        import transformers

        settings = checkpoint_settings(checkpoint)
        self.name = family.name
        self.family = family
        self.device = model_args.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype_name = model_args.get("dtype") or ("bf16" if self.device.startswith("cuda") else "fp32")
        if dtype_name not in DTYPES:
            raise ValueError(f"--model-args dtype={dtype_name!r}: use one of bf16, fp16, fp32")
        dtype = getattr(torch, DTYPES[dtype_name])
        attn = model_args.get("attn", "sdpa")
        thinker_class = getattr(transformers, family.thinker_class)
        # security: code shipped with a checkpoint runs only when the user asks; weights load from safetensors only
        trust = model_args.get("trust_remote_code", "false").lower() == "true"
        with no_transformers_progress_bars():
            self.processor = getattr(transformers, family.processor_class).from_pretrained(
                str(checkpoint), trust_remote_code=trust)
            if not any(checkpoint.glob("*.safetensors")):
                raise ModelLoadError(f"{checkpoint}: no *.safetensors weights; acpo-bench loads weights only from "
                                     "safetensors (pickled .bin files can run code): convert the checkpoint, e.g. "
                                     "from_pretrained(...).save_pretrained(DIR, safe_serialization=True)")
            model = thinker_class.from_pretrained(str(checkpoint), dtype=dtype, attn_implementation=attn,
                                                  use_safetensors=True, trust_remote_code=trust).to(self.device)
            if adapter_dir:
                model = _load_lora(model, adapter_dir)
        identity = {
            "family": family.name, "checkpoint": files_identity(checkpoint),
            "adapter": files_identity(Path(adapter_dir)) if adapter_dir else None, "dtype": DTYPES[dtype_name],
            "attn": attn, "system_prompt": model_args.get("system_prompt", settings.get("system_prompt",
                                                                                     family.system_prompt)),
            "videos_kwargs": settings.get("videos_kwargs"),
            "template": getattr(self.processor, "chat_template", None),
        }
        self._setup(model, settings, model_args, identity)

    @classmethod
    def in_memory(cls, family: Family, model, processor, settings: dict | None = None,
                  model_args: dict[str, str] | None = None, identity: dict | None = None) -> QwenOmniAdapter:
        """An adapter around a thinker and processor already in memory (benchmarks with random weights at real
        size; no checkpoint on disk). ``identity`` stands in for the checkpoint's files in the fingerprint."""
        adapter = cls.__new__(cls)
        adapter.name = family.name
        adapter.family = family
        adapter.processor = processor
        adapter.device = str(next(model.parameters()).device)
        adapter._setup(model, dict(settings or {}), dict(model_args or {}), {"family": family.name,
                                                                           "in_memory": identity or {}})
        return adapter

    def _setup(self, model, settings: dict, model_args: dict[str, str], identity: dict) -> None:
        preset = model_args.get("preset", "checkpoint")
        if preset not in PRESETS:
            raise ValueError(f"--model-args preset={preset!r}: use one of {', '.join(PRESETS)}")
        if preset == "qwen-utils":  # Qwen's own settings replace what the checkpoint's acpo_bench.json says
            settings = {k: v for k, v in settings.items()
                        if k not in ("frames", "fps", "videos_kwargs", "system_prompt")}
        self.preset = preset
        if preset != "checkpoint":
            identity = {**identity, "preset": preset}
        # decoding=contrastive: every answer contrasts the input with the same input under silence (contrastive.py)
        self.contrastive = ContrastiveSettings.from_model_args(model_args)
        if self.contrastive is not None:
            identity = {**identity, "decoding": {"contrastive": vars(self.contrastive)}}
        self.forwards = {"full": 0, "contrast": 0}  # rows answered, and rows run again under silence to contrast
        self.model = model
        if use_varlen_tower_attention(model):  # one attention call per tower layer, not one per window
            identity = {**identity, "tower_attention": TOWER_ATTENTION}
        self.model.eval()
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.system_prompt = model_args.get("system_prompt", settings.get("system_prompt", self.family.system_prompt))
        # the world the checkpoint was trained on (None: a real model, evaluated on the real-media world)
        self.world = check_world(settings.get("world"), f"{SETTINGS_FILE} field 'world'")
        frames = model_args.get("frames", settings.get("frames"))
        fps = model_args.get("fps", settings.get("fps"))
        if preset == "qwen-utils":
            self.media_spec = MediaSpec(frames=None, fps=float(fps or 2.0), sampling="qwen-utils")
        else:
            self.media_spec = MediaSpec(frames=int(frames) if frames and not fps else (None if fps else 2),
                                        fps=float(fps) if fps else None)
        self.default_batch_size = int(model_args.get("batch_size", settings.get("batch_size", 8)))
        self.max_new_tokens = int(model_args.get("max_new_tokens", settings.get("max_new_tokens", 64)))
        self.parameter_count = sum(p.numel() for p in self.model.parameters())
        videos_kwargs = settings.get("videos_kwargs")
        store = None
        if model_args.get("feature_cache", "true").lower() != "false":
            store = FeatureStore(cache_root() / "features", {**processor_settings(self.processor, videos_kwargs),
                                                             "acpo_bench": __version__, "preset": preset})
        self.featurizer = Featurizer(self.processor, videos_kwargs, store=store,
                                     frame_resize="qwen-utils" if preset == "qwen-utils" else None)
        self._choice_ids: dict[str, list[int]] = {}
        self._prompt_cache: dict = {}
        self._video_cache = _LRU(VIDEO_CACHE_ITEMS)  # tower outputs by video (shared by its audio recipes)
        self._audio_cache = _LRU(ENCODER_CACHE_ITEMS)  # audio tower outputs by media key
        self._file_ids = _LRU(4096)
        self._rope = RopeIndex(_thinker(self.model).model) if self.family.encode_once else None
        self._prefixes = PrefixCache()
        self._identity = identity

    def fingerprint(self) -> str:
        return "sha256:" + stable_hash(self._identity, length=64)

    # --- prompts --------------------------------------------------------------------------------------------

    def _conversation(self, prompt: str) -> list[dict]:
        messages = []
        if self.system_prompt:
            messages.append({"role": "system", "content": [{"type": "text", "text": self.system_prompt}]})
        messages.append({"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]})
        return messages

    def _parts(self, prompt: str):
        if prompt not in self._prompt_cache:
            text = self.processor.apply_chat_template(self._conversation(prompt), add_generation_prompt=True,
                                                      tokenize=False)
            self._prompt_cache[prompt] = prompt_parts(self.processor, text)
        return self._prompt_cache[prompt]

    def prepare(self, probe, spec: MediaSpec, load) -> Prepared:
        """The probe's media inputs, ahead of the model: the runner calls this in worker threads while the model
        answers earlier batches. From memory, else from the feature store (by the files' content, the audio recipe
        and the frame sampling), else ``load()`` + the processor."""
        prepared = self._prepare_one(probe, spec, load)
        if self.contrastive is None:
            return prepared
        silent = _silenced_probe(probe)
        contrast = self._prepare_one(silent, spec, lambda: _silenced(load()))
        return Prepared(prepared.key, prepared.inputs, contrast)

    def _prepare_one(self, probe, spec: MediaSpec, load) -> Prepared:
        identity = self._media_identity(probe, spec)
        key = ("prepared", identity) if identity else ("prepared", probe.media_key, spec.key(), spec.sample_rate)
        return Prepared(key, self.featurizer.get(key, load, identity))

    def _media_identity(self, probe, spec: MediaSpec) -> tuple[str, str] | None:
        """(video, audio) names for the feature store, from file contents rather than paths; None when a file
        cannot be read (the decoder then reports it exactly as without the store)."""
        try:
            video = self._file_id(probe.video)
            source = self._file_id(probe.audio.source) if probe.audio.kind == "swap" else None
        except MediaError:
            return None
        return (f"{video}|{spec.key()}", stable_hash(probe.video_id, probe.audio.key(), source, spec.sample_rate))

    def _file_id(self, path: str) -> str:
        found = self._file_ids.get(path)
        return found if found is not None else self._file_ids.put(path, content_id(path))

    def _inputs(self, request: Request) -> tuple[tuple, MediaInputs]:
        if request.prepared is not None:
            return request.prepared.key, request.prepared.inputs
        key = (request.probe.media_key, frames_key(request.media))
        return key, self.featurizer(key, request.media)

    def _rows(self, requests: Sequence[Request]):
        """Token sequences, media keys and media inputs of the requests (rows sharing a key share a clip)."""
        sequences, media, keys = [], [], []
        for request in requests:
            parts = self._parts(request.probe.prompt)
            key, inputs = self._inputs(request)
            sequences.append((*parts.before, *inputs.placeholder_ids, *parts.after))
            media.append(inputs)
            keys.append(key)
        return sequences, keys, media

    def _batch(self, requests: Sequence[Request]) -> dict:
        """The batch as the thinker's own forward/generate takes it (every row with its media)."""
        sequences, _, media = self._rows(requests)
        batch = collate(sequences, media, self.tokenizer.pad_token_id, padding_side="left")
        return {k: v.to(self.device) for k, v in batch.items()}

    def _encoded(self, keys: list[tuple], media: Sequence[MediaInputs]) -> tuple[list, list]:
        """Video and audio embeddings of the batch's distinct clips, in order of first appearance, from the encoder
        caches where possible: each video goes through the vision tower once per run whatever audio plays under it,
        and each (video, audio) pair through the audio tower once."""
        import torch

        thinker = _thinker(self.model)
        order = list(dict.fromkeys(keys))
        inputs = {k: media[keys.index(k)] for k in order}
        if len(order) > min(VIDEO_CACHE_ITEMS, ENCODER_CACHE_ITEMS):  # more clips than the caches hold
            return self._encode_uncached(order, inputs)
        names = {k: inputs[k].video_key or ("clip", k) for k in order}
        new_videos = list(dict.fromkeys(names[k] for k in order if self._video_cache.get(names[k]) is None))
        if new_videos:
            first = [next(k for k in order if names[k] == name) for name in new_videos]
            pixels = torch.cat([inputs[k].pixel_values_videos for k in first]).to(self.device)
            grids = torch.cat([inputs[k].video_grid_thw for k in first]).to(self.device)
            for name, video in zip(new_videos, encode_videos(thinker, pixels, grids), strict=True):
                self._video_cache.put(name, video)
        new_audio = [k for k in order if self._audio_cache.get(k) is None]
        if new_audio:
            features = _pad_features([inputs[k].input_features for k in new_audio]).to(self.device)
            masks = _pad_features([inputs[k].feature_attention_mask for k in new_audio]).to(self.device)
            counts = [inputs[k].placeholder_ids.count(self.tokenizer.audio_token_id) for k in new_audio]
            for key, audio in zip(new_audio, encode_audio(thinker, features, masks, counts), strict=True):
                self._audio_cache.put(key, audio)
        return [self._video_cache.get(names[k]) for k in order], [self._audio_cache.get(k) for k in order]

    def _encode_uncached(self, order, inputs) -> tuple[list, list]:
        import torch

        thinker = _thinker(self.model)
        videos = encode_videos(thinker, torch.cat([inputs[k].pixel_values_videos for k in order]).to(self.device),
                               torch.cat([inputs[k].video_grid_thw for k in order]).to(self.device))
        audio = encode_audio(thinker, _pad_features([inputs[k].input_features for k in order]).to(self.device),
                             _pad_features([inputs[k].feature_attention_mask for k in order]).to(self.device),
                             [inputs[k].placeholder_ids.count(self.tokenizer.audio_token_id) for k in order])
        return videos, audio

    def choice_ids(self, choice: str) -> list[int]:
        """Single tokens that begin the answer ``choice`` ("yes", "Yes", " yes", ...): their probability mass
        together is the choice's probability at the answer position."""
        if choice not in self._choice_ids:
            ids = set()
            for variant in {choice, choice.capitalize(), " " + choice, " " + choice.capitalize()}:
                encoded = self.tokenizer.encode(variant, add_special_tokens=False)
                if len(encoded) == 1:
                    ids.add(encoded[0])
            if not ids:
                raise RuntimeError(f"no single token of {self.name}'s tokenizer spells {choice!r}; "
                                 "use --scoring generate")
            self._choice_ids[choice] = sorted(ids)
        return self._choice_ids[choice]

    # --- the two ways of answering -------------------------------------------------------------------------

    def score_choices(self, requests: Sequence[Request], choices: Sequence[str]) -> list[dict[str, float]]:
        logprobs = self._answer_logprobs(requests)
        self.forwards["full"] += len(requests)
        if self.contrastive is None:
            return self._choice_scores(logprobs, choices)
        silenced = self._answer_logprobs(_contrast_requests(requests))
        self.forwards["contrast"] += len(requests)
        scores = self._choice_scores(contrastive_logprobs(logprobs, silenced, self.contrastive), choices)
        # a row whose every choice falls below the plausibility cut-off (the model prefers another first token by
        # far) is contrasted without the cut-off, so that it still has an answer
        uncut = self._choice_scores(contrastive_logprobs(logprobs, silenced, self.contrastive, plausibility=False),
                                    choices)
        return [row if any(v > float("-inf") for v in row.values()) else fallback
                for row, fallback in zip(scores, uncut, strict=True)]

    def _answer_logprobs(self, requests: Sequence[Request]):
        """Log-probs over the vocabulary at each request's answer position, (n, V) float32."""
        import torch

        if not self.family.encode_once:
            batch = self._batch(requests)
            with torch.inference_mode():
                logits = self.model(**batch, use_audio_in_video=True).logits[:, -1]
            return logits.float().log_softmax(-1)
        thinker = _thinker(self.model)
        rows, keys, media = [], [], []
        for request in requests:
            parts = self._parts(request.probe.prompt)
            key, inputs = self._inputs(request)
            keys.append(key)
            media.append(inputs)
            prefix = (*parts.before, *inputs.placeholder_ids)
            rows.append((key, parts, prefix, inputs))
        clips = list(dict.fromkeys(keys))
        with torch.inference_mode():
            video, audio = self._encoded(keys, media)
            prefix_rows = [PrefixRow((key, parts.before), clips.index(key), prefix, parts.after,
                                     self._rope.row(key, parts.before, inputs, parts.after))
                           for key, parts, prefix, inputs in rows]
            hidden = last_hidden(thinker, prefix_rows, video, audio, self.tokenizer.video_token_id,
                                 self.tokenizer.audio_token_id, self.tokenizer.pad_token_id, self._prefixes)
            # the LM head only where a log-prob is needed: the answer position
            return thinker.lm_head(hidden).float().log_softmax(-1)

    def _choice_scores(self, logprobs, choices: Sequence[str]) -> list[dict[str, float]]:
        import torch

        return [{c: float(torch.logsumexp(row[self.choice_ids(c)], dim=0)) for c in choices} for row in logprobs]

    def generate(self, requests: Sequence[Request], max_new_tokens: int) -> list[str]:
        import torch

        self.forwards["full"] += len(requests)
        processors = []
        if self.contrastive is not None:
            # the contrast rows ride in the same batch, after the real ones; both halves take the same tokens
            requests = [*requests, *_contrast_requests(requests)]
            processors = [ContrastiveLogits(self.contrastive)]
            self.forwards["contrast"] += len(requests) // 2
        with torch.inference_mode():
            if self.family.encode_once:  # media through the towers once per clip, not once per row
                sequences, keys, media = self._rows(requests)
                batch = collate(sequences, media, self.tokenizer.pad_token_id, padding_side="left")
                batch = {k: v.to(self.device) for k, v in batch.items()}
                clips = list(dict.fromkeys(keys))
                video, audio = self._encoded(keys, media)
                embeds = shared_media_embeddings(_thinker(self.model), batch["input_ids"],
                                                 [clips.index(k) for k in keys], video, audio,
                                                 self.tokenizer.video_token_id, self.tokenizer.audio_token_id)
                for name in ("pixel_values_videos", "input_features"):
                    batch.pop(name)
                batch["inputs_embeds"] = embeds
            else:
                batch = self._batch(requests)
            output = self.model.generate(**batch, use_audio_in_video=True, max_new_tokens=max_new_tokens,
                                         do_sample=False, pad_token_id=self.tokenizer.pad_token_id,
                                         eos_token_id=self.tokenizer.eos_token_id, logits_processor=processors)
        new = output[:, batch["input_ids"].shape[1]:]  # with input_ids given, the output starts with them
        if processors:
            new = new[:len(requests) // 2]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]


@dataclass(frozen=True)
class Prepared:
    """What :meth:`QwenOmniAdapter.prepare` hands the runner for a probe: its featurizer key and media inputs, and
    under contrastive decoding the same for the probe with its track silenced."""

    key: tuple
    inputs: MediaInputs
    contrast: Prepared | None = None


def _silenced_probe(probe):
    """The probe with its audio evidence removed: the same video, prompt and kind under digital silence."""
    return replace(probe, audio=AudioRecipe("silence"))


def _silenced(media: Media) -> Media:
    return replace(media, audio=silence(len(media.audio)))


def _contrast_requests(requests: Sequence[Request]) -> list[Request]:
    """Each request's contrast: prepared ahead by :meth:`QwenOmniAdapter.prepare`, else silenced here."""
    out = []
    for request in requests:
        probe = _silenced_probe(request.probe)
        if request.prepared is not None and request.prepared.contrast is not None:
            out.append(Request(probe, None, request.vocabulary, request.prepared.contrast))
        else:
            if request.media is None:
                raise RuntimeError("contrastive decoding needs the request's media or its prepared contrast")
            out.append(Request(probe, _silenced(request.media), request.vocabulary))
    return out


def _thinker(model):
    """The thinker itself (under a peft wrapper, its base model with the LoRA layers injected)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _load_lora(model, adapter_dir: str):
    path = Path(adapter_dir).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ModelLoadError(f"--adapter {adapter_dir}: no adapter_config.json there (expected a peft LoRA "
                             "directory, e.g. the output of `acpo-bench train`)")
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelLoadError("--adapter needs peft: pip install peft") from None
    return PeftModel.from_pretrained(model, str(path))


def checkpoint_settings(checkpoint: Path) -> dict:
    """The evaluation settings a checkpoint carries in acpo_bench.json (frames, pixel range, system prompt)."""
    path = checkpoint / SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from None


def check_model_args(family: Family, model_args: dict[str, str]) -> None:
    unknown = set(model_args) - KNOWN_ARGS
    if unknown:
        raise ValueError(f"--model-args: unknown key(s) {sorted(unknown)} for {family.name}; known: "
                         f"{sorted(KNOWN_ARGS)}")


def load_family(family: str, model_args: dict[str, str], adapter: str | None) -> QwenOmniAdapter:
    spec = FAMILIES[family]
    check_model_args(spec, model_args)
    path = model_args.get("path", spec.default_checkpoint)
    checkpoint = resolve_checkpoint(path, download=model_args.get("download", "false").lower() == "true")
    return QwenOmniAdapter(spec, checkpoint, model_args, adapter)


def qwen_omni(model_args: dict[str, str], adapter: str | None = None) -> QwenOmniAdapter:
    """Qwen2.5-Omni thinker (default Qwen/Qwen2.5-Omni-7B from the local cache, or path=DIR)."""
    return load_family("qwen-omni", model_args, adapter)


def qwen3_omni(model_args: dict[str, str], adapter: str | None = None) -> QwenOmniAdapter:
    """Qwen3-Omni thinker (default Qwen/Qwen3-Omni-30B-A3B-Instruct from the local cache, or path=DIR)."""
    return load_family("qwen3-omni", model_args, adapter)


TINY_CHECKPOINT = Path(__file__).resolve().parents[1] / "zoo" / "qwen-omni-tiny"
TINY_STAMPS_CHECKPOINT = TINY_CHECKPOINT.with_name("qwen-omni-tiny-stamps")
# embedded model -> (its checkpoint, the `acpo-bench zoo build` name that rebuilds it)
EMBEDDED = {"qwen-omni-tiny": (TINY_CHECKPOINT, "tiny"),
            "qwen-omni-tiny-stamps": (TINY_STAMPS_CHECKPOINT, "tiny-stamps")}


def _embedded(name: str, model_args: dict[str, str], adapter: str | None) -> QwenOmniAdapter:
    checkpoint, build = EMBEDDED[name]
    if "path" in model_args:
        raise ValueError(f"{name} is a bundled checkpoint; for another one use --model qwen-omni "
                         "--model-args path=DIR")
    if not (checkpoint / "config.json").is_file():
        raise ModelLoadError(f"the embedded checkpoint is missing at {checkpoint}; rebuild it with "
                             f"`acpo-bench zoo build {build} --output-dir {checkpoint}`")
    model = QwenOmniAdapter(FAMILIES["qwen-omni"], checkpoint, model_args, adapter)
    model.name = name
    return model


def qwen_omni_tiny(model_args: dict[str, str], adapter: str | None = None) -> QwenOmniAdapter:
    """The embedded model: a 0.5M-parameter Qwen2.5-Omni thinker trained on the synthetic world (ships with the
    package; `acpo-bench zoo build tiny` rebuilds it)."""
    return _embedded("qwen-omni-tiny", model_args, adapter)


def qwen_omni_tiny_stamps(model_args: dict[str, str], adapter: str | None = None) -> QwenOmniAdapter:
    """The same architecture trained on the real-media (stamps) world, Tux Paint's drawings and their recordings
    (ships with the package; `acpo-bench zoo build tiny-stamps` rebuilds it)."""
    return _embedded("qwen-omni-tiny-stamps", model_args, adapter)
