"""The before/after pipeline: evaluate the base model, build pairs, train ACPO, evaluate the tuned model, compare.

    acpo-bench pipeline --model qwen-omni-tiny [--seeds 3] [--objective output|input|both|all] --output-dir DIR

Every stage writes into --output-dir and is skipped when its output is already there, so a rerun resumes; a stage
made with other settings (model, data, tasks, recipe) is an error naming them, never silently reused. The
comparison pairs the base and tuned samples probe by probe: each metric's change comes with the 95% CI of the
change (clip bootstrap); with several training seeds, mean ± sd across seeds. Markdown and JSON tables are written
beside the runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acpo_bench.leaderboard.compare import across_seeds, compare
from acpo_bench.leaderboard.gate import run_gate
from acpo_bench.leaderboard.pairing import InvalidComparison
from acpo_bench.leaderboard.runs import Run, load_run
from acpo_bench.models.qwen_omni.adapter import checkpoint_settings
from acpo_bench.results import RESULTS_FILE, atomic_write
from acpo_bench.runner import EvalConfig
from acpo_bench.training.acpo import POLICY_DIR, ACPOConfig, precompute_reference
from acpo_bench.training.acpo import train as train_acpo
from acpo_bench.training.pairs import label_pairs, save_pairs
from acpo_bench.training.recipe import load_recipe
from acpo_bench.workflows.evaluation import ModelSpec, evaluate_to_dir, load_model, resolve_tasks
from acpo_bench.worlds import TRAIN_SEED, WorldSpec, world_for
from acpo_bench.worlds import build as build_world

RECIPES = resources.files("acpo_bench.training") / "recipes"
DEFAULT_RECIPE = Path(str(RECIPES / "acpo_tiny.yaml"))
# a checkpoint that declares one of these worlds is tuned, without --recipe, by the recipe chosen for the embedded
# model trained on it (docs/models.md); any other by acpo_tiny.yaml
WORLD_RECIPES = {"stamps": Path(str(RECIPES / "acpo_tiny_stamps.yaml"))}
HEADLINE = ("swapped_audio.vahr_yn", "swapped_audio.vahr_open", "swapped_audio.swapped_in_accuracy",
            "silent_video.silent_hallucination_rate", "sound_presence.random_f1", "sound_presence.adversarial_f1",
            "visual_presence.own_accuracy", "visual_presence.swapped_accuracy", "audio_grounding_score")


@dataclass(frozen=True)
class PipelineConfig:
    checkpoint: Path
    output_dir: Path
    model: str = "qwen-omni-tiny"
    model_args: dict[str, str] = field(default_factory=dict)
    recipe: Path | None = None  # None: default_recipe(checkpoint)
    overrides: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ("both",)
    seeds: int = 1
    eval_clips: int = 400
    train_clips: int = 1000
    train_world_seed: int = TRAIN_SEED
    world: str | None = None  # None: the world the checkpoint declares, else the real-media world
    # the pairs' world: a visible source is heard half the time, so counter-examples to the shortcut are common
    # (at the evaluation world's 0.9 a 1,000-clip world yields ~200 visible-silent pairs, at 0.5 ~1,000)
    train_av_correlation: float = 0.5
    tasks: str = "all"


def default_recipe(checkpoint: Path) -> Path:
    """The ACPO recipe a checkpoint is tuned with when none is named: its declared world's, else acpo_tiny.yaml."""
    return WORLD_RECIPES.get(checkpoint_settings(checkpoint).get("world"), DEFAULT_RECIPE)


def run_pipeline(config: PipelineConfig, show_progress: bool = True) -> dict:
    console = Console()
    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    config = replace(config, recipe=config.recipe or default_recipe(config.checkpoint))
    recipe = load_recipe(ACPOConfig, config.recipe, list(config.overrides))  # fail on a bad recipe before any work
    tasks, _ = resolve_tasks(config.tasks)
    kind = config.world or world_for(checkpoint_settings(config.checkpoint).get("world"))
    world = build_world(WorldSpec(kind, clips=config.eval_clips), show_progress=show_progress)
    world_fingerprint = world.fingerprint()

    def evaluate(spec: ModelSpec, directory: Path) -> Path:
        expected = {"model": spec.name, "args": spec.args, "adapter": spec.adapter,
                    "data": world_fingerprint, "tasks": sorted(tasks)}
        if (directory / RESULTS_FILE).exists():
            done = json.loads((directory / RESULTS_FILE).read_text())
            _check_resumable(directory / RESULTS_FILE, {
                "model": done["model"]["name"], "args": done["model"]["args"], "adapter": done["model"]["adapter"],
                "data": done["config"]["data"]["fingerprint"], "tasks": sorted(done["tasks"])}, expected)
        else:
            adapter = load_model(spec.name, spec.args, spec.adapter)
            eval_config = EvalConfig(media=adapter.media_spec, batch_size=adapter.default_batch_size,
                                     max_new_tokens=adapter.max_new_tokens)
            evaluate_to_dir(spec, adapter, tasks, world, eval_config, directory, show_progress=show_progress)
        return directory / RESULTS_FILE

    console.rule("1/4 evaluate the base model")
    base = evaluate(ModelSpec(config.model, dict(config.model_args)), out / "base")
    console.rule("2/4 build preference pairs")
    pairs_dir = out / "pairs"
    train_world = build_world(WorldSpec(kind, clips=config.train_clips, seed=config.train_world_seed,
                                        av_correlation=config.train_av_correlation), show_progress=show_progress)
    if (pairs_dir / "pairs.json").exists():
        done = json.loads((pairs_dir / "pairs.json").read_text())
        _check_resumable(pairs_dir / "pairs.json", {"data": done["data"]["fingerprint"]},
                         {"data": train_world.fingerprint()})
    else:
        save_pairs(label_pairs(train_world, seed=0), pairs_dir,
                   {"data": {"name": train_world.name, "fingerprint": train_world.fingerprint()}})
        if recipe.reference == "precomputed":
            precompute_reference(config.checkpoint, pairs_dir, frames=recipe.frames, show_progress=show_progress)
    runs: dict[str, list[Path]] = {}
    for objective in config.objectives:
        for seed in range(config.seeds):
            name = f"{objective}-seed{seed}"
            console.rule(f"3/4 train ACPO ({name})")
            run_config = replace(recipe, objective=objective, seed=recipe.seed + seed)
            train_dir = out / "train" / name
            if (train_dir / POLICY_DIR).exists():
                done = json.loads((train_dir / "acpo.json").read_text())
                # through JSON so that tuples and lists, ints and floats compare as the file stores them
                expected = json.loads(json.dumps({"base": str(config.checkpoint), **asdict(run_config)}))
                _check_resumable(train_dir / "acpo.json", {"base": done["base"], **done["config"]}, expected)
            else:
                train_acpo(config.checkpoint, pairs_dir, train_dir, run_config, show_progress=show_progress)
            console.rule(f"4/4 evaluate the tuned model ({name})")
            policy = train_dir / POLICY_DIR
            spec = (ModelSpec("qwen-omni", {"path": str(config.checkpoint)}, str(policy)) if run_config.lora
                    else ModelSpec("qwen-omni", {"path": str(policy)}))
            runs.setdefault(objective, []).append(evaluate(spec, out / "eval" / name))
    report = comparison_report(base, runs, config)
    atomic_write(out / "before_after.json", (json.dumps(report, indent=1) + "\n").encode())
    atomic_write(out / "before_after.md", markdown(report).encode())
    return report


def _check_resumable(record: Path, recorded: dict, expected: dict) -> None:
    """A finished stage is reused only if it was made with this run's settings; otherwise say which differ."""
    differ = [key for key in sorted(expected.keys() | recorded.keys()) if recorded.get(key) != expected.get(key)]
    if differ:
        changes = "; ".join(f"{key}: {recorded.get(key)!r} there, {expected.get(key)!r} now" for key in differ)
        raise ValueError(f"{record} was made with other settings ({changes}). Rerun with the settings it was made "
                         f"with to resume, or give a new --output-dir (or delete {record.parent}) to start over")


def comparison_report(base: Path, runs: dict[str, list[Path]], config: PipelineConfig) -> dict:
    before = load_run(base)
    objectives = {}
    for objective, paths in runs.items():
        after = [load_run(p) for p in paths]
        per_seed = [compare(before, run) for run in after]
        objectives[objective] = {
            "runs": [str(p) for p in paths],
            "metrics": [asdict(s) for s in across_seeds(per_seed)],
            "gate": [gate_verdict(before, run) for run in after],
        }
    return {"base": str(base), "model": config.model, "seeds": config.seeds,
            "eval_data": before.data, "recipe": str(config.recipe), "overrides": list(config.overrides),
            "objectives": objectives}


def gate_verdict(before: Run, after: Run) -> dict:
    """What `acpo-bench gate --baseline base --candidate tuned` (the default gate) says of one tuned run: passed,
    and each gated metric's regression test."""
    try:
        report = run_gate(before, after)
    except InvalidComparison as exc:  # e.g. --tasks left out a gated task: say so instead of a verdict
        return {"passed": None, "regressions": [], "error": str(exc), "metrics": {}}
    return {"passed": report.passed,
            "regressions": [row.key for row in report.rows if row.failed],
            "metrics": {row.key: {"status": row.status, "delta": round(row.delta, 6), "p_holm": row.p_holm,
                                  "detail": row.detail} for row in report.rows}}


def _verdicts(gates: list[dict]) -> str:
    def verdict(gate: dict) -> str:
        if gate["passed"] is None:
            return f"not gated ({gate['error']})"
        return "pass" if gate["passed"] else "fails on " + ", ".join(gate["regressions"])
    return "; ".join(f"seed {i}: {verdict(g)}" for i, g in enumerate(gates))


def _fmt(value: float | None, sd: float | None = None, signed: bool = False) -> str:
    if value is None:
        return "—"
    text = f"{value:+.3f}" if signed else f"{value:.3f}"
    return text + (f" ± {sd:.3f}" if sd is not None else "")


def _ci(cis: list) -> str:
    cis = [c for c in cis if c]
    if not cis:
        return "—"
    if len(cis) == 1:
        return f"[{cis[0][0]:+.3f}, {cis[0][1]:+.3f}]"
    return f"{len(cis)} seeds: " + " ".join(f"[{lo:+.3f}, {hi:+.3f}]" for lo, hi in cis)


def _rows(metrics: list[dict], keys: tuple[str, ...] | None = None) -> list[dict]:
    return [m for m in metrics if keys is None or m["key"] in keys]


def markdown(report: dict) -> str:
    lines = [f"# ACPO before/after · {report['model']}", "",
             f"Evaluation data: `{report['eval_data'].get('name')}` ({report['eval_data'].get('clips')} clips). "
             f"Training seeds: {report['seeds']}. Δ = after − before; 95% CI of Δ from a paired clip bootstrap "
             "(one per seed).", ""]
    objectives = report["objectives"]
    if len(objectives) > 1:
        lines += ["## Ablation (headline metrics, mean ± sd over seeds)", "",
                  "| metric | base | " + " | ".join(objectives) + " |",
                  "|---|---|" + "---|" * len(objectives)]
        base_rows = {m["key"]: m for m in next(iter(objectives.values()))["metrics"]}
        for key in HEADLINE:
            if key not in base_rows:
                continue
            cells = []
            for block in objectives.values():
                row = next(m for m in block["metrics"] if m["key"] == key)
                cells.append(f"{_fmt(row['after_mean'], row['after_sd'])} ({_fmt(row['delta_mean'], signed=True)})")
            lines.append(f"| {key} | {_fmt(base_rows[key]['before'])} | " + " | ".join(cells) + " |")
        lines.append("")
    for objective, block in objectives.items():
        lines += [f"## objective: {objective}", ""]
        if block.get("gate"):
            lines += [f"Gate (`acpo-bench gate --baseline base --candidate tuned`, default metrics): "
                      f"{_verdicts(block['gate'])}.", ""]
        lines += ["| metric | better | before | after | Δ | 95% CI of Δ |", "|---|---|---|---|---|---|"]
        for row in block["metrics"]:
            arrow = {True: "↑", False: "↓", None: ""}[row["higher_is_better"]]
            lines.append(f"| {row['key']} | {arrow} | {_fmt(row['before'])} | "
                         f"{_fmt(row['after_mean'], row['after_sd'])} | "
                         f"{_fmt(row['delta_mean'], row['delta_sd'], signed=True)} | {_ci(row['delta_ci95'])} |")
        lines.append("")
    return "\n".join(lines)


def rich_table(report: dict) -> Table:
    table = Table(title=f"ACPO before/after · {report['model']} (headline; all metrics in the markdown)",
                  title_justify="left")
    table.add_column("metric")
    table.add_column("before", justify="right")
    for objective in report["objectives"]:
        table.add_column(f"{objective}: after", justify="right")
        # with several seeds the cell shows the mean change and seed 0's CI (every seed's CI is in the markdown)
        table.add_column("Δ [95% CI]" if report["seeds"] == 1 else "mean Δ [seed 0's 95% CI]", justify="right")
    first = next(iter(report["objectives"].values()))["metrics"]
    for key in HEADLINE:
        base = next((m for m in first if m["key"] == key), None)
        if base is None:
            continue
        cells = []
        for block in report["objectives"].values():
            row = next(m for m in block["metrics"] if m["key"] == key)
            cells += [_fmt(row["after_mean"], row["after_sd"]),
                      f"{_fmt(row['delta_mean'], signed=True)} {_ci(row['delta_ci95'][:1])}"]
        table.add_row(key, _fmt(base["before"]), *cells)
    table.add_section()
    gates = []
    for block in report["objectives"].values():
        verdicts = block.get("gate", [])
        passed = sum(bool(g["passed"]) for g in verdicts)
        failed = sorted({key for g in verdicts for key in g["regressions"]})
        gates += [f"{passed}/{len(verdicts)} seeds pass", ", ".join(failed) or "—"]
    table.add_row("gate (default metrics)", "", *gates)
    return table
