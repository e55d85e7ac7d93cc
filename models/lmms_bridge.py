"""The lmms-eval bridge, both ways (extra ``[lmms]``; lmms-eval itself is imported only when used).

- ``AcpoLmms``: any acpo-bench adapter as an lmms-eval model (``lmms-eval --model acpo --model_args
  model=audio-oracle``; registered under lmms-eval's ``lmms_eval.models`` entry points). On documents exported by
  ``acpo-bench lmms export`` it hands the adapter the document's probe, so reference adapters stay exact; on any
  other lmms-eval task it builds an open probe from the prompt and the task's first video.
- ``LmmsAdapter``: an lmms-eval model as an acpo-bench adapter (``acpo-bench eval --model lmms:<name>
  --model-args k=v``). Each probe's media (the sampled frames and the recipe's audio) is remuxed into one mp4, so
  the lmms-eval model hears a swapped or silenced track as the video's own sound; answers come by generation.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acpo_bench import registry
from acpo_bench.adapter import ModelLoadError, Request
from acpo_bench.media import MediaSpec, write_mp4
from acpo_bench.media_store import MediaStore
from acpo_bench.models import BUILTIN
from acpo_bench.schemas import AudioRecipe, Probe, probe_from_json, probe_to_json, stable_hash

PREFIX = "lmms:"
MODEL_ID = "acpo"
TASK, SPLIT = "acpo", "test"


def _lmms_eval():
    try:
        import lmms_eval  # noqa: F401
        from lmms_eval.api.instance import Instance, unwrap_generation_output
        from lmms_eval.api.model import lmms
    except ImportError as exc:
        raise ModelLoadError(f"lmms-eval is not installed ({exc}): pip install 'acpo-bench[lmms]' — lmms-eval 0.7.3 "
                             "pins av<16 and needs filelock<4; README.md ('lmms-eval') shows a separate venv") from None
    return lmms, Instance, unwrap_generation_output


def manifest():
    """Entry point ``lmms_eval.models``: lmms-eval's registry loads this to find ``AcpoLmms``."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id=MODEL_ID, simple_class_path="acpo_bench.models.lmms_bridge.AcpoLmms")


# --- our adapters inside lmms-eval -----------------------------------------------------------------------------

def _probe_from_doc(doc: dict, context: str, video: str) -> Probe:
    if doc.get("probe"):
        return probe_from_json(doc["probe"])
    return Probe(task="lmms-eval", clip_id=video, video=video, video_id=video, audio=AudioRecipe("own"), kind="open",
                 modality="audio", question="lmms-eval", prompt=context, paraphrase=0, visible=(), audible=(),
                 condition="own")


def _make_acpo_lmms():
    lmms, _, _ = _lmms_eval()

    class AcpoLmms(lmms):
        """An acpo-bench adapter behind lmms-eval's model interface (generation only)."""

        def __init__(self, model: str = "audio-oracle", frames: int = 2, batch_size: int | str = 16,
                     **model_args: Any) -> None:
            super().__init__()
            factory = registry.load(registry.MODEL_GROUP, model, BUILTIN, "model")
            args = {k: str(v) for k, v in model_args.items() if k not in ("device",)}
            self.adapter = factory(args, None)
            self.store = MediaStore(getattr(self.adapter, "media_spec", None) or MediaSpec(frames=int(frames)))
            self.batch = int(batch_size) if str(batch_size).isdigit() else 16

        def generate_until(self, requests) -> list[str]:
            prepared: list[tuple[Request, int]] = []
            for request in requests:
                context, gen_kwargs, doc_to_visual, doc_id, task, split = request.args
                max_new = int((gen_kwargs or {}).get("max_new_tokens", 64))
                doc = self.task_dict[task][split][doc_id]
                visuals = [v for v in (doc_to_visual(doc) or []) if isinstance(v, str)]
                if not visuals:
                    raise ValueError(f"{task} doc {doc_id}: acpo-bench adapters answer about a video file; the task "
                                     "gave none")
                probe = _probe_from_doc(doc, context, visuals[0])
                media = self.store.load(visuals[0], stable_hash(visuals[0]), AudioRecipe("own"))
                vocabulary = tuple(json.loads(doc["vocabulary"])) if doc.get("vocabulary") else ()
                prepared.append((Request(probe, media, vocabulary), max_new))
            out: list[str] = []
            for start in range(0, len(prepared), self.batch):
                chunk = prepared[start:start + self.batch]
                out += self.adapter.generate([r for r, _ in chunk], max(n for _, n in chunk))
            return out

        def loglikelihood(self, requests):
            raise NotImplementedError("the acpo bridge answers by generation; use generate_until tasks")

        def generate_until_multi_round(self, requests):
            raise NotImplementedError("the acpo bridge answers single-round prompts")

    return AcpoLmms


def __getattr__(name: str):
    """``AcpoLmms`` is built on first access, so importing this module never needs lmms-eval."""
    if name == "AcpoLmms":
        cls = _make_acpo_lmms()
        globals()["AcpoLmms"] = cls
        return cls
    raise AttributeError(name)


# --- lmms-eval models inside acpo-bench ------------------------------------------------------------------------

class LmmsAdapter:
    """An lmms-eval model as an acpo-bench adapter; yes/no answers are generated and parsed."""

    supports_loglik = False
    parameter_count = None
    default_batch_size = 8

    def __init__(self, model_name: str, model_args: dict[str, str]) -> None:
        _, self._instance, self._unwrap = _lmms_eval()
        from importlib.metadata import version

        from lmms_eval.models import get_model

        self.name = PREFIX + model_name
        self.model_args = dict(model_args)
        self._version = version("lmms_eval")
        try:
            cls = get_model(model_name)
        except Exception as exc:  # lmms-eval raises several types for unknown or broken models
            raise ModelLoadError(f"lmms-eval has no usable model {model_name!r} ({exc}); `lmms-eval --help` and "
                                 "lmms_eval.models.list_available_models() list them") from None
        arg_string = ",".join(f"{k}={v}" for k, v in self.model_args.items())
        self.model = cls.create_from_arg_string(arg_string, {"batch_size": self.default_batch_size})
        self._tmp = tempfile.TemporaryDirectory(prefix="acpo-lmms-")

    def fingerprint(self) -> str:
        return "sha256:" + stable_hash("lmms-eval", self._version, self.name, sorted(self.model_args.items()),
                                       length=64)

    def _remux(self, request: Request) -> str:
        media = request.media
        path = Path(self._tmp.name) / f"{stable_hash(request.probe.media_key)}.mp4"
        if not path.exists():
            frames = media.frames[:, : media.frames.shape[1] // 2 * 2, : media.frames.shape[2] // 2 * 2]
            fps = max(len(frames) / max(media.duration, 1e-3), 0.5)
            write_mp4(path, frames, fps, media.audio, media.sample_rate)
        return str(path)

    def score_choices(self, requests: Sequence[Request], choices: Sequence[str]) -> list[dict[str, float]]:
        raise NotImplementedError(f"{self.name} answers by generation (use --scoring generate or auto)")

    def generate(self, requests: Sequence[Request], max_new_tokens: int) -> list[str]:
        docs, instances = {}, []
        gen_kwargs = {"max_new_tokens": max_new_tokens, "temperature": 0, "do_sample": False, "until": []}
        for i, request in enumerate(requests):
            docs[i] = {"video": self._remux(request), "prompt": request.probe.prompt,
                       "probe": probe_to_json(request.probe), "vocabulary": json.dumps(request.vocabulary)}
            instances.append(self._instance(request_type="generate_until", idx=0,
                                            arguments=(request.probe.prompt, dict(gen_kwargs),
                                                       lambda doc: [doc["video"]], i, TASK, SPLIT),
                                            metadata={"task": TASK, "doc_id": i, "repeats": 1}))
        self.model.task_dict = {TASK: {SPLIT: docs}}
        outputs = self.model.generate_until(instances)
        return [str(self._unwrap(o)[0]) for o in outputs]


def load_lmms(model_name: str, model_args: dict[str, str], adapter: str | None = None) -> LmmsAdapter:
    if adapter:
        raise ValueError(f"{PREFIX}{model_name}: --adapter is not supported for lmms-eval models")
    return LmmsAdapter(model_name, model_args)
