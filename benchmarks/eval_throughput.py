"""Evaluation throughput: our yes/no path against the one-probe-at-a-time generate loop and a plain batched forward,
on the same probes and the same model, in one run.

    python benchmarks/eval_throughput.py --size tiny [--json out.json]              # CPU, the embedded model
    python benchmarks/eval_throughput.py --size 7b --json out.json                  # GPU, real dimensions

- ours: yes/no from the yes/no token log-probs (QwenOmniAdapter.score_choices): inputs from the feature store,
  each clip's towers and text-before-plus-media prefix run once for all its questions, rope positions from a cache,
  the LM head at the answer position only.
- plain batched forward: the same rows as full sequences through the language model in one batch (towers once per
  clip, the model's own rope index): the path before the prefix was shared.
- one-by-one generate (lmms-eval's omni wrappers): for every probe the processor on the whole input, then greedy
  generation alone.
Also measured: the bf16 (fp32 on CPU) matmul rate of this device, featurization and feature-store reads per clip,
and the FLOP rate of our path and of a batched full forward (MFU, FLOPs counted as gpu-anchor.md does).

--size tiny reads the default synthetic suite's probes and decodes its mp4s (answers compared with the one-by-one
loop's); --inputs synthetic (default for 3b/7b) builds random clips in memory, which is what the GPU image can do.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realsize

from acpo_bench.adapter import Request
from acpo_bench.models.qwen_omni.adapter import FAMILIES, QwenOmniAdapter, _thinker
from acpo_bench.models.qwen_omni.features import (
    FeatureStore,
    Featurizer,
    distinct_media,
    encode_media,
    forward_hidden,
    processor_settings,
)
from acpo_bench.models.qwen_omni.tower_attention import CALLS as TOWER_CALLS
from acpo_bench.models.qwen_omni.tower_attention import use_stock_tower_attention, use_varlen_tower_attention
from acpo_bench.parsing import parse_yes_no
from acpo_bench.schemas import AudioRecipe, Probe


def world_probes(count: int, spec, data: str | None = None):
    """The first ``count`` yes/no probes of the default suite in the runner's order (by media: ~20 questions per
    (video, audio) pair, as in a whole run), with their decoded media; on ``data`` (a clip dataset such as the
    real-media world), else on the synthetic world the embedded model knows."""
    from acpo_bench.clips import load_clips
    from acpo_bench.media_store import MediaStore
    from acpo_bench.registry import resolve
    from acpo_bench.runner import build_probes
    from acpo_bench.synth.generate import default_world
    from acpo_bench.tasks import BUILTIN

    world = load_clips(data) if data else default_world(show_progress=False)
    tasks = {name: resolve(target) for name, target in BUILTIN.items()}
    probes = sorted({p.probe_id: p for ps, _ in build_probes(tasks, world, 0).values() for p in ps}.values(),
                    key=lambda p: (p.media_key, p.probe_id))
    yes_no = [p for p in probes if p.kind == "yes_no"]
    chosen = yes_no[:count]
    store = MediaStore(spec)
    return chosen, {p.media_key: store.load(p.video, p.video_id, p.audio) for p in chosen}, probes


def decode_rates(adapter: QwenOmniAdapter, probes, store_dir: Path, workers: int) -> dict:
    """Media of a whole suite: every distinct (video, audio recipe) of ``probes`` decoded from its mp4 (PyAV, fresh
    caches: cold but for the OS page cache) then featurized, in ``workers`` threads as the runner does; then the same
    inputs read back from the feature store (warm). Clips per second of each stage."""
    from concurrent.futures import ThreadPoolExecutor

    from acpo_bench.media_store import MediaStore

    first = {p.media_key: p for p in probes}
    media_store = MediaStore(adapter.media_spec, max_items=len(first) + 1)
    featurizer = Featurizer(adapter.processor, adapter.featurizer.videos_kwargs, max_items=len(first) + 1)
    store = FeatureStore(store_dir, processor_settings(adapter.processor, adapter.featurizer.videos_kwargs))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        start = time.perf_counter()
        media = list(pool.map(lambda p: media_store.load(p.video, p.video_id, p.audio), first.values()))
        decode_s = time.perf_counter() - start
        start = time.perf_counter()
        inputs = list(pool.map(featurizer.compute, media))
        featurize_s = time.perf_counter() - start
        for key, item in zip(first, inputs, strict=True):
            store.save((key[0], key[1]), item)
        start = time.perf_counter()
        list(pool.map(lambda key: store.load((key[0], key[1])), first))
        warm_s = time.perf_counter() - start
    n = len(first)
    return {"suite_media": n, "suite_videos": len({k[0] for k in first}), "decode_workers": workers,
            "cold_decode_clips_per_s": round(n / decode_s, 1),
            "cold_decode_featurize_clips_per_s": round(n / (decode_s + featurize_s), 1),
            "warm_store_clips_per_s": round(n / warm_s, 1)}


def synthetic_probes(size: str, clips: int, per_clip: int, seed: int = 0):
    """``per_clip`` yes/no questions about each of ``clips`` random clips (in memory)."""
    media = realsize.synthetic_media(size, clips, seed)
    questions = realsize.questions(per_clip)
    probes, by_key = [], {}
    for c in range(clips):
        video_id = f"bench-{seed}-{c}"
        for q, question in enumerate(questions):
            probes.append(Probe(task="bench", clip_id=video_id, video=f"{video_id}.mp4", video_id=video_id,
                                audio=AudioRecipe("own"), kind="yes_no", modality="audio", question="sound_of",
                                prompt=question, paraphrase=q % 3, visible=(), audible=(), condition="own",
                                expected="yes"))
        by_key[(video_id, "own")] = media[c]
    return probes, by_key


def prepared_requests(adapter: QwenOmniAdapter, probes, media: dict, store_dir: Path) -> tuple[list, dict]:
    """Requests whose inputs come from the feature store, and the per-clip cost of featurizing and of reading."""
    featurizer = Featurizer(adapter.processor, adapter.featurizer.videos_kwargs)
    store = FeatureStore(store_dir, processor_settings(adapter.processor, adapter.featurizer.videos_kwargs))
    keys = list(dict.fromkeys(p.media_key for p in probes))
    start = time.perf_counter()
    for key in keys:
        store.save((key[0], key[1]), featurizer.compute(media[key]))
    featurize_s = (time.perf_counter() - start) / len(keys)
    start = time.perf_counter()
    loaded = {key: store.load((key[0], key[1])) for key in keys}
    read_s = (time.perf_counter() - start) / len(keys)
    from acpo_bench.models.qwen_omni.adapter import Prepared

    requests = [Request(p, None, (), Prepared(("bench",) + p.media_key, loaded[p.media_key])) for p in probes]
    return requests, {"featurize_ms_per_clip": round(1000 * featurize_s, 2),
                      "store_read_ms_per_clip": round(1000 * read_s, 2), "store_mb": round(store.disk_bytes() / 2 ** 20,
                                                                                            1)}


def clear(adapter: QwenOmniAdapter) -> None:
    adapter._video_cache.clear()
    adapter._audio_cache.clear()
    adapter._prefixes.clear()


def ours(adapter: QwenOmniAdapter, requests, batch_size: int) -> list[dict]:
    clear(adapter)
    out = []
    for i in range(0, len(requests), batch_size):
        out += adapter.score_choices(requests[i:i + batch_size], ("yes", "no"))
    return out


def rows_media(adapter: QwenOmniAdapter, keys, media):
    """The distinct media of rows (``adapter._rows``' keys and media), on the model's device."""
    return distinct_media(keys, media, adapter.tokenizer.audio_token_id).to(adapter.device)


def towers_only(adapter: QwenOmniAdapter, distinct) -> None:
    with torch.inference_mode():
        encode_media(_thinker(adapter.model), distinct)


def plain_forward(adapter: QwenOmniAdapter, requests) -> torch.Tensor:
    """Full sequences in one batch through the language model (towers once per clip, the model's own rope index):
    log-probs at the answer position, (rows, vocab)."""
    sequences, keys, media = adapter._rows(requests)
    from acpo_bench.models.qwen_omni.features import pad_sequences

    batch = {k: v.to(adapter.device) for k, v in pad_sequences(sequences, adapter.tokenizer.pad_token_id).items()}
    thinker = _thinker(adapter.model)
    distinct = rows_media(adapter, keys, media)
    with torch.inference_mode():
        hidden = forward_hidden(thinker, batch["input_ids"], batch["attention_mask"], distinct,
                                adapter.tokenizer.video_token_id, adapter.tokenizer.audio_token_id,
                                encode_media(thinker, distinct))[:, -1]
        return thinker.lm_head(hidden).float().log_softmax(-1)


def choice_logps(adapter: QwenOmniAdapter, row: torch.Tensor) -> dict[str, float]:
    """yes / no log-probs from one row of answer-position log-probs (each choice's token variants pooled)."""
    return {c: float(torch.logsumexp(row[adapter.choice_ids(c)], 0)) for c in ("yes", "no")}


def one_by_one(adapter: QwenOmniAdapter, probes, media: dict, max_new_tokens: int, exact_length: bool):
    """The lmms-eval omni loop: processor on the whole input, then generate, one probe at a time (``exact_length``:
    always ``max_new_tokens`` tokens, as a random-weight model's replies would run to the limit anyway)."""
    processor, model = adapter.processor, adapter.model
    answers = {}
    start = time.perf_counter()
    for probe in probes:
        text = processor.apply_chat_template(adapter._conversation(probe.prompt), add_generation_prompt=True,
                                             tokenize=False)
        item = media[probe.media_key]
        inputs = processor(text=[text], videos=[item.frames], audio=[item.audio], audio_from_video_indices=[0],
                           load_audio_from_video=True, return_tensors="pt",
                           videos_kwargs={**adapter.featurizer.videos_kwargs,
                                          "fps": len(item.frames) / item.duration}).to(adapter.device)
        with torch.inference_mode():
            output = model.generate(**inputs, use_audio_in_video=True, max_new_tokens=max_new_tokens,
                                    min_new_tokens=max_new_tokens if exact_length else 0,
                                    do_sample=False, pad_token_id=adapter.tokenizer.pad_token_id,
                                    eos_token_id=adapter.tokenizer.eos_token_id)
        reply = adapter.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        answers[probe.probe_id] = parse_yes_no(reply) if probe.kind == "yes_no" else reply
    realsize.synchronize(adapter.device.split(":")[0])
    return answers, time.perf_counter() - start


def open_answers(adapter: QwenOmniAdapter, suite, count: int, batch_size: int, store_dir: Path) -> dict:
    """Open probes (lists of sounds, captions): ours, batched greedy generation with left padding from the feature
    store (media through the towers once per clip), against the one-by-one loop on the same probes, same
    ``max_new_tokens``; the replies are compared as text."""
    from acpo_bench.media_store import MediaStore

    probes = [p for p in suite if p.kind != "yes_no"][:count]
    store = MediaStore(adapter.media_spec)
    media = {p.media_key: store.load(p.video, p.video_id, p.audio) for p in probes}
    requests, _ = prepared_requests(adapter, probes, media, store_dir)
    max_new = adapter.max_new_tokens
    adapter.generate(requests[:2], max_new)  # warm-up
    start = time.perf_counter()
    ours = [reply for i in range(0, len(requests), batch_size)
            for reply in adapter.generate(requests[i:i + batch_size], max_new)]
    ours_s = time.perf_counter() - start
    slow, slow_s = one_by_one(adapter, probes, media, max_new, exact_length=False)
    agree = sum(reply == slow[p.probe_id] for reply, p in zip(ours, probes, strict=True))
    return {"open_probes": len(probes), "open_max_new_tokens": max_new,
            "open_ours_probes_per_s": round(len(probes) / ours_s, 2),
            "open_one_by_one_probes_per_s": round(len(probes) / slow_s, 2),
            "open_ratio_vs_one_by_one": round(slow_s / ours_s, 2),
            "open_answers_equal_one_by_one": f"{agree}/{len(probes)}"}


def flops_ours(adapter: QwenOmniAdapter, requests, counts: dict) -> float:
    """Work our path executes: towers once per distinct video / audio, each clip's prefix once, each question's
    text after the media, the LM head once per probe."""
    videos, audios, prefixes, suffix_tokens = {}, {}, {}, 0
    for r in requests:
        inputs = r.prepared.inputs
        parts = adapter._parts(r.probe.prompt)
        videos[inputs.video_key] = inputs.pixel_values_videos.shape[0]
        audios[r.prepared.key] = int(inputs.feature_attention_mask.sum()) // 2
        prefixes[(r.prepared.key, parts.before)] = len(parts.before) + len(inputs.placeholder_ids)
        suffix_tokens += len(parts.after)
    return 2 * (counts["vision"] * sum(videos.values()) + counts["audio"] * sum(audios.values())
                + counts["lm"] * (sum(prefixes.values()) + suffix_tokens) + counts["lm_head"] * len(requests))


def flops_full(adapter: QwenOmniAdapter, requests, counts: dict, towers: bool = True) -> float:
    """A batched full forward: towers once per clip (unless ``towers`` is off), every row's whole sequence through
    the LM."""
    sequences, keys, media = adapter._rows(requests)
    first = dict(zip(keys, media, strict=True))
    vision = sum(m.pixel_values_videos.shape[0] for m in first.values()) if towers else 0
    audio = sum(int(m.feature_attention_mask.sum()) // 2 for m in first.values()) if towers else 0
    return 2 * (counts["vision"] * vision + counts["audio"] * audio + counts["lm"] * sum(map(len, sequences))
                + counts["lm_head"] * len(requests))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=realsize.SIZES, default="tiny")
    parser.add_argument("--inputs", choices=("world", "synthetic"), default=None,
                        help="the default suite's mp4s (world; tiny's default) or random clips in memory")
    parser.add_argument("--data", default=None,
                        help="world inputs from this clip dataset (e.g. `acpo-bench data build stamps`; needed at "
                             "3b/7b, where the synthetic world's 112-pixel glyphs are not what a real model sees)")
    parser.add_argument("--probes", type=int, default=512, help="world inputs: probes drawn from the suite")
    parser.add_argument("--clips", type=int, default=8, help="synthetic inputs: clips")
    parser.add_argument("--questions", type=int, default=16, help="synthetic inputs: yes/no questions per clip")
    parser.add_argument("--batch-size", type=int, default=None, help="ours (default: 64 tiny, 32 otherwise)")
    parser.add_argument("--forward-batch", type=int, default=None, help="rows of the batched full forward")
    parser.add_argument("--one-by-one", type=int, default=None, help="probes through the one-by-one loop")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="one-by-one loop (default: 24 tiny, 32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--open-probes", type=int, default=64,
                        help="world inputs: open probes generated by ours and by the one-by-one loop (0: skip)")
    parser.add_argument("--decode-workers", type=int, default=2,
                        help="world inputs: threads decoding the whole suite's media, cold then warm (0: skip)")
    parser.add_argument("--layers", type=int, default=None,
                        help="3b/7b: shrink the LM and towers to this many layers (a smoke test; runs on a CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (use 1 on a CPU shared with other work)")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    realsize.set_threads(args.threads)
    size = args.size
    inputs = args.inputs or ("world" if size == "tiny" else "synthetic")
    if inputs == "world" and size != "tiny" and not args.data:
        parser.error("--inputs world at a real size needs --data DIR (the real-media world), or --inputs synthetic")
    device, dtype = realsize.device_and_dtype(size, args.layers)
    batch_size = args.batch_size or (64 if size == "tiny" else 32)
    max_new = args.max_new_tokens or (24 if size == "tiny" else 32)

    env = realsize.environment(device)
    rate = realsize.matmul_rate(device, dtype)
    model, processor, settings = realsize.build_model(size, layers=args.layers)
    adapter = QwenOmniAdapter.in_memory(FAMILIES["qwen-omni"], model, processor, settings,
                                        {"feature_cache": "false"}, {"size": size})
    counts = realsize.parameter_counts(model)
    decoding = {}
    if inputs == "world":
        yes_no, media, suite = world_probes(args.probes, adapter.media_spec, args.data)
        if args.decode_workers:
            with tempfile.TemporaryDirectory() as store_dir:
                decoding = decode_rates(adapter, suite, Path(store_dir), args.decode_workers)
        slow_probes = yes_no[:: max(1, len(yes_no) // (args.one_by_one or len(yes_no)))][: args.one_by_one]
        warm_probes = yes_no[:8]
    else:
        yes_no, media = synthetic_probes(size, args.clips, args.questions, seed=0)
        warm, warm_media = synthetic_probes(size, 2, 4, seed=1)
        media.update(warm_media)
        slow_probes = yes_no[:: args.questions][: args.one_by_one or (4 if size != "tiny" else len(yes_no))]
        warm_probes = warm
    with tempfile.TemporaryDirectory() as store_dir:
        requests, store_costs = prepared_requests(adapter, yes_no + warm_probes, media, Path(store_dir))
    timed_requests, warm_requests = requests[:len(yes_no)], requests[len(yes_no):]

    # the JSON is rewritten after each stage, so a run cut short (a GPU time limit) keeps what it measured
    result = {"size": size, "layers": args.layers, "inputs": inputs, "data": args.data,
              "device": env.get("gpu", env["cpu"]), "dtype": str(dtype).split(".")[-1], "env": env,
              "parameters": counts, "matmul_tflops": round(rate / 1e12, 3), "complete": False,
              **store_costs, **decoding}

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n")

    ours(adapter, warm_requests, batch_size)  # warm-up: kernels, allocator (other clips than the timed ones)
    ours_s, scores = realsize.timed(lambda: ours(adapter, timed_requests, batch_size), device, args.repeats, 0)
    n = len(timed_requests)
    ours_flops = flops_ours(adapter, timed_requests, counts)
    result.update({"probes": n, "clips": len({r.prepared.key for r in timed_requests}), "batch_size": batch_size,
                   "ours_probes_per_s": round(n / ours_s, 2), "ours_s": round(ours_s, 4),
                   "ours_tflops": round(ours_flops / ours_s / 1e12, 4),
                   "ours_mfu": round(ours_flops / ours_s / rate, 4)})
    save()

    forward_rows = args.forward_batch or min(batch_size if size == "tiny" else 16, n)  # 16: the anchor's batch
    step = max(1, n // forward_rows)
    rows = timed_requests[::step][:forward_rows]
    plain_forward(adapter, warm_requests)
    full_s, plain = realsize.timed(lambda: plain_forward(adapter, rows), device, args.repeats, 0)
    own_scores = [scores[timed_requests.index(r)] for r in rows]
    plain_scores = [choice_logps(adapter, row) for row in plain]
    diff = max(abs(p[c] - s[c]) for p, s in zip(plain_scores, own_scores, strict=True) for c in ("yes", "no"))
    agree_plain = sum(max(s, key=s.get) == max(p, key=p.get) for p, s in zip(plain_scores, own_scores, strict=True))
    full_flops = flops_full(adapter, rows, counts)
    towers_flops = full_flops - flops_full(adapter, rows, counts, towers=False)
    sequences, keys, row_media = adapter._rows(rows)  # not `media`: the one-by-one loop below reads that dict
    distinct = rows_media(adapter, keys, row_media)
    towers_s, _ = realsize.timed(lambda: towers_only(adapter, distinct), device, args.repeats, 1)
    result.update({"prompt_tokens_mean": round(sum(map(len, sequences)) / len(rows), 1),
                   "forward_rows": len(rows), "forward_s": round(full_s, 4),
                   "forward_probes_per_s": round(len(rows) / full_s, 2),
                   "forward_tflops": round(full_flops / full_s / 1e12, 4),
                   "forward_mfu": round(full_flops / full_s / rate, 4),
                   "forward_towers_s": round(towers_s, 4),
                   "forward_towers_mfu": round(towers_flops / towers_s / rate, 4),
                   "forward_lm_mfu": round((full_flops - towers_flops) / (full_s - towers_s) / rate, 4),
                   "ratio_vs_forward": round((n / ours_s) / (len(rows) / full_s), 2),
                   "max_abs_logprob_diff_vs_forward": diff, "answers_equal_forward": f"{agree_plain}/{len(rows)}",
                   "peak_memory_gb": round(realsize.peak_memory_gb(device), 2)})
    save()

    # the same forward with transformers' stock tower attention (sdpa, one call per window), for the tower speed-up
    use_stock_tower_attention(model)
    plain_forward(adapter, warm_requests)
    stock_s, stock = realsize.timed(lambda: plain_forward(adapter, rows), device, args.repeats, 0)
    stock_towers_s, _ = realsize.timed(lambda: towers_only(adapter, distinct), device, args.repeats, 0)
    use_varlen_tower_attention(model)
    result.update({"stock_towers_forward_s": round(stock_s, 4),
                   "stock_towers_forward_probes_per_s": round(len(rows) / stock_s, 2),
                   "stock_towers_forward_mfu": round(full_flops / stock_s / rate, 4),
                   "tower_attention_speedup": round(stock_s / full_s, 3),
                   "tower_attention_calls": dict(TOWER_CALLS),
                   "stock_towers_s": round(stock_towers_s, 4),
                   "stock_towers_mfu": round(towers_flops / stock_towers_s / rate, 4),
                   "max_abs_logprob_diff_vs_stock_towers": max(
                       abs(p[c] - choice_logps(adapter, row)[c])
                       for p, row in zip(plain_scores, stock, strict=True) for c in ("yes", "no"))})
    save()

    exact = size != "tiny"
    one_by_one(adapter, warm_probes[:1], media, max_new, exact)  # warm-up
    slow, slow_s = one_by_one(adapter, slow_probes, media, max_new, exact)
    ours_answers = {r.probe.probe_id: max(s, key=s.get) for r, s in zip(timed_requests, scores, strict=True)}
    agree = sum(ours_answers[k] == v for k, v in slow.items())
    result.update({"one_by_one_probes": len(slow), "one_by_one_max_new_tokens": max_new,
                   "one_by_one_probes_per_s": round(len(slow) / slow_s, 3),
                   "ratio_vs_one_by_one": round((n / ours_s) / (len(slow) / slow_s), 1),
                   "answers_equal_one_by_one": f"{agree}/{len(slow)}",
                   "peak_memory_gb": round(realsize.peak_memory_gb(device), 2)})
    save()
    if inputs == "world" and args.open_probes:
        with tempfile.TemporaryDirectory() as store_dir:
            result.update(open_answers(adapter, suite, args.open_probes, batch_size, Path(store_dir)))
    result.update({"load_average_end": realsize.load_average(), "complete": True})
    print_table(result)
    save()


def print_table(r: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"eval throughput · {r['size']} · {r['device']} · {r['dtype']} · "
                        f"matmul {r['matmul_tflops']} TFLOP/s", title_justify="left")
    for column in ("path", "probes/s", "TFLOP/s", "MFU", "vs one-by-one"):
        table.add_column(column, justify="right")
    base = r["one_by_one_probes_per_s"]
    table.add_row(f"ours: yes/no, shared prefix (batch {r['batch_size']})", f"{r['ours_probes_per_s']}",
                  f"{r['ours_tflops']}", f"{r['ours_mfu']:.1%}", f"{r['ours_probes_per_s'] / base:.1f}x")
    table.add_row(f"batched full forward ({r['forward_rows']} rows)", f"{r['forward_probes_per_s']}",
                  f"{r['forward_tflops']}", f"{r['forward_mfu']:.1%}", f"{r['forward_probes_per_s'] / base:.1f}x")
    if "stock_towers_forward_s" in r:
        stock = r["stock_towers_forward_probes_per_s"]
        table.add_row("batched full forward, stock towers (sdpa per window)", f"{stock}", "",
                      f"{r['stock_towers_forward_mfu']:.1%}", f"{stock / base:.1f}x")
    table.add_row(f"one-by-one generate ({r['one_by_one_max_new_tokens']} tokens)", f"{base}", "", "", "1.0x")
    if "open_probes" in r:
        table.add_row(f"ours: open, batched generate (batch {r['batch_size']})", f"{r['open_ours_probes_per_s']}",
                      "", "", f"{r['open_ratio_vs_one_by_one']}x (open)")
        table.add_row(f"one-by-one generate, open ({r['open_max_new_tokens']} tokens max)",
                      f"{r['open_one_by_one_probes_per_s']}", "", "", "1.0x (open)")
    Console().print(table)
    Console().print(f"{r['probes']} probes over {r['clips']} clips, {r['prompt_tokens_mean']} prompt tokens each · "
                    f"featurize {r['featurize_ms_per_clip']} ms/clip, store read {r['store_read_ms_per_clip']} "
                    f"ms/clip · ours vs forward: max |Δ log p| {r['max_abs_logprob_diff_vs_forward']:.2g}, answers "
                    f"{r['answers_equal_forward']} · vs one-by-one answers {r['answers_equal_one_by_one']} · peak "
                    f"{r['peak_memory_gb']} GB")
    if "stock_towers_forward_s" in r:
        Console().print(f"tower attention (models/qwen_omni/tower_attention.py) vs stock: forward time stock / "
                        f"ours {r['tower_attention_speedup']}, max |Δ log p| yes/no "
                        f"{r['max_abs_logprob_diff_vs_stock_towers']:.2g}, calls {r['tower_attention_calls']} · of "
                        f"the forward: towers "
                        f"{r['forward_towers_s']} s ({r['forward_towers_mfu']:.1%} MFU; stock {r['stock_towers_s']} s, "
                        f"{r['stock_towers_mfu']:.1%}), language model {r['forward_lm_mfu']:.1%} MFU")
    if "open_probes" in r:
        Console().print(f"open probes: {r['open_probes']}, replies equal to the one-by-one loop's "
                        f"{r['open_answers_equal_one_by_one']}")
    if "suite_media" in r:
        Console().print(f"suite media ({r['suite_media']} (video, audio) of {r['suite_videos']} videos, "
                        f"{r['decode_workers']} threads): cold decode {r['cold_decode_clips_per_s']} clips/s, cold "
                        f"decode+featurize {r['cold_decode_featurize_clips_per_s']} clips/s, warm (feature store) "
                        f"{r['warm_store_clips_per_s']} clips/s")


if __name__ == "__main__":
    main()
