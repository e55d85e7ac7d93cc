"""Sound and object mentions in free text: a class lexicon (label names plus synonyms) with negation scopes.

No maintained library does negation-aware mention extraction without a downloaded language model (negspacy needs a
spaCy pipeline), so this is a small NegEx-style scanner: a cue ("no", "not", "without", "can't", ...) negates the
mentions that follow it in the same clause, and a cue right after a mention ("the dog is silent") negates it too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.;:!?,]")
PRE_NEGATION = frozenset({"no", "not", "without", "never", "none", "nor", "neither", "nothing", "cannot", "lack",
                          "lacks", "absence", "absent", "silent", "zero"})
POST_NEGATION = frozenset({"not", "silent", "absent", "quiet", "never", "mute", "muted", "inaudible", "without"})
SCOPE_END = frozenset({".", ";", ":", "!", "?", "but", "however", "though", "although", "yet", "whereas", "except",
                       "instead", "only", "apart", "besides", "while"})
LIST_CONTINUE = frozenset({"or", "nor", "and"})
GENERIC_SOUND = ("sound", "noise", "music", "voice", "speech", "talking", "hum", "humming", "buzz", "buzzing", "beep",
                 "beeping", "tone", "rumble", "rumbling", "something", "audio content", "ringing", "clicking")
POST_WINDOW = 4


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def _is_negation(token: str, cues: frozenset[str]) -> bool:
    return token in cues or token.endswith("n't")


def surface_variants(form: str) -> set[str]:
    """A form and its plural: what the lexicon matches for it."""
    words = form.lower().split()
    out = {" ".join(words)}
    last = words[-1]
    plural = last + ("es" if last.endswith(("s", "sh", "ch", "x")) else "s")
    out.add(" ".join(words[:-1] + [plural]))
    return out


@dataclass(frozen=True)
class Mention:
    label: str
    start: int
    negated: bool


class Scanner:
    """Finds surface forms (longest first) in token streams and marks the negated ones."""

    def __init__(self, forms: dict[str, str]) -> None:
        self._forms = {tuple(surface.split()): label for surface, label in forms.items()}
        self._max_len = max((len(k) for k in self._forms), default=1)

    def scan(self, text: str) -> list[Mention]:
        tokens = tokenize(text)
        found: list[Mention] = []
        negated_scope = False
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok in SCOPE_END:
                negated_scope = False
            elif tok == ",":
                nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
                if negated_scope and not (nxt in LIST_CONTINUE or self._match(tokens, i + 1)):
                    negated_scope = False
            elif _is_negation(tok, PRE_NEGATION):
                negated_scope = True
            match = self._match(tokens, i)
            if match:
                label, length = match
                negated = negated_scope or self._post_negated(tokens, i + length)
                found.append(Mention(label, i, negated))
                i += length
                continue
            i += 1
        return found

    def _match(self, tokens: list[str], i: int) -> tuple[str, int] | None:
        for length in range(min(self._max_len, len(tokens) - i), 0, -1):
            label = self._forms.get(tuple(tokens[i:i + length]))
            if label is not None:
                return label, length
        return None

    def _post_negated(self, tokens: list[str], j: int) -> bool:
        for k in range(j, min(j + POST_WINDOW, len(tokens))):
            tok = tokens[k]
            if tok in SCOPE_END or tok == "," or self._match(tokens, k):
                return False
            if _is_negation(tok, POST_NEGATION):
                return True
        return False


class Lexicon:
    """Class names and their synonyms; ``mentions`` returns the classes a text asserts (negated ones dropped)."""

    def __init__(self, synonyms: dict[str, list[str] | tuple[str, ...]]) -> None:
        self.synonyms = {label: tuple(dict.fromkeys([label, *forms])) for label, forms in sorted(synonyms.items())}
        forms: dict[str, str] = {}
        for label, words in self.synonyms.items():
            for word in words:
                for variant in surface_variants(word):
                    owner = forms.setdefault(variant, label)
                    if owner != label:
                        raise ValueError(f"synonym {variant!r} is claimed by both {owner!r} and {label!r}")
        self._scanner = Scanner(forms)
        self._generic = Scanner({v: "sound" for g in GENERIC_SOUND for v in surface_variants(g)})

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.synonyms)

    def mentions(self, text: str) -> tuple[str, ...]:
        found = self._scanner.scan(text)
        return tuple(sorted({m.label for m in found if not m.negated}))

    def asserts_sound(self, text: str) -> bool:
        """True when a text claims some sound is present: a class mention or a non-negated generic sound word."""
        if self.mentions(text):
            return True
        return any(not m.negated for m in self._generic.scan(text))

    def with_synonyms(self, extra: dict[str, list[str]]) -> Lexicon:
        merged = {label: list(forms) for label, forms in self.synonyms.items()}
        for label, forms in extra.items():
            merged.setdefault(label, []).extend(forms)
        return Lexicon(merged)

    def to_json(self) -> dict[str, list[str]]:
        return {label: list(forms) for label, forms in self.synonyms.items()}

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the lexicon ({exc}); "
                             "expected JSON {label: [synonym, ...]}") from None
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ValueError(f"{path}: a lexicon is a JSON object mapping each label to a list of synonyms")
        return cls(data)
