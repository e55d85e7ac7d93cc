"""A rich progress bar for transformers.Trainer (which otherwise draws tqdm bars)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import TrainerCallback


class RichProgress(TrainerCallback):
    def __init__(self, description: str, enabled: bool = True) -> None:
        self.description = description
        self.enabled = enabled
        self.progress: Progress | None = None
        self.bar = None
        self.last: dict[str, float] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        if self.enabled and state.is_world_process_zero:
            # transient where the bar cannot redraw (a log file, CI): there the per-log lines below tell the story,
            # and the bar's last frame would only repeat them as one stray, wrapped line
            console = Console()
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                     console=console, transient=not console.is_terminal)
            self.progress.start()
            self.bar = self.progress.add_task(self.description, total=state.max_steps, info="",
                                              completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            info = "  ".join(f"{k} {v:.4g}" for k, v in self.last.items())
            self.progress.update(self.bar, completed=state.global_step, info=info)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            self.last = {k: v for k, v in logs.items() if isinstance(v, float)
                         and (k in {"loss", "learning_rate"} or k.startswith(("loss_", "margin_", "acc_")))}
        if self.progress is not None and not self.progress.console.is_terminal and self.last:
            # a log file or CI: a bar does not redraw there, so write a line per logging step
            info = "  ".join(f"{k} {v:.4g}" for k, v in self.last.items())
            self.progress.console.print(f"{self.description} step {state.global_step}/{state.max_steps}  {info}",
                                        soft_wrap=True, highlight=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
