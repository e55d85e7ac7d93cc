"""A small OpenAI-compatible server on 127.0.0.1 for tests: it serves a qwen-omni adapter (the tiny model) the way
vLLM serves Qwen2.5-Omni (chat completions; the video arrives as a data: URL mp4 whose audio track is the probe's
audio; ``mm_processor_kwargs.use_audio_in_video`` makes the model hear it), and injects faults on a
deterministic schedule: HTTP 500/503/429, slow replies (past the client's timeout) and dropped connections."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from acpo_bench.adapter import Request
from acpo_bench.media import Media, decode_audio, decode_video, fit_length
from acpo_bench.schemas import AudioRecipe, Probe

FAULTS = ("500", "drop", "429", "503", "slow")


def decode_mp4(blob: bytes, spec) -> Media:
    """What the server makes of a posted mp4: acpo-bench's own decode, as a served model's loader would."""
    with tempfile.TemporaryDirectory(prefix="omni-server-") as tmp:
        path = Path(tmp) / "video.mp4"
        path.write_bytes(blob)
        track = decode_video(path, spec)
        audio = decode_audio(path, spec.sample_rate)
    audio = fit_length(audio, int(round(track.duration * spec.sample_rate)), loop=False)
    return Media(frames=track.frames, frame_times=track.times, audio=audio, sample_rate=spec.sample_rate,
                 duration=track.duration)


def request_for(media: Media, prompt: str, video_key: str) -> Request:
    probe = Probe(task="served", clip_id=video_key, video="", video_id=video_key, audio=AudioRecipe("own"),
                  kind="open", modality="audio", question="served", prompt=prompt, paraphrase=0, visible=(),
                  audible=(), condition="own")
    return Request(probe, media)


def first_token_logprobs(adapter, request: Request, k: int) -> list[dict]:
    """The top-k log-probs of the first generated token, from the model's own greedy generate (as a server
    computes them)."""
    import torch

    batch = adapter._batch([request])
    with torch.inference_mode():
        out = adapter.model.generate(**batch, use_audio_in_video=True, max_new_tokens=1, do_sample=False,
                                     output_scores=True, return_dict_in_generate=True,
                                     pad_token_id=adapter.tokenizer.pad_token_id,
                                     eos_token_id=adapter.tokenizer.eos_token_id)
    logprobs = out.scores[0][0].float().log_softmax(-1)
    values, ids = logprobs.topk(min(k, logprobs.numel()))
    return [{"token": adapter.tokenizer.decode([int(i)]), "logprob": float(v)}
            for v, i in zip(values, ids, strict=True)]


class OmniServer:
    """Serve ``adapter`` as model ``model_id``. ``faulty(key, attempt)`` picks the fault of an attempt (None: a
    proper reply); by default the first attempt of a third of the distinct requests fails, the kinds in turn,
    and one in five of those fails once more; at most ``max_slow`` replies are slow."""

    def __init__(self, adapter, model_id: str = "tiny-omni", logprobs: bool = True, slow_s: float = 3.0,
                 max_slow: int = 2, faulty: Callable[[str, int], str | None] | None = None,
                 reject: Callable[[dict], str | None] = lambda body: None) -> None:
        self.adapter, self.model_id, self.logprobs = adapter, model_id, logprobs
        self.slow_s, self.max_slow = slow_s, max_slow
        self.faulty = faulty or self.default_faults
        self.reject = reject
        self.attempts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.rejected = 0
        self._lock = threading.Lock()  # one model, one request at a time (a real engine queues them)
        self._count_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> OmniServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def default_faults(self, key: str, attempt: int) -> str | None:
        h = int(key[:8], 16)
        if attempt == 1 and h % 3 == 0:
            kind = FAULTS[(h // 3) % len(FAULTS)]
            if kind == "slow" and self.injected["slow"] >= self.max_slow:
                return "500"
            return kind
        if attempt == 2 and h % 15 == 0:
            return "503"
        return None

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def reply(self, status: int, payload: dict, headers: dict | None = None) -> None:
                blob = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(blob)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up on a slow reply
                    self.wfile.write(blob)

            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/v1/models":
                    return self.reply(404, {"error": {"message": f"no route {self.path}"}})
                self.reply(200, {"object": "list", "data": [{"id": server.model_id, "object": "model",
                                                             "root": "/models/tiny-omni"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self.reply(404, {"error": {"message": f"no route {self.path}"}})
                status, payload, headers = server.handle(body)
                if status is None:  # drop the connection without a word
                    self.close_connection = True
                    return
                self.reply(status, payload, headers)

        return Handler

    # --- chat completions ---------------------------------------------------------------------------------------

    def handle(self, body: dict) -> tuple[int | None, dict, dict]:
        problem = self._check(body) or self.reject(body)
        if problem:
            with self._count_lock:
                self.rejected += 1
            return 400, {"error": {"message": problem, "type": "BadRequestError"}}, {}
        content = body["messages"][-1]["content"]
        video = next(p["video_url"]["url"] for p in content if p["type"] == "video_url")
        prompt = next(p["text"] for p in content if p["type"] == "text")
        blob = base64.b64decode(video.split(",", 1)[1])
        key = hashlib.sha256(json.dumps([prompt, hashlib.sha256(blob).hexdigest(), bool(body.get("logprobs")),
                                         body.get("max_tokens")]).encode()).hexdigest()
        with self._count_lock:
            self.attempts[key] += 1
            fault = self.faulty(key, self.attempts[key])
            if fault:
                self.injected[fault] += 1
        if fault in ("500", "503"):
            return int(fault), {"error": {"message": "injected server error"}}, {}
        if fault == "429":
            return 429, {"error": {"message": "injected rate limit"}}, {"Retry-After": "0"}
        if fault == "drop":
            return None, {}, {}
        if fault == "slow":
            time.sleep(self.slow_s)
        media = decode_mp4(blob, self.adapter.media_spec)
        request = request_for(media, prompt, hashlib.sha256(blob).hexdigest()[:16])
        with self._lock:
            if body.get("logprobs"):
                top = first_token_logprobs(self.adapter, request, int(body.get("top_logprobs", 0)))
                text, logprobs = top[0]["token"], {"content": [{**top[0], "top_logprobs": top}]}
            else:
                text, logprobs = self.adapter.generate([request], int(body["max_tokens"]))[0], None
        if fault != "slow":
            with self._count_lock:
                self.answered[key] += 1
        return 200, {"id": "chatcmpl-" + key[:12], "object": "chat.completion", "model": self.model_id,
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                  "logprobs": logprobs, "finish_reason": "stop"}]}, {}

    def _check(self, body: dict) -> str | None:
        """What a vLLM server would refuse (400), and what it would silently get wrong (refused here)."""
        if body.get("model") != self.model_id:
            return f"The model `{body.get('model')}` does not exist."
        if body.get("logprobs") and not self.logprobs:
            return "this server does not return log-probs"
        if not (body.get("mm_processor_kwargs") or {}).get("use_audio_in_video"):
            return "use_audio_in_video is off: the model would not hear the video's audio track"
        content = body.get("messages", [{}])[-1].get("content")
        if not isinstance(content, list) or [p.get("type") for p in content] != ["video_url", "text"]:
            return "expected one video_url part then one text part"
        if not content[0]["video_url"]["url"].startswith("data:video/mp4;base64,"):
            return "expected a data:video/mp4;base64 URL"
        if body.get("temperature") != 0:
            return "tests expect greedy decoding (temperature 0)"
        return None
