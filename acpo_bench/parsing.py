"""Yes/no answer parsing: the leading yes or no after punctuation and filler; anything else is invalid."""

from __future__ import annotations

import re
from typing import Literal

YesNo = Literal["yes", "no", "invalid"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_YES = frozenset({"yes", "yeah", "yep", "yup", "correct", "true", "affirmative"})
_NO = frozenset({"no", "nope", "false", "incorrect", "negative"})
# leading phrases that carry no answer ("Answer: yes", "Well, I think no")
_FILLER = (("the", "answer", "is"), ("my", "answer", "is"), ("i", "would", "say"), ("i", "think"), ("i", "believe"),
           ("answer",), ("assistant",), ("well",), ("um",), ("uh",), ("hmm",), ("so",), ("okay",), ("ok",),
           ("sure",))
# leading phrases that mean "no" ("There is no dog.", "I don't hear a dog.")
_NEGATIVE_OPENINGS = (("there", "is", "no"), ("there's", "no"), ("there", "are", "no"), ("there", "is", "not"),
                      ("there", "isn't"), ("there", "aren't"), ("there", "are", "not"), ("not",), ("none",),
                      ("nothing",),
                      *((*subject, verb) for subject in (("i", "don't"), ("i", "do", "not"), ("i", "cannot"),
                                                         ("i", "can't")) for verb in ("hear", "see")))


def parse_yes_no(text: str | None) -> YesNo:
    """``"Yes."`` -> yes; ``"Answer: no, ..."`` -> no; ``"There is no dog"`` -> no; ``"Maybe"`` -> invalid."""
    if not text:
        return "invalid"
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    stripped = True
    while stripped and words:
        stripped = False
        for phrase in _FILLER:
            if tuple(words[: len(phrase)]) == phrase and len(words) > len(phrase):
                words = words[len(phrase):]
                stripped = True
                break
    if not words:
        return "invalid"
    if words[0] in _YES:
        return "yes"
    if words[0] in _NO:
        return "no"
    if any(tuple(words[: len(p)]) == p for p in _NEGATIVE_OPENINGS):
        return "no"
    return "invalid"
