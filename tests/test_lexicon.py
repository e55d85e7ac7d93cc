import pytest
from hypothesis import given
from hypothesis import strategies as st

from acpo_bench.lexicon import Lexicon
from acpo_bench.synth.sources import synonyms

LEX = Lexicon({"dog": ["bark", "barking", "woof"], "bell": ["chime", "ding"], "cat": ["meow"],
               "church bell": ["toll"]})


@pytest.mark.parametrize(("text", "expected"), [
    ("I hear a dog barking and a bell.", ("bell", "dog")),
    ("Woof! Woof!", ("dog",)),
    ("Dogs and cats.", ("cat", "dog")),
    ("There is no dog barking.", ()),
    ("No dog, cat or bell.", ()),
    ("no dogs, cats, or bells", ()),
    ("I do not hear a dog, only a bell.", ("bell",)),
    ("no dog barking, a bell rings", ("bell",)),
    ("The dog is silent but the bell chimes", ("bell",)),
    ("The dog is not barking.", ()),
    ("I can't hear any dog; a cat meows.", ("cat",)),
    ("Without a dog, just a bell", ("bell",)),
    ("a church bell tolls", ("church bell",)),
    ("I hear no sound.", ()),
    ("", ()),
])
def test_mentions_with_negation(text, expected):
    assert LEX.mentions(text) == expected


@pytest.mark.parametrize(("text", "asserts"), [
    ("I hear no sound.", False), ("Silence.", False), ("I cannot tell.", False), ("There is nothing to hear.", False),
    ("A faint humming noise.", True), ("I hear a dog.", True), ("I can hear something.", True),
    ("No sound at all, it is silent.", False),
])
def test_asserts_sound(text, asserts):
    assert LEX.asserts_sound(text) is asserts


def test_conflicting_synonyms_are_refused():
    with pytest.raises(ValueError, match="claimed by both"):
        Lexicon({"bell": ["ring"], "phone": ["ring"]})


def test_user_synonyms_extend_the_lexicon():
    extended = LEX.with_synonyms({"dog": ["hound"], "owl": ["hoot"]})
    assert extended.mentions("a hound and a hoot") == ("dog", "owl")


def test_synthetic_lexicon_is_unambiguous():
    lexicon = Lexicon(synonyms())
    assert len(lexicon.classes) >= 12
    for label, forms in lexicon.synonyms.items():
        for form in forms:
            assert lexicon.mentions(f"I hear {form}.") == (label,)


@given(st.lists(st.sampled_from(["dog", "bell", "cat"]), min_size=1, max_size=3, unique=True))
def test_listed_classes_are_found_and_negated_lists_are_not(labels):
    listed = ", ".join(labels)
    assert LEX.mentions(f"I hear {listed}.") == tuple(sorted(labels))
    assert LEX.mentions(f"There is no {' or '.join(labels)}.") == ()


@given(st.text(max_size=300))
def test_mentions_are_total_and_known(text):
    assert set(LEX.mentions(text)) <= set(LEX.classes)
