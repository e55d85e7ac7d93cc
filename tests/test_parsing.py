import pytest
from hypothesis import given
from hypothesis import strategies as st

from acpo_bench.parsing import parse_yes_no


@pytest.mark.parametrize(("text", "expected"), [
    ("Yes.", "yes"), ("yes", "yes"), ("YES, there is a dog barking.", "yes"), ("Yeah", "yes"),
    ("No.", "no"), ("no, I don't hear it", "no"), ("Nope", "no"),
    ("Answer: yes", "yes"), ("The answer is no.", "no"), ("Well, I think yes.", "yes"), ("  **No**", "no"),
    ("There is no dog in the audio.", "no"), ("There's no sound of a bell.", "no"), ("I don't hear a bell.", "no"),
    ("There are no birds.", "no"),
    ("Maybe.", "invalid"), ("There is a dog.", "invalid"), ("", "invalid"), (None, "invalid"),
    ("I cannot tell", "invalid"),
    ("I can't see a dog.", "no"), ("I do not hear it", "no"), ("The dog barks", "invalid"), ("Answer:", "invalid"),
])
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) == expected


@given(st.text(max_size=200))
def test_parse_is_total(text):
    assert parse_yes_no(text) in {"yes", "no", "invalid"}


@given(st.sampled_from(["yes", "no"]), st.sampled_from(["", ".", "!", ",", " it is", ", definitely."]),
       st.sampled_from(["", "Answer: ", "Well, ", "I think "]))
def test_leading_answer_wins_whatever_surrounds_it(answer, tail, head):
    assert parse_yes_no(f"{head}{answer.capitalize()}{tail}") == answer
