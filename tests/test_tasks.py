"""One contract over every registered task, plus the task-specific constructions."""

from collections import Counter, defaultdict

import pytest

from acpo_bench import registry
from acpo_bench.metrics import ClipBootstrap
from acpo_bench.schemas import Response
from acpo_bench.swaps import swap_partner, valid_swap
from acpo_bench.task import Task
from acpo_bench.tasks import BUILTIN
from acpo_bench.tasks.suites import SUITES

# tasks on clip datasets; benchmarks with their own files (avhbench, cmm) are tested in test_benchmarks.py
TASKS = {name: task for name, target in BUILTIN.items() if (task := registry.resolve(target)).load_data is None}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_contract(name, small_world):
    task = TASKS[name]
    assert isinstance(task, Task) and task.name == name and task.version >= 1
    probes = task.build(small_world, 0)
    assert probes, "a task must ask something on a world of 24 clips"
    assert probes == task.build(small_world, 0), "building is deterministic"
    ids = Counter(p.probe_id for p in probes)
    assert max(ids.values()) == 1, "probe ids are unique within a task"
    by_question = defaultdict(set)
    for p in probes:
        assert p.task == name
        if p.kind == "yes_no":
            assert p.expected in ("yes", "no")
            assert p.target is None or p.target in p.prompt
        by_question[(p.clip_id, p.condition, p.question, p.target)].add(p.paraphrase)
    assert all(len(paras) >= 3 for paras in by_question.values()), "every question in >= 3 paraphrases"
    # aggregate runs on answers and reports its headline metrics
    records = [task.score(p, Response("Yes." if p.kind == "yes_no" else "I hear a dog.", "generate"),
                          small_world.lexicon) for p in probes]
    summary = task.aggregate(records, ClipBootstrap([c.clip_id for c in small_world.clips], 0))
    for metric in task.headline:
        assert metric in summary.metrics
    assert summary.per_paraphrase


def test_suites_name_registered_tasks():
    for suite in SUITES.values():
        assert set(suite.tasks) <= set(BUILTIN)
    assert SUITES["core"].clips < 200


def test_swap_partners_honour_the_design_constraints(small_world):
    clips = small_world.clips
    partners = [swap_partner(clips, i, seed=0) for i in range(len(clips))]
    assert sum(p is not None for p in partners) >= len(clips) - 2
    for clip, partner in zip(clips, partners, strict=True):
        if partner is not None:
            assert valid_swap(clip, partner)
            assert partner.audible and not set(partner.audible) & set(clip.visible)
            assert set(partner.audible) != set(clip.audible)
    assert partners == [swap_partner(clips, i, seed=0) for i in range(len(clips))]


def test_sound_presence_settings_are_balanced_and_well_formed(small_world):
    probes = [p for p in TASKS["sound_presence"].build(small_world, 0) if p.paraphrase == 0]
    for setting in ("random", "popular", "adversarial"):
        members = [p for p in probes if setting in p.groups]
        assert sum(p.expected == "yes" for p in members) == sum(p.expected == "no" for p in members)
    for p in probes:
        if p.expected == "yes":
            assert p.target in p.audible
        elif "adversarial" in p.groups:
            assert p.target in p.visible and p.target not in p.audible
        elif "random" in p.groups:
            assert p.target not in p.audible and p.target not in p.visible


def test_visual_presence_swapped_adversarial_negatives_are_the_swapped_in_sounds(small_world):
    probes = TASKS["visual_presence"].build(small_world, 0)
    adversarial = [p for p in probes if p.condition == "swapped" and "adversarial" in p.groups and p.expected == "no"]
    assert adversarial
    assert all(p.target in p.audible and p.target not in p.visible for p in adversarial)


def test_swapped_audio_probes(small_world):
    probes = TASKS["swapped_audio"].build(small_world, 0)
    vahr = [p for p in probes if p.condition == "swapped" and p.setting == "visible"]
    assert vahr and all(p.expected == "no" and p.target in p.visible for p in vahr)
    assert all(p.audio.kind == "swap" for p in probes if p.condition == "swapped")
    captions = [p for p in probes if p.kind == "caption"]
    assert {p.question for p in captions} == {"describe_audio", "describe_visual"}
    assert all(p.references and p.distractors for p in captions)
