import numpy as np
import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from acpo_bench.metrics import ClipBootstrap, binary_metrics, breakdown, compute, paraphrase_spread, rate
from acpo_bench.schemas import SampleRecord


def record(clip: str, expected: str, answer: str, paraphrase: int = 0, target: str = "dog", **kw) -> SampleRecord:
    fields = dict(probe_id=f"{clip}-{expected}-{answer}-{paraphrase}-{target}", task="t", clip_id=clip,
                  condition="own", setting=None, groups=("random",), kind="yes_no", modality="audio",
                  question="sound_of", paraphrase=paraphrase, prompt="?", target=target, expected=expected,
                  visible=(), audible=(), response=answer, scored_by="loglik", answer=answer,
                  correct=answer == expected, why="", error=None)
    fields.update(kw)
    return SampleRecord(**fields)


def test_binary_metrics_on_hand_worked_counts():
    """TP=3, FN=1, FP=2, TN=3, one invalid answer on a negative (counts as FP): 10 records.

    accuracy = (3+3)/10 = 0.6 (the invalid one is wrong); precision = 3/(3+2+1) = 0.5; recall = 3/4 = 0.75;
    F1 = 2*3/(2*3+3+1) = 0.6; yes-ratio = 5/10 (the invalid answer is not a yes); invalid rate = 0.1.
    """
    records = ([record("a", "yes", "yes")] * 3 + [record("b", "yes", "no")] + [record("c", "no", "yes")] * 2
               + [record("d", "no", "no")] * 2 + [record("e", "no", "no")] + [record("f", "no", "invalid")])
    values, _ = compute(records, binary_metrics("random", lambda r: True), ClipBootstrap("abcdef", seed=0))
    got = {k: v.value for k, v in values.items()}
    assert got == pytest.approx({"random_accuracy": 0.6, "random_precision": 0.5, "random_recall": 0.75,
                                 "random_f1": 0.6, "random_yes_ratio": 0.5, "random_invalid_rate": 0.1})


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(3)
    records = [record(f"c{i % 17}", rng.choice(["yes", "no"]), rng.choice(["yes", "no", "invalid"], p=[.45, .45, .1]),
                      paraphrase=i) for i in range(400)]
    values, _ = compute(records, binary_metrics("", lambda r: True), ClipBootstrap([f"c{i}" for i in range(17)], 0))
    y_true = [r.expected == "yes" for r in records]
    y_pred = [r.answer == "yes" or (r.answer == "invalid" and r.expected == "no") for r in records]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary")
    assert values["accuracy"].value == pytest.approx(accuracy_score(y_true, y_pred))
    assert (values["precision"].value, values["recall"].value, values["f1"].value) == pytest.approx((p, r, f))


def test_ci_resamples_clips_not_probes():
    """30 clips, each with 20 identical answers: a probe-level bootstrap would give a CI ~4.5x too narrow."""
    records = [record(f"c{i}", "yes", "yes" if i % 2 else "no", paraphrase=k) for i in range(30) for k in range(20)]
    metric = rate("acc", True, lambda r: True, lambda r: bool(r.correct))
    values, reps = compute(records, [metric], ClipBootstrap([f"c{i}" for i in range(30)], 1))
    lo, hi = values["acc"].ci95
    assert values["acc"].value == 0.5 and lo < 0.5 < hi
    # clip-level standard error of a mean of 30 coin-like clips is sqrt(.25/30) = 0.091 -> CI half-width ~0.18
    assert 0.25 < hi - lo < 0.45
    assert reps["acc"].shape == (1000,)


def test_shared_resamples_are_deterministic():
    ids = [f"c{i}" for i in range(10)]
    assert np.array_equal(ClipBootstrap(ids, 5).weights, ClipBootstrap(list(reversed(ids)), 5).weights)
    assert not np.array_equal(ClipBootstrap(ids, 5).weights, ClipBootstrap(ids, 6).weights)


def test_breakdowns_and_paraphrase_spread():
    records = [record("a", "yes", "yes", paraphrase=0, target="dog"), record("a", "yes", "no", paraphrase=1),
               record("b", "yes", "yes", paraphrase=0, target="cat"), record("b", "yes", "yes", paraphrase=1,
                                                                              target="cat")]
    metric = rate("acc", True, lambda r: True, lambda r: bool(r.correct))
    assert breakdown(records, [metric], lambda r: r.target) == {"cat": {"acc": 1.0}, "dog": {"acc": 0.5}}
    spread = paraphrase_spread(records, [metric])["acc"]
    assert spread == {"values": {"p0": 1.0, "p1": 0.5}, "spread": 0.5}


def test_error_records_are_not_scored():
    broken = record("a", "yes", "no", paraphrase=1)
    records = [record("a", "yes", "yes"), SampleRecord(**{**broken.to_json(), "error": "bad file", "answer": None,
                                                           "correct": None})]
    metric = rate("acc", True, lambda r: True, lambda r: bool(r.correct))
    values, _ = compute(records, [metric], ClipBootstrap(["a"], 0))
    assert values["acc"].value == 1.0 and values["acc"].n == 1


def test_metric_with_nothing_to_count_is_none():
    metric = rate("acc", True, lambda r: False, lambda r: True)
    values, reps = compute([record("a", "yes", "yes")], [metric], ClipBootstrap(["a"], 0))
    assert values["acc"].value is None and "acc" not in reps
