"""``openai-compatible``: a model behind an inference server that speaks the OpenAI chat-completions API with video
input, such as vLLM serving Qwen2.5-Omni (``vllm serve Qwen/Qwen2.5-Omni-7B``).

Each probe's media (the sampled frames and the recipe's audio: own, swapped, silence or noise) is remuxed into ONE
mp4 whose audio track is that audio, and sent as a ``video_url`` data URL beside the prompt, with
``mm_processor_kwargs: {"use_audio_in_video": true}`` so the server feeds the track as the video's own sound (vLLM's
documented switch for Qwen2.5-Omni; without it the model never hears the track). Greedy decoding (temperature 0).

Requests run on a bounded thread pool; 429, 5xx, timeouts and dropped connections are retried with exponential
backoff (a 429's Retry-After is honoured), other 4xx answers fail at once with the server's message. Yes/no probes are
scored from the first token's ``top_logprobs`` when the server returns them (``logprobs=auto`` asks once at load),
otherwise by generation. Only the standard library: no HTTP client to install.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from acpo_bench.adapter import ModelLoadError, Request
from acpo_bench.media import Media, MediaSpec, write_media
from acpo_bench.schemas import stable_hash

KNOWN_ARGS = {"url", "model", "api_key_env", "concurrency", "timeout", "retries", "backoff", "max_backoff",
              "logprobs", "top_logprobs", "system_prompt", "frames", "fps", "max_new_tokens", "batch_size",
              "use_audio_in_video", "crf", "audio_bitrate"}
DEFAULTS = {"url": "http://127.0.0.1:8000/v1", "concurrency": "8", "timeout": "120", "retries": "5", "backoff": "1",
            "max_backoff": "60", "logprobs": "auto", "top_logprobs": "20", "max_new_tokens": "64", "crf": "18",
            "audio_bitrate": "128000",
            "use_audio_in_video": "true", "api_key_env": "OPENAI_API_KEY"}
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
VIDEO_CACHE_ITEMS = 64  # encoded mp4s kept per run: a batch sorted by media asks about a handful of clips


class ServerError(RuntimeError):
    """A request that failed for good; the message names the URL, the status and what the server said."""


class _Retryable(Exception):
    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class Client:
    """JSON over HTTP with retries: 429/5xx/timeouts/dropped connections back off exponentially, 4xx fail at once."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float, retries: int, backoff: float,
                 max_backoff: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key, self.timeout, self.retries = api_key, timeout, retries
        self.backoff, self.max_backoff, self.sleep = backoff, max_backoff, sleep
        self._jitter = random.Random()

    def call(self, path: str, body: dict | None = None) -> dict:
        url = f"{self.base_url}/{path.lstrip('/')}"
        failures: list[str] = []
        for attempt in range(self.retries + 1):
            try:
                return self._once(url, body)
            except _Retryable as exc:
                failures.append(str(exc))
                if attempt == self.retries:
                    break
                delay = min(self.max_backoff, self.backoff * 2 ** attempt)
                self.sleep(exc.delay if exc.delay is not None else delay * (0.5 + self._jitter.random() / 2))
        raise ServerError(f"{url}: gave up after {len(failures)} attempts ({'; '.join(failures[-3:])}); is the "
                          "server overloaded or down? Raise --model-args retries=/timeout=, or lower concurrency=")

    def _once(self, url: str, body: dict | None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            message = _server_message(exc)
            if exc.code in RETRY_STATUS:
                raise _Retryable(f"HTTP {exc.code} {message}", _retry_after(exc)) from None
            raise ServerError(f"{url} answered HTTP {exc.code} {exc.reason}: {message}") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Retryable(f"{type(exc).__name__}: {reason or 'connection closed'}") from None
        try:
            return json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Retryable(f"a reply that is not JSON ({payload[:80]!r})") from None


def _server_message(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()[:2000].decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return "(no body)"
    try:
        error = json.loads(raw).get("error", raw)
        return str(error.get("message", error) if isinstance(error, dict) else error)[:500]
    except (json.JSONDecodeError, AttributeError):
        return raw[:500]


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def choice_logprobs(top: Sequence[dict], choices: Sequence[str]) -> dict[str, float]:
    """Each choice's log-prob at the first answer token from the server's ``top_logprobs`` entries: the mass of
    every listed token that spells it ("yes", "Yes", " yes", ...). A choice outside the list gets a value just
    below the list's last entry (its true log-prob is at most that); if no choice is listed, the answer cannot be
    read from log-probs and the request fails with that reason."""
    by_choice: dict[str, list[float]] = {c: [] for c in choices}
    for entry in top:
        text = str(entry.get("token", "")).strip().lower()
        if text in by_choice and entry.get("logprob") is not None:
            by_choice[text].append(float(entry["logprob"]))
    if not any(by_choice.values()):
        listed = [str(e.get("token")) for e in top[:8]]
        raise ServerError(f"the first token's top {len(top)} log-probs hold none of {list(choices)} (top: {listed}); "
                          "raise --model-args top_logprobs= (vLLM: --max-logprobs), or use --scoring generate")
    floor = math.nextafter(min(float(e["logprob"]) for e in top if e.get("logprob") is not None), -math.inf)
    return {c: float(np.logaddexp.reduce(v)) if v else floor for c, v in by_choice.items()}


class OpenAICompatAdapter:
    name = "openai-compatible"
    parameter_count = None

    def __init__(self, model_args: dict[str, str], client: Client | None = None) -> None:
        unknown = set(model_args) - KNOWN_ARGS
        if unknown:
            raise ValueError(f"--model-args: unknown key(s) {sorted(unknown)} for {self.name}; known: "
                             f"{sorted(KNOWN_ARGS)}")
        args = {**DEFAULTS, **model_args}
        self.url = args["url"].rstrip("/")
        self.concurrency = _positive_int(args, "concurrency")
        self.max_new_tokens = _positive_int(args, "max_new_tokens")
        self.top_logprobs = _positive_int(args, "top_logprobs")
        self.crf = int(args["crf"])
        self.audio_bitrate = _positive_int(args, "audio_bitrate")
        self.default_batch_size = int(args.get("batch_size") or 4 * self.concurrency)
        self.system_prompt = args.get("system_prompt")
        self.use_audio_in_video = _flag(args, "use_audio_in_video")
        frames, fps = args.get("frames"), args.get("fps")
        self.media_spec = MediaSpec(frames=None, fps=float(fps)) if fps else MediaSpec(frames=int(frames or 2))
        self.client = client or Client(self.url, os.environ.get(args["api_key_env"]), float(args["timeout"]),
                                       int(args["retries"]), float(args["backoff"]), float(args["max_backoff"]))
        self.model, self.revision = self._served_model(args.get("model"))
        self._videos: OrderedDict[tuple, str] = OrderedDict()
        self._videos_lock = threading.Lock()
        self._answered: dict[tuple, Any] = {}
        self._answered_lock = threading.Lock()
        mode = args["logprobs"].lower()
        if mode not in ("auto", "true", "false"):
            raise ValueError(f"--model-args logprobs={mode!r}: use auto, true or false")
        self.supports_loglik = self._offers_logprobs() if mode == "auto" else mode == "true"

    # --- identity --------------------------------------------------------------------------------------------

    def _served_model(self, wanted: str | None) -> tuple[str, str | None]:
        try:
            listing = self.client.call("models")
        except ServerError as exc:
            raise ModelLoadError(f"cannot reach the inference server at {self.url} ({exc}). Start it (e.g. `vllm "
                                 "serve Qwen/Qwen2.5-Omni-7B`) or pass --model-args url=http://HOST:PORT/v1") from None
        served = [m for m in listing.get("data", []) if isinstance(m, dict) and m.get("id")]
        ids = [m["id"] for m in served]
        if wanted is None and len(ids) == 1:
            wanted = ids[0]
        if wanted is None or wanted not in ids:
            which = f"model {wanted!r} is not among" if wanted else "name one of"
            raise ModelLoadError(f"{self.url}: {which} the served models {ids}; pass --model-args model=ID")
        entry = served[ids.index(wanted)]
        revision = entry.get("revision") or entry.get("root")
        return wanted, (str(revision) if revision else None)

    def fingerprint(self) -> str:
        """The server and the model it serves (revision or root path where reported), and how requests are made."""
        return "sha256:" + stable_hash("openai-compatible", self.url, self.model, self.revision, self.system_prompt,
                                       self.media_spec.key(), self.crf, self.audio_bitrate, self.use_audio_in_video,
                                       self.top_logprobs, length=64)

    # --- requests --------------------------------------------------------------------------------------------

    def _video_url(self, request: Request) -> str:
        key = (request.probe.media_key, len(request.media.frames), tuple(np.round(request.media.frame_times, 4)))
        with self._videos_lock:
            if key in self._videos:
                self._videos.move_to_end(key)
                return self._videos[key]
        url = "data:video/mp4;base64," + base64.b64encode(mp4_bytes(request.media, self.crf,
                                                                     self.audio_bitrate)).decode()
        with self._videos_lock:
            self._videos[key] = url
            while len(self._videos) > VIDEO_CACHE_ITEMS:
                self._videos.popitem(last=False)
        return url

    def _body(self, video_url: str, prompt: str, max_tokens: int, logprobs: bool) -> dict:
        content = [{"type": "video_url", "video_url": {"url": video_url}}, {"type": "text", "text": prompt}]
        messages = [{"role": "user", "content": content}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
        if self.use_audio_in_video:
            body["mm_processor_kwargs"] = {"use_audio_in_video": True}
        if logprobs:
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
        return body

    def _chat(self, request: Request, max_tokens: int, logprobs: bool) -> dict:
        reply = self.client.call("chat/completions",
                                 self._body(self._video_url(request), request.probe.prompt, max_tokens, logprobs))
        try:
            return reply["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise ServerError(f"{self.url}/chat/completions: a reply without choices ({str(reply)[:200]})") from None

    def _offers_logprobs(self) -> bool:
        """Ask once, with a short silent black clip, whether the server returns the first token's top log-probs."""
        spec = self.media_spec
        frames = np.zeros((spec.frames or 2, 64, 64, 3), dtype=np.uint8)
        media = Media(frames=frames, frame_times=(np.arange(len(frames)) + 0.5) / len(frames),
                      audio=np.zeros(spec.sample_rate, dtype=np.float32), sample_rate=spec.sample_rate, duration=1.0)
        body = self._body("data:video/mp4;base64," + base64.b64encode(mp4_bytes(media, self.crf,
                                                                                self.audio_bitrate)).decode(),
                          "Answer yes or no. Is there any sound?", 1, True)
        try:
            choice = self.client.call("chat/completions", body)["choices"][0]
            return bool(choice["logprobs"]["content"][0]["top_logprobs"])
        except (ServerError, KeyError, IndexError, TypeError):
            return False

    # --- the Adapter protocol ---------------------------------------------------------------------------------

    def _map(self, kind: tuple, requests: Sequence[Request], one: Callable[[Request], Any]) -> list[Any]:
        """``one`` on every request, ``concurrency`` at a time, in order. Answers are kept until handed out, so a
        batch that fails on one request (the runner then retries request by request) sends none of the others
        twice."""
        def answer(request: Request) -> Any:
            key = (*kind, request.probe.probe_id)
            with self._answered_lock:
                if key in self._answered:
                    out = self._answered[key]
                    if isinstance(out, ServerError):
                        raise out
                    return out
            try:
                out = one(request)
            except ServerError as exc:  # failed for good (4xx, retries spent): not sent again on the retry either
                out = exc
            with self._answered_lock:
                self._answered[key] = out
            if isinstance(out, ServerError):
                raise out
            return out

        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(requests)))) as pool:
            futures = [pool.submit(answer, r) for r in requests]
        # every request has ended here; after a failure in a batch the rest stay kept for the one-by-one retry
        if len(requests) == 1 or not any(f.exception() for f in futures):
            self._forget(kind, requests)
        return [f.result() for f in futures]

    def _forget(self, kind: tuple, requests: Sequence[Request]) -> None:
        with self._answered_lock:
            for request in requests:
                self._answered.pop((*kind, request.probe.probe_id), None)

    def generate(self, requests: Sequence[Request], max_new_tokens: int) -> list[str]:
        def one(request: Request) -> str:
            content = self._chat(request, max_new_tokens, logprobs=False).get("message", {}).get("content")
            if isinstance(content, list):  # content parts
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return (content or "").strip()
        return self._map(("generate", max_new_tokens), requests, one)

    def score_choices(self, requests: Sequence[Request], choices: Sequence[str]) -> list[dict[str, float]]:
        def one(request: Request) -> dict[str, float]:
            choice = self._chat(request, 1, logprobs=True)
            try:
                top = choice["logprobs"]["content"][0]["top_logprobs"]
            except (KeyError, IndexError, TypeError):
                raise ServerError(f"{self.url}: the reply has no top_logprobs for the first token; the server does "
                                  "not offer log-probs: use --model-args logprobs=false") from None
            return choice_logprobs(top, choices)
        return self._map(("loglik", tuple(choices)), requests, one)


def mp4_bytes(media: Media, crf: int, audio_bitrate: int | None = None) -> bytes:
    """The probe's media as one mp4 (frames + the recipe's audio as its track), in memory."""
    with tempfile.TemporaryDirectory(prefix="acpo-remux-") as tmp:
        path = Path(tmp) / "probe.mp4"
        write_media(path, media, crf=crf, audio_bitrate=audio_bitrate)
        return path.read_bytes()


def _positive_int(args: dict[str, str], key: str) -> int:
    try:
        value = int(args[key])
    except ValueError:
        raise ValueError(f"--model-args {key}={args[key]!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"--model-args {key} must be >= 1, got {value}")
    return value


def _flag(args: dict[str, str], key: str) -> bool:
    value = str(args[key]).lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"--model-args {key}={args[key]!r}: use true or false")
    return value in ("true", "1", "yes")


def openai_compatible(model_args: dict[str, str], adapter: str | None = None) -> OpenAICompatAdapter:
    """A model behind an OpenAI-compatible server (url=http://HOST:PORT/v1, model=ID)."""
    if adapter:
        raise ValueError("openai-compatible takes no --adapter: serve the merged model (acpo-bench merge) instead")
    return OpenAICompatAdapter(model_args)

