"""Yes/no accuracy during the embedded models' SFT, logged beside the loss.

The SFT loss is a token mean over every answer, and the captions' many easy tokens dominate it: a real-media build
whose yes/no answers never left chance ended at a loss of 0.44, against 0.41 for one that answered 0.87 of them
(docs/models.md). So the trainer also asks a fixed set of yes/no questions at each logging step, half about sounds
and half about visible objects, and logs how often the likelier of "yes" and "no" is the right one
(``acc_yes_no_sound``, ``acc_yes_no_visible``): 0.5 is chance, and a run that stays there shows it while it trains.
The questions are fresh draws about the training world's own clips (a check that the answers depend on the media
at all, not a held-out score: the evaluation tasks give that).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
from accelerate.utils import send_to_device

from acpo_bench.clips import ClipSet
from acpo_bench.models.qwen_omni.features import MediaInputs
from acpo_bench.training.sft_tiny import Example, SFTData, answer_logps, yes_no_question

KINDS = ("sound_of", "visible")
ROWS_PER_FORWARD = 64


class YesNoCheck:
    """``questions`` yes/no questions (half per kind) about random clips of ``clips``; call with an AnswerScorer."""

    def __init__(self, clips: ClipSet, media: Sequence[MediaInputs], processor, collator: Callable,
                 questions: int, seed: int) -> None:
        rng = random.Random(seed)
        classes = list(clips.lexicon.classes)
        self.kinds = [KINDS[n % 2] for n in range(questions)]
        asked = []
        for kind in self.kinds:
            index = rng.randrange(len(clips.clips))
            asked.append(yes_no_question(rng, index, clips.clips[index], classes, kind))
        # each question twice, answered "yes" and answered "no": the right answer should be the likelier
        rows = [Example(q.clip, q.prompt, answer) for q in asked for answer in ("yes", "no")]
        self.items = list(SFTData(rows, media, processor))
        self.truth_is_yes = torch.tensor([q.answer == "yes" for q in asked])
        self.collator = collator

    @torch.no_grad()
    def __call__(self, scorer) -> dict[str, float]:
        was_training = scorer.training
        scorer.eval()
        device = next(scorer.parameters()).device  # where the Trainer put the model (the collator builds on CPU)
        sums = []
        for start in range(0, len(self.items), ROWS_PER_FORWARD):
            batch = send_to_device(self.collator(self.items[start:start + ROWS_PER_FORWARD]), device)
            row_sums, _ = answer_logps(scorer, batch)
            sums.append(row_sums.cpu())
        scorer.train(was_training)
        yes_no = torch.cat(sums).view(-1, 2)  # (questions, [log p(yes), log p(no)])
        right = (yes_no[:, 0] > yes_no[:, 1]) == self.truth_is_yes
        return {f"acc_yes_no_{kind.removesuffix('_of')}": right[[k == kind for k in self.kinds]].float().mean().item()
                for kind in KINDS}
