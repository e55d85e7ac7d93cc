"""A third-party plugin as users would write one: a task and a model registered through entry points."""

import os
import time

from acpo_bench.metrics import rate
from acpo_bench.models.reference import AudioOracle
from acpo_bench.schemas import AudioRecipe, Probe
from acpo_bench.task import Task, summarize

PROMPTS = ("Is there any sound?", "Can you hear anything?", "Does the clip make a sound?")


def build(clips, seed):
    return [Probe(task="any_sound_own", clip_id=c.clip_id, video=c.video, video_id=c.content_id,
                  audio=AudioRecipe("own"), kind="yes_no", modality="audio", question="any_sound", prompt=prompt,
                  paraphrase=i, visible=c.visible, audible=c.audible, condition="own",
                  expected="yes" if c.audible else "no")
            for c in clips.clips for i, prompt in enumerate(PROMPTS)]


def aggregate(records, bootstrap):
    return summarize(records, [rate("accuracy", True, lambda r: True, lambda r: bool(r.correct))], bootstrap)


TASK = Task(name="any_sound_own", version=1, description="demo plugin: is there any sound (own audio)",
            build=build, aggregate=aggregate, headline=("accuracy",))


class SlowOracle(AudioOracle):
    """The audio oracle, slowed down so a test can kill a run midway. With $ACPO_SLOW_ORACLE_LOG set, the probe id
    of every request it answers is appended there (flushed per call), so a test can tell what each run computed."""

    name = "slow-oracle"
    default_batch_size = 4

    def _log(self, requests):
        time.sleep(0.03)
        log = os.environ.get("ACPO_SLOW_ORACLE_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write("".join(r.probe.probe_id + "\n" for r in requests))

    def score_choices(self, requests, choices):
        self._log(requests)
        return super().score_choices(requests, choices)

    def generate(self, requests, max_new_tokens):
        self._log(requests)
        return super().generate(requests, max_new_tokens)


def load_slow_oracle(model_args, adapter=None):
    return SlowOracle()
