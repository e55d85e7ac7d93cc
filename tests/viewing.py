"""Real runs for the viewer tests (two reference adapters on six clips of the small world, with the media each probe
saw) and readers of a viewer page's parts: its embedded data, its inline script, its audio as samples."""

from __future__ import annotations

import base64
import io
import json
import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acpo_bench.cli import main

VIEW_MODELS = ("visual-prior", "audio-oracle")  # A wrong where the audio and frames disagree, B right everywhere
_RUNS: dict[Path, dict[str, Path]] = {}


def make_view_runs(small_world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """model name -> run directory (--limit 6: every task, ~770 probes, 24 distinct inputs); made once a session."""
    if small_world_dir not in _RUNS:
        root = tmp_path_factory.mktemp("view-runs")
        runs = _RUNS[small_world_dir] = {}
        for model in VIEW_MODELS:
            runs[model] = root / model
            assert main(["eval", "--model", model, "--tasks", "all", "--data", str(small_world_dir), "--limit", "6",
                         "--output-dir", str(runs[model]), "--quiet", "--no-cache"]) == 0
    return _RUNS[small_world_dir]


def page_data(html: str) -> dict[str, Any]:
    """The JSON the page's script reads, with each row as a {field: value} dict and string indices resolved."""
    blob = re.search(r'<script type="application/json" id="view-data">(.*?)</script>', html, re.S).group(1)
    data = json.loads(blob)
    strings = data["strings"]

    def text(value: Any) -> Any:
        if isinstance(value, list):
            return [text(v) for v in value]
        return None if value is None else strings[value]

    rows = []
    for raw in data["rows"]:
        row = dict(zip(data["fields"], raw, strict=True))
        for name in ("task", "clip", "condition", "setting", "kind", "question", "modality", "target", "expected",
                     "prompt", "visible", "audible", "metrics", "heard", "note", "change"):
            row[name] = text(row[name])
        row["sides"] = [None if s is None else {"response": text(s[0]), "answer": text(s[1]), "correct": s[2],
                                                "why": text(s[3]), "error": text(s[4])} for s in row["sides"]]
        rows.append(row)
    return {**data, "rows": rows}


def inline_script(html: str) -> str:
    return re.search(r"<script>(.*?)</script>", html, re.S).group(1)


def wav_samples(uri: str) -> tuple[np.ndarray, int]:
    """A data:audio/wav URI as float samples in [-1, 1] and its sample rate."""
    prefix = "data:audio/wav;base64,"
    assert uri.startswith(prefix)
    with wave.open(io.BytesIO(base64.b64decode(uri[len(prefix):]))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return pcm.astype(np.float64) / 32767, wav.getframerate()
