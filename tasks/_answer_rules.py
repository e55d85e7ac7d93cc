"""Yes/no answer rules of third-party scorers, kept beside the project's strict parser so numbers compare with papers.

Each rule maps (reply, expected label) to the answer it reads and whether that counts as correct:

- ``strict`` (the project's, :func:`acpo_bench.parsing.parse_yes_no`): the leading yes/no after filler; anything
  else is invalid (wrong).
- ``lenient`` (a popular third-party AVHBench scorer): correct when the expected label word appears anywhere in the
  lower-cased reply, so "no" matches "not", "cannot" and "nothing".
- ``first5`` (CMM's official ``calculate_score.py``): correct when the expected label occurs in the first five
  characters of the stripped, lower-cased reply ("not a" counts as "no").

For the label-dependent rules the recorded answer is the expected label when the rule counts the reply correct,
the other label when that one is found instead, else ``invalid``: precision, recall, F1 and yes-ratio then follow
the rule's own judgement.
"""

from __future__ import annotations

from collections.abc import Callable

from acpo_bench.parsing import parse_yes_no

Rule = Callable[[str | None, str], tuple[str, bool]]
OTHER = {"yes": "no", "no": "yes"}


def strict(text: str | None, expected: str) -> tuple[str, bool]:
    answer = parse_yes_no(text)
    return answer, answer == expected


def _contains(window: Callable[[str], str]) -> Rule:
    def rule(text: str | None, expected: str) -> tuple[str, bool]:
        seen = window((text or "").strip().lower())
        if expected in seen:
            return expected, True
        return (OTHER[expected], False) if OTHER[expected] in seen else ("invalid", False)
    return rule


lenient = _contains(lambda text: text)
first5 = _contains(lambda text: text[:5])

RULES: dict[str, Rule] = {"strict": strict, "lenient": lenient, "first5": first5}
DESCRIPTIONS = {
    "strict": "leading yes/no after filler (acpo-bench's parser); anything else is invalid",
    "lenient": "label word anywhere in the reply (third-party AVHBench scorer; 'no' matches 'not')",
    "first5": "label within the first 5 characters (CMM's official calculate_score.py)",
}
