"""Per-probe scoring shared by tasks: yes/no answers and the sound mentions of open answers."""

from __future__ import annotations

from acpo_bench.lexicon import Lexicon
from acpo_bench.parsing import parse_yes_no
from acpo_bench.schemas import Probe, Response, SampleRecord, scored_record


def score_yes_no(probe: Probe, response: Response) -> SampleRecord:
    answer = parse_yes_no(response.text)
    if answer == "invalid":
        why = f"no leading yes/no in {response.text[:60]!r}: counted as wrong"
        return scored_record(probe, response, answer, False, why)
    correct = answer == probe.expected
    return scored_record(probe, response, answer, correct, f"said {answer}, expected {probe.expected}")


def score_mentions(probe: Probe, response: Response, lexicon: Lexicon) -> SampleRecord:
    """Open and caption answers: the classes mentioned (negations dropped); correctness is left to the metrics."""
    mentions = lexicon.mentions(response.text)
    truth = set(probe.audible if probe.modality == "audio" else probe.visible)
    extra = {"asserts_sound": lexicon.asserts_sound(response.text)} if probe.modality == "audio" else {}
    if probe.references:  # kept in the record so caption metrics can be recomputed from the samples alone
        extra.update(references=list(probe.references), distractors=list(probe.distractors))
    why = f"mentions {list(mentions) or 'nothing'}; true {probe.modality} set {sorted(truth) or 'empty'}"
    return scored_record(probe, response, mentions, None, why, **extra)


def score_probe(probe: Probe, response: Response, lexicon: Lexicon) -> SampleRecord:
    if probe.kind == "yes_no":
        return score_yes_no(probe, response)
    return score_mentions(probe, response, lexicon)
