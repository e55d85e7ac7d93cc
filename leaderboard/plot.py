"""Before/after figures (matplotlib): one panel per metric, each run's value with its 95% CI as an error bar.

The first run given is "before"; the others are drawn after it in the order given. PNG or SVG by file extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from acpo_bench.leaderboard.gate import DEFAULT_GATE
from acpo_bench.leaderboard.runs import AGS, Run, check_metric_exists

FORMATS = (".png", ".svg")
# The gate's metrics and the AGS: what a before/after comparison is about.
DEFAULT_METRICS = (AGS, *(m.key for m in DEFAULT_GATE))


def plot(runs: Sequence[Run], output: str | Path, metrics: Sequence[str] | None = None) -> Path:
    output = Path(output)
    if output.suffix.lower() not in FORMATS:
        raise ValueError(f"--output {output}: the figure format comes from the extension, one of {', '.join(FORMATS)}")
    if len(runs) < 2:
        raise ValueError("plot needs at least two runs: the first is drawn as 'before', the others as 'after'")
    keys = list(metrics) if metrics else [k for k in DEFAULT_METRICS if any(r.metric(k) for r in runs)]
    for key in keys:
        if not any(run.metric(key) is not None for run in runs):
            check_metric_exists(runs[0], key)
    if not keys:
        raise ValueError("none of the default metrics is in these runs; choose some with --metrics task.metric,...")

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    # svg.fonttype none: labels stay text (searchable, small); hashsalt: the same input gives the same file
    with plt.rc_context({"svg.hashsalt": "acpo-bench", "svg.fonttype": "none", "font.size": 9}):
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
        colors = ["#6e7781"] + [f"C{i}" for i in range(len(runs) - 1)]
        labels = [("before\n" if i == 0 else "after\n") + _short(run.label) for i, run in enumerate(runs)]
        for ax, key in zip(axes.flat, keys, strict=False):
            entry = next(e for run in runs if (e := run.metric(key)) is not None)
            arrow = {True: " ↑", False: " ↓"}.get(entry.get("higher_is_better"), "")
            for i, run in enumerate(runs):
                value, ci = run.value(key), (run.metric(key) or {}).get("ci95")
                if value is None:
                    continue
                err = None if not ci else [[max(0.0, value - ci[0])], [max(0.0, ci[1] - value)]]
                ax.errorbar([i], [value], yerr=err, fmt="o", color=colors[i], capsize=4, markersize=6)
            shown = [x for run in runs for x in [run.value(key), *((run.metric(key) or {}).get("ci95") or [])]
                     if x is not None]
            if shown and min(shown) >= 0 and max(shown) <= 1:  # rates and scores: the full 0..1 scale, no zoom
                ax.set_ylim(-0.05, 1.05)
            ax.set_title(("audio grounding score" if key == AGS else key) + arrow)
            ax.set_xticks(range(len(runs)), labels)
            ax.set_xlim(-0.5, len(runs) - 0.5)
            ax.grid(axis="y", alpha=0.3)
        for ax in list(axes.flat)[len(keys):]:
            ax.set_visible(False)
        fig.suptitle("acpo-bench: before / after, 95% CIs", fontsize=10)
        fig.tight_layout()
        output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output, dpi=150, metadata={"Date": None} if output.suffix.lower() == ".svg" else None)
        plt.close(fig)
    return output


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
