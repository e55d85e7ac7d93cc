"""Evaluation throughput: our path against the one-probe-at-a-time generate loop, on the same probes, in one run.

Ours: yes/no probes answered from the yes/no token log-probs in batched forwards (media featurized once per clip
and encoded once per batch), open probes by batched greedy generation with left padding. The alternative is what
lmms-eval's omni wrappers do: for every probe, run the processor on the full input and call generate alone.
Both answer the same probes with the same checkpoint; the script checks the answers agree and prints the ratio.

    python benchmarks/eval_throughput.py --size tiny [--probes 512] [--json out.json]

(--size 3b|7b, real dimensions with random weights on a GPU, belongs to the performance work; see
docs/benchmarks.md.)
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from rich.console import Console
from rich.table import Table

from acpo_bench.adapter import Request
from acpo_bench.media_store import MediaStore
from acpo_bench.models.qwen_omni.adapter import FAMILIES, TINY_CHECKPOINT, QwenOmniAdapter
from acpo_bench.parsing import parse_yes_no
from acpo_bench.registry import resolve
from acpo_bench.runner import build_probes
from acpo_bench.synth.generate import default_world
from acpo_bench.tasks import BUILTIN


def probes_for(count: int, open_share: float):
    world = default_world(show_progress=False)
    tasks = {name: resolve(target) for name, target in BUILTIN.items()}
    probes = sorted({p.probe_id: p for ps, _ in build_probes(tasks, world, 0).values() for p in ps}.values(),
                    key=lambda p: (p.media_key, p.probe_id))
    yes_no = [p for p in probes if p.kind == "yes_no"]
    open_ = [p for p in probes if p.kind != "yes_no"]
    n_open = int(count * open_share)
    step_yn, step_open = max(1, len(yes_no) // (count - n_open)), max(1, len(open_) // max(1, n_open))
    return yes_no[::step_yn][: count - n_open], open_[::step_open][:n_open]


def ours(adapter: QwenOmniAdapter, requests_yn, requests_open, batch_size: int, max_new_tokens: int):
    answers = {}
    start = time.perf_counter()
    for i in range(0, len(requests_yn), batch_size):
        batch = requests_yn[i:i + batch_size]
        for request, scores in zip(batch, adapter.score_choices(batch, ("yes", "no")), strict=True):
            answers[request.probe.probe_id] = max(scores, key=scores.get)
    for i in range(0, len(requests_open), batch_size):
        batch = requests_open[i:i + batch_size]
        for request, text in zip(batch, adapter.generate(batch, max_new_tokens), strict=True):
            answers[request.probe.probe_id] = text
    return answers, time.perf_counter() - start


def one_by_one(adapter: QwenOmniAdapter, requests, max_new_tokens: int):
    """The lmms-eval omni loop: processor on the whole input, then generate, one probe at a time."""
    processor, model = adapter.processor, adapter.model
    answers = {}
    start = time.perf_counter()
    for request in requests:
        text = processor.apply_chat_template(adapter._conversation(request.probe.prompt), add_generation_prompt=True,
                                             tokenize=False)
        media = request.media
        inputs = processor(text=[text], videos=[media.frames], audio=[media.audio], audio_from_video_indices=[0],
                           load_audio_from_video=True, return_tensors="pt",
                           videos_kwargs={**adapter.featurizer.videos_kwargs,
                                          "fps": len(media.frames) / media.duration}).to(adapter.device)
        with torch.inference_mode():
            output = model.generate(**inputs, use_audio_in_video=True, max_new_tokens=max_new_tokens,
                                    do_sample=False, pad_token_id=adapter.tokenizer.pad_token_id,
                                    eos_token_id=adapter.tokenizer.eos_token_id)
        reply = adapter.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        answers[request.probe.probe_id] = parse_yes_no(reply) if request.probe.kind == "yes_no" else reply
    return answers, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("tiny",), default="tiny")
    parser.add_argument("--probes", type=int, default=512)
    parser.add_argument("--open-share", type=float, default=0.15, help="share of open probes (the suite has ~13%%)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()

    adapter = QwenOmniAdapter(FAMILIES["qwen-omni"], TINY_CHECKPOINT, {}, None)
    yes_no, open_ = probes_for(args.probes, args.open_share)
    store = MediaStore(adapter.media_spec)
    requests_yn = [Request(p, store.load(p.video, p.video_id, p.audio)) for p in yes_no]
    requests_open = [Request(p, store.load(p.video, p.video_id, p.audio)) for p in open_]
    ours(adapter, requests_yn[:8], requests_open[:2], args.batch_size, args.max_new_tokens)  # warm-up
    adapter.featurizer._cached.cache_clear()  # ours pays its featurization inside the timed run too
    fast, fast_s = ours(adapter, requests_yn, requests_open, args.batch_size, args.max_new_tokens)
    slow, slow_s = one_by_one(adapter, requests_yn + requests_open, args.max_new_tokens)
    agree = sum(fast[k] == slow[k] for k in slow)
    n = len(slow)
    result = {
        "machine": f"{platform.node()} · {platform.processor() or platform.machine()} · "
                   f"{torch.get_num_threads()} threads", "torch": torch.__version__,
        "size": args.size, "probes": n, "yes_no": len(requests_yn), "open": len(requests_open),
        "ours_probes_per_s": round(n / fast_s, 1), "one_by_one_probes_per_s": round(n / slow_s, 1),
        "ratio": round(slow_s / fast_s, 2), "identical_answers": agree, "batch_size": args.batch_size,
    }
    table = Table(title="eval throughput (same probes, same checkpoint)", title_justify="left")
    for column in ("path", "probes/s", "wall s"):
        table.add_column(column, justify="right")
    table.add_row("ours (loglik yes/no + batched generate)", f"{n / fast_s:.1f}", f"{fast_s:.2f}")
    table.add_row("one-by-one generate (lmms-eval style)", f"{n / slow_s:.1f}", f"{slow_s:.2f}")
    Console().print(table)
    Console().print(f"ratio {result['ratio']}x · identical answers {agree}/{n}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
